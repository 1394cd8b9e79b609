"""The losses against direct computations (paper eq. 1, section 3.3) and their gradients."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from model import LossConfig, Padded, TrainBatch
from model.losses import Gaussian, InfoNCEWithFiltering, kl_divergence
from model.network import TMR
from model_helpers import TINY, tiny_model


def _direct_infonce(text: np.ndarray, motion: np.ndarray, tau: float, removed: set[tuple[int, int]]) -> float:
    """Eq. (1) written out with loops, skipping removed (text, motion) pairs in both denominators."""
    n = len(text)
    unit_text = [t / np.linalg.norm(t) for t in text]
    unit_motion = [m / np.linalg.norm(m) for m in motion]
    cos = [[float(unit_text[i] @ unit_motion[j]) for j in range(n)] for i in range(n)]
    total = 0.0
    for i in range(n):
        rows = sum(math.exp(cos[i][j] / tau) for j in range(n) if (i, j) not in removed)
        cols = sum(math.exp(cos[j][i] / tau) for j in range(n) if (j, i) not in removed)
        total += math.log(math.exp(cos[i][i] / tau) / rows) + math.log(math.exp(cos[i][i] / tau) / cols)
    return -total / (2 * n)


def _sentences_with_cosines(pairs: dict[tuple[int, int], float], n: int, dim: int = 8) -> torch.Tensor:
    """Unit vectors whose Gram matrix has the given off-diagonal cosines and 0 elsewhere."""
    gram = np.eye(n)
    for (i, j), value in pairs.items():
        gram[i, j] = gram[j, i] = value
    vectors = np.linalg.cholesky(gram)  # rows have exactly this Gram matrix
    return torch.tensor(np.pad(vectors, ((0, 0), (0, dim - n))), dtype=torch.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_infonce_equals_direct_computation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    text, motion = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    loss = InfoNCEWithFiltering(temperature=0.1)(torch.tensor(text), torch.tensor(motion))
    assert loss.item() == pytest.approx(_direct_infonce(text, motion, 0.1, set()), rel=1e-9)


def test_filtered_pairs_are_removed_from_denominators_not_made_positive() -> None:
    rng = np.random.default_rng(3)
    text, motion = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    # Captions 0 and 1 have cos 0.7 (score 0.85 > 0.8): filtered; 2 and 3 have cos 0.5 (score 0.75): kept.
    sentences = _sentences_with_cosines({(0, 1): 0.7, (2, 3): 0.5}, n=5)
    nce = InfoNCEWithFiltering(temperature=0.1, threshold=0.8)
    expected_mask = torch.zeros(5, 5, dtype=torch.bool)
    expected_mask[0, 1] = expected_mask[1, 0] = True
    assert torch.equal(nce.filtered_pairs(sentences), expected_mask)

    loss = nce(torch.tensor(text), torch.tensor(motion), sentences.double()).item()
    assert loss == pytest.approx(_direct_infonce(text, motion, 0.1, {(0, 1), (1, 0)}), rel=1e-9)
    assert loss != pytest.approx(_direct_infonce(text, motion, 0.1, set()), rel=1e-6)
    logits = nce.get_logits(torch.tensor(text), torch.tensor(motion), sentences.double())
    assert torch.isinf(logits[0, 1]) and torch.isinf(logits[1, 0]) and torch.isfinite(logits.diagonal()).all()


def test_filtering_everything_off_diagonal_leaves_a_finite_zero_loss() -> None:
    sentences = torch.nn.functional.normalize(torch.ones(4, 8), dim=-1)  # identical captions
    z = torch.randn(4, 16, requires_grad=True)
    loss = InfoNCEWithFiltering(0.1, 0.8)(z, torch.randn(4, 16), sentences)
    loss.backward()
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    assert torch.isfinite(z.grad).all()


def test_symmetric_terms_agree() -> None:
    torch.manual_seed(0)
    text, motion = torch.randn(7, 6, dtype=torch.float64), torch.randn(7, 6, dtype=torch.float64)
    sentences = torch.nn.functional.normalize(torch.randn(7, 5, dtype=torch.float64), dim=-1)
    nce = InfoNCEWithFiltering(0.1, 0.8)
    torch.testing.assert_close(nce.get_logits(text, motion, sentences).T, nce.get_logits(motion, text, sentences))
    assert nce(text, motion, sentences).item() == pytest.approx(nce(motion, text, sentences).item(), rel=1e-12)
    logits = nce.get_logits(text, motion, sentences)
    labels = nce.get_ground_truth(7, logits.device)
    t2m = torch.nn.functional.cross_entropy(logits, labels)
    m2t = torch.nn.functional.cross_entropy(nce.get_logits(motion, text, sentences), labels)
    assert nce(text, motion, sentences).item() == pytest.approx(((t2m + m2t) / 2).item(), rel=1e-12)


def test_kl_matches_torch_distributions() -> None:
    torch.manual_seed(0)
    q = Gaussian(torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64))
    p = Gaussian(torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64))
    normal = torch.distributions.Normal
    expected = torch.distributions.kl_divergence(
        normal(q.mu, (0.5 * q.logvar).exp()), normal(p.mu, (0.5 * p.logvar).exp())
    )
    assert kl_divergence(q, p).item() == pytest.approx(expected.mean().item(), rel=1e-12)
    assert kl_divergence(q, q).item() == pytest.approx(0.0, abs=1e-12)


def _batch(seed: int = 0, size: int = 4) -> TrainBatch:
    rng = np.random.default_rng(seed)
    motions = [rng.normal(size=(int(n), 263)).astype(np.float32) for n in rng.integers(5, 20, size)]
    tokens = [torch.tensor(rng.normal(size=(int(n), 384)), dtype=torch.float32) for n in rng.integers(3, 9, size)]
    sentences = torch.nn.functional.normalize(torch.tensor(rng.normal(size=(size, 16)), dtype=torch.float32), dim=-1)
    return TrainBatch(Padded.from_sequences(motions), Padded.from_sequences(tokens), sentences)


def test_named_losses_and_weighted_total() -> None:
    model = tiny_model()
    losses = model(_batch())
    assert set(losses) == {"recons", "kl", "latent", "contrastive", "loss"}
    weights = LossConfig().weights
    total = sum(weights[name] * losses[name] for name in losses if name != "loss")
    assert losses["loss"].item() == pytest.approx(total.item(), rel=1e-6)
    assert weights == {"recons": 1.0, "kl": 1e-5, "latent": 1e-5, "contrastive": 0.1, "cross_rig": 0.0}


def test_partners_add_a_cross_rig_term_on_their_rows_only() -> None:
    """The term is InfoNCE between the motion latents of the rows with a partner and the partners'
    latents: two partners that are the rows' own motions score lower than two swapped ones."""
    torch.manual_seed(0)
    model = TMR(TINY, loss=LossConfig(cross_rig=0.5)).eval()  # eval: latents are means, no sampling
    batch = _batch(size=4)
    rows = torch.tensor([1, 3])
    own = [batch.motions.x[i, : int(batch.motions.lengths[i])] for i in rows]
    aligned = model(dataclasses.replace(batch, partners=Padded.from_sequences(own), partner_rows=rows))
    swapped = model(dataclasses.replace(batch, partners=Padded.from_sequences(own[::-1]), partner_rows=rows))
    assert "cross_rig" not in model(batch)
    assert aligned["cross_rig"] < swapped["cross_rig"]
    latents = model.encode_motions(batch.motions)[rows]
    expected = model.criterion.contrastive(latents, latents, batch.sentence_emb[rows])
    assert aligned["cross_rig"].item() == pytest.approx(expected.item(), rel=1e-5)
    without = sum(LossConfig().weights[n] * aligned[n] for n in aligned if n not in ("loss", "cross_rig"))
    assert aligned["loss"].item() == pytest.approx((without + 0.5 * aligned["cross_rig"]).item(), rel=1e-6)


def test_without_vae_there_is_no_kl() -> None:
    losses = tiny_model(vae=False)(_batch())
    assert set(losses) == {"recons", "latent", "contrastive", "loss"}


def test_every_loss_gives_finite_gradients_to_every_parameter() -> None:
    model = tiny_model().train()
    losses = model(_batch())
    for name in ("recons", "kl", "latent", "contrastive"):
        model.zero_grad()
        losses[name].backward(retain_graph=True)
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads), name
    model.zero_grad()
    losses["loss"].backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
