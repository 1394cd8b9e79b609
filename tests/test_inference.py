"""The numpy facade: unit-norm float32 embeddings in input order, whatever the batching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model import (
    Checkpoint,
    Normalizer,
    Provenance,
    Retriever,
    TextModelError,
    available_checkpoints,
    load_retriever,
    save_checkpoint,
)
from model_helpers import TINY, minilm, tiny_model

TEXTS = ["a person walks forward", "kick", "someone jumps twice and then waves with the left hand", "a man bows", "run"]


def _retriever(**changes: object) -> Retriever:
    stats = Normalizer(np.full(263, 0.5), np.full(263, 2.0))
    checkpoint = Checkpoint(tiny_model(**changes).eval(), stats, Provenance(trained_on="nothing"))
    return Retriever(checkpoint, backbone=minilm(), device="cpu")


def _motions(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(int(n), 263)).astype(np.float32) for n in rng.integers(1, 120, size=9)]


def test_text_embeddings_are_unit_norm_and_independent_of_batching() -> None:
    retriever = _retriever()
    emb = retriever.encode_texts(TEXTS, batch_size=2)
    assert emb.shape == (len(TEXTS), TINY.latent_dim) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    one_by_one = np.concatenate([retriever.encode_texts([text], batch_size=1) for text in TEXTS])
    np.testing.assert_allclose(one_by_one, emb, atol=1e-5)


def test_motion_embeddings_apply_the_normaliser_and_keep_input_order() -> None:
    retriever = _retriever()
    motions = _motions()
    emb = retriever.encode_motions(motions, batch_size=4)
    assert emb.shape == (len(motions), TINY.latent_dim) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    for motion, row in zip(motions, emb):
        np.testing.assert_allclose(retriever.encode_motions([motion])[0], row, atol=1e-5)
    # The normaliser is applied: a model fed pre-normalised features with identity stats agrees.
    identity = Checkpoint(retriever.model, Normalizer.identity(263), Provenance(trained_on="nothing"))
    plain = Retriever(identity, backbone=minilm(), device="cpu")
    normalised = [retriever.checkpoint.normalizer.normalize(m) for m in motions]
    np.testing.assert_allclose(plain.encode_motions(normalised), emb, atol=1e-5)


def test_scores_and_empty_inputs() -> None:
    retriever = _retriever()
    text, motion = retriever.encode_texts(TEXTS[:2]), retriever.encode_motions(_motions()[:3])
    scores = retriever.scores(text, motion)
    np.testing.assert_allclose(scores, (text @ motion.T + 1) / 2, atol=1e-6)
    assert scores.shape == (2, 3) and scores.min() >= 0 and scores.max() <= 1
    assert retriever.encode_texts([]).shape == (0, TINY.latent_dim)
    assert retriever.encode_motions([]).shape == (0, TINY.latent_dim)


def test_bad_motion_arrays_are_refused() -> None:
    retriever = _retriever()
    bad = {"wrong width": np.zeros((10, 262)), "no frames": np.zeros((0, 263)), "1-d": np.zeros(263)}
    for name, array in bad.items():
        with pytest.raises(ValueError, match="expected"):
            retriever.encode_motions([array])
    with pytest.raises(ValueError, match="NaN"):
        retriever.encode_motions([np.full((4, 263), np.nan)])


def test_backbone_width_must_match_the_checkpoint() -> None:
    with pytest.raises(TextModelError, match="384-d but the checkpoint expects 768-d"):
        _retriever(text_width=768)


def test_load_retriever_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "model.tmr"
    sha = save_checkpoint(path, tiny_model(), Normalizer.identity(263), Provenance(trained_on="nothing"))
    # A text backbone that does not exist: motions alone never load it, texts then fail to.
    retriever = load_retriever(path, device="cpu", text_model=tmp_path / "no-such-backbone")
    assert retriever.sha256 == sha and retriever.device.type == "cpu"
    assert retriever.encode_motions(_motions()[:2]).shape == (2, TINY.latent_dim)
    with pytest.raises(TextModelError):
        retriever.encode_texts(["a person walks"])


@pytest.mark.parametrize("name", available_checkpoints())
def test_every_shipped_checkpoint_loads_and_ranks_a_real_clip(name: str, data_dir: Path) -> None:
    """Each registered checkpoint is installed, small, verified, and ranks a walk's description above
    a wave's for a real walking clip (a check on the weights, not only on their shapes)."""
    from formats.reading import LoadOptions, read_features
    from model.checkpoint import SHIPPED

    shipped = SHIPPED.entries[name]
    assert shipped.path.stat().st_size <= 25 * 2**20
    retriever = load_retriever(name)
    assert retriever.sha256 == shipped.sha256 and not retriever.checkpoint.has_decoder
    walk = read_features(data_dir / "bandai-namco/dataset-2/data/dataset-2_walk_normal_006.bvh", LoadOptions())[1]
    motion = retriever.encode_motions([walk])
    texts = retriever.encode_texts(["a person walks forward", "a person waves both hands above the head"])
    assert np.isfinite(motion).all() and motion.shape == (1, retriever.checkpoint.config.latent_dim)
    scores = Retriever.scores(motion, texts)[0]
    assert scores[0] > scores[1], scores
