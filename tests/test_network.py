"""The network: torch-equivalent layers, padding invariance, decoder lengths, sampling."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from model import CheckpointError, Padded, TMRConfig, TrainBatch
from model.network import DecoderLayer, EncoderLayer, PositionalEncoding, sinusoidal_table
from tests.model_helpers import TINY, tiny_model


def _padded_mask(lengths: list[int]) -> torch.Tensor:
    return torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]


@pytest.mark.parametrize("training", [False, True])
def test_layers_compute_what_torch_transformer_layers_compute(training: bool) -> None:
    # With dropout 0 the training path is deterministic too, so both modes can be compared.
    config = TMRConfig(latent_dim=32, ff_size=64, num_heads=4, dropout=0.0)
    torch.manual_seed(0)
    x, memory, mask = torch.randn(3, 10, 32), torch.randn(3, 1, 32), _padded_mask([10, 6, 3])
    pairs = [
        (EncoderLayer(config), nn.TransformerEncoderLayer(32, 4, 64, 0.0, "gelu", batch_first=True)),
        (DecoderLayer(config), nn.TransformerDecoderLayer(32, 4, 64, 0.0, "gelu", batch_first=True)),
    ]
    for ours, theirs in pairs:
        assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
        ours.load_state_dict(theirs.state_dict())
        ours.train(training)
        theirs.train(training)
        if isinstance(ours, EncoderLayer):
            got, want = ours(x, mask[:, None, None, :]), theirs(x, src_key_padding_mask=~mask)
            torch.testing.assert_close(ours(x, mask[:, None, None, :], n_queries=2), got[:, :2])
        else:
            got, want = ours(x, memory, mask[:, None, None, :]), theirs(x, memory, tgt_key_padding_mask=~mask)
        torch.testing.assert_close(got * mask[..., None], want * mask[..., None], atol=1e-5, rtol=1e-5)


def test_sinusoidal_positions() -> None:
    table = sinusoidal_table(7, 6)
    for pos in range(7):
        for i in range(3):
            angle = pos / 10000 ** (2 * i / 6)
            assert table[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert table[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    # Longer than the precomputed table: computed on the fly, same values.
    encoding = PositionalEncoding(4, dropout=0.0)
    torch.testing.assert_close(encoding(torch.zeros(1, 5010, 4))[0], sinusoidal_table(5010, 4))


@pytest.mark.parametrize("seed", [0, 1])
def test_encoders_are_invariant_to_padding(seed: int) -> None:
    model = tiny_model(seed).eval()
    rng = np.random.default_rng(seed)
    motion, other = rng.normal(size=(23, 263)), rng.normal(size=(60, 263))
    tokens, long_tokens = rng.normal(size=(7, 384)), rng.normal(size=(19, 384))
    with torch.inference_mode():
        alone = model.encode_motions(Padded.from_sequences([motion]))
        beside = model.encode_motions(Padded.from_sequences([other, motion]))[1:]
        # Same frames, explicit extra padding filled with garbage: masked keys must not matter.
        noisy = Padded.from_sequences([np.concatenate([motion, rng.normal(size=(40, 263))])]).x
        garbage = model.encode_motions(Padded(noisy, (torch.arange(63) < 23)[None]))
        text_alone = model.encode_texts(Padded.from_sequences([tokens]))
        text_beside = model.encode_texts(Padded.from_sequences([long_tokens, tokens]))[1:]
    torch.testing.assert_close(beside, alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(garbage, alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(text_beside, text_alone, atol=1e-5, rtol=1e-5)


def test_decoder_returns_the_lengths_asked() -> None:
    model = tiny_model().eval()
    lengths = [5, 12, 1]
    with torch.inference_mode():
        motions = model.decode(torch.randn(3, TINY.latent_dim), lengths)
    assert motions.shape == (3, 12, TINY.n_feats)
    for row, length in enumerate(lengths):
        assert motions[row, :length].abs().sum(dim=-1).gt(0).all()
        assert motions[row, length:].eq(0).all()


def test_inference_only_model_cannot_decode() -> None:
    model = tiny_model()
    model.motion_decoder = None
    with pytest.raises(CheckpointError, match="no motion decoder"):
        model.decode(torch.randn(1, TINY.latent_dim), [4])


def test_latents_are_sampled_in_training_and_means_in_eval() -> None:
    model = tiny_model()
    rng = np.random.default_rng(0)
    batch = TrainBatch(
        Padded.from_sequences([rng.normal(size=(9, 263)), rng.normal(size=(4, 263))]),
        Padded.from_sequences([rng.normal(size=(5, 384)), rng.normal(size=(3, 384))]),
    )
    with torch.no_grad():
        model.eval()
        out = model.encode_decode(batch)
        torch.testing.assert_close(out.motion_z, model.encode_motions(batch.motions))
        torch.testing.assert_close(out.text_z, out.text_dist.mu)
        model.train()
        sampled = model.encode_decode(batch)
    assert not torch.allclose(sampled.motion_z, sampled.motion_dist.mu)


def test_similarity_is_the_scaled_cosine() -> None:
    a, b = torch.randn(4, 8), torch.randn(5, 8)
    scores = tiny_model().similarity(a, b)
    cos = torch.nn.functional.cosine_similarity(a[:, None], b[None], dim=-1)
    torch.testing.assert_close(scores, (cos + 1) / 2)
    assert scores.min() >= 0 and scores.max() <= 1


def test_default_config_is_the_paper_architecture() -> None:
    config = TMRConfig()
    assert (config.latent_dim, config.ff_size, config.num_layers, config.num_heads) == (256, 1024, 6, 4)
    assert (config.dropout, config.activation, config.vae, config.n_feats, config.fps) == (0.1, "gelu", True, 263, 20.0)
    assert TMRConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError):
        TMRConfig.from_dict({**config.to_dict(), "extra": 1})
    with pytest.raises(ValueError):
        TMRConfig(latent_dim=30, num_heads=4)
