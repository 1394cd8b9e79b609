"""The float16-weight kernel (`model/half_weights.py`): what F.linear gives, only where it applies, and
never stale after the weights change."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from model import half_weights
from model.half_weights import linear
from model.threads import SMALL_WORK_ROWS

pytestmark = pytest.mark.skipif(not half_weights._kernel_available(), reason="torch without fbgemm")


def _packed_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the kernel's calls from now on."""
    calls: list[int] = []
    kernel = torch.ops.quantized.linear_dynamic_fp16

    def counted(x, packed):
        calls.append(len(x))
        return kernel(x, packed)

    monkeypatch.setattr(half_weights.torch.ops.quantized, "linear_dynamic_fp16", counted)
    return calls


def test_the_shipped_text_encoder_runs_on_it_and_agrees_with_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    from model import load_retriever

    retriever = load_retriever("default")
    layer = retriever.model.text_encoder.layers[0].linear1
    x = torch.randn(9, layer.in_features, generator=torch.Generator().manual_seed(0))
    calls = _packed_calls(monkeypatch)
    with torch.inference_mode():
        fast, exact = linear(x, layer.weight, layer.bias), F.linear(x, layer.weight, layer.bias)
        retriever.encode_texts(["a person walks forward"])
    assert calls[0] == 9 and len(calls) > 20  # every linear layer of the TMR text encoder
    torch.testing.assert_close(fast, exact, atol=1e-5, rtol=1e-6)


def test_it_applies_only_to_float16_values_small_work_and_no_gradient(monkeypatch: pytest.MonkeyPatch) -> None:
    generator = torch.Generator().manual_seed(1)
    half_valued = torch.randn(64, 32, generator=generator).half().float().requires_grad_()
    full = torch.randn(64, 32, generator=generator)
    small, large = torch.randn(8, 32, generator=generator), torch.randn(SMALL_WORK_ROWS, 32, generator=generator)
    calls = _packed_calls(monkeypatch)
    with torch.no_grad():
        linear(small, full)  # float32 weights: torch's kernel
        linear(large, half_valued)  # large work: torch's kernel
        assert calls == []
        linear(small, half_valued)
        assert calls == [8]
    out = linear(small, half_valued)  # a gradient is wanted: torch's kernel, which has one
    out.sum().backward()
    assert calls == [8] and half_valued.grad is not None


def test_changed_weights_are_packed_again() -> None:
    generator = torch.Generator().manual_seed(2)
    weight, bias = torch.randn(16, 8, generator=generator).half().float(), torch.randn(16, generator=generator)
    x = torch.randn(4, 8, generator=generator)
    with torch.no_grad():
        before = linear(x, weight, bias)
        weight.mul_(2)  # as an optimizer step would, in place: float16 values still
        torch.testing.assert_close(linear(x, weight, bias), F.linear(x, weight, bias), atol=1e-5, rtol=1e-6)
        bias.add_(1)
        torch.testing.assert_close(linear(x, weight, bias), F.linear(x, weight, bias), atol=1e-5, rtol=1e-6)
        weight.add_(1e-4)  # no longer float16 values
        assert torch.equal(linear(x, weight, bias), F.linear(x, weight, bias))
    assert not torch.equal(before, linear(x, weight, bias))
