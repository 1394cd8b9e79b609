"""The CPU dropout: torch's rate, scaling and gradient, repeatable under a seed, and attention that
computes what SDPA computes."""

from __future__ import annotations

import math

import pytest
import torch

from model.dropout import Dropout, attention_with_dropout, cpu_keep_mask, dropout
from model.network import MultiheadAttention


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_mask_keeps_one_minus_p_of_the_elements(p: float) -> None:
    torch.manual_seed(0)
    n = 1_000_003  # not a multiple of the four lanes a draw gives
    kept = cpu_keep_mask((n,), p).double().mean().item()
    sigma = math.sqrt(p * (1 - p) / n)
    assert abs(kept - (1 - p)) < 5 * sigma


def test_lanes_are_independent_of_each_other() -> None:
    # Every lane of a 64-bit draw must be uniform on its own, the top one (15 random bits) included.
    torch.manual_seed(1)
    mask = cpu_keep_mask((250_000, 4), 0.5).double()
    for lane in range(4):
        assert abs(mask[:, lane].mean().item() - 0.5) < 5 * math.sqrt(0.25 / 250_000)
    agreement = (mask[:, 0] == mask[:, 1]).double().mean().item()
    assert abs(agreement - 0.5) < 5 * math.sqrt(0.25 / 250_000)


def test_dropout_scales_kept_values_and_zeroes_the_rest() -> None:
    torch.manual_seed(2)
    x = torch.rand(64, 50, 32) + 1.0  # no zeros of its own
    y = dropout(x, 0.25, training=True)
    kept = y != 0
    torch.testing.assert_close(y[kept], x[kept] / 0.75)
    assert 0.70 < kept.double().mean().item() < 0.80


def test_gradient_flows_through_kept_elements_only() -> None:
    torch.manual_seed(3)
    x = torch.randn(16, 40, requires_grad=True)
    y = dropout(x, 0.3, training=True)
    y.sum().backward()
    expected = (y != 0).float() / 0.7
    torch.testing.assert_close(x.grad, expected)


def test_seeded_masks_repeat_and_eval_is_identity() -> None:
    layer = Dropout(0.1)
    x = torch.randn(8, 100)
    torch.manual_seed(4)
    first = layer(x)
    torch.manual_seed(4)
    torch.testing.assert_close(layer(x), first)
    assert not torch.equal(layer(x), first)  # the stream moves on
    layer.eval()
    assert layer(x) is x
    assert dropout(x, 0.0, training=True) is x


def test_bf16_inputs_keep_their_dtype() -> None:
    x = torch.randn(4, 10, dtype=torch.bfloat16)
    assert dropout(x, 0.1, training=True).dtype == torch.bfloat16


def test_cpu_attention_path_is_sdpa_without_dropout() -> None:
    torch.manual_seed(5)
    q, k, v = torch.randn(3, 4, 7, 4), torch.randn(3, 4, 9, 4), torch.randn(3, 4, 9, 4)
    mask = (torch.arange(9)[None, :] < torch.tensor([9, 5, 2])[:, None])[:, None, None, :]
    want = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(attention_with_dropout(q, k, v, mask, 0.0), want)


def test_attention_with_dropout_is_unbiased() -> None:
    # Averaged over many masks, training-mode attention approaches the deterministic one.
    torch.manual_seed(6)
    attention = MultiheadAttention(16, 4, dropout=0.2)
    x = torch.randn(1, 6, 16)
    want = attention.eval()(x, x)
    attention.train()
    with torch.no_grad():
        mean = torch.stack([attention(x, x) for _ in range(4000)]).mean(0)
    torch.testing.assert_close(mean, want, atol=0.03, rtol=0)
