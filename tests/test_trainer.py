"""Trainer pieces: epoch sampling, mirroring of captions and labels, similar-length batches, filters."""

from __future__ import annotations

import numpy as np
import pytest

from formats.features import mirror_features
from model.datasets import Caption, MotionRecord
from model.losses import InfoNCEWithFiltering
from model.normalizer import Normalizer
from model.train import TextFeatures, TrainConfig, TrainingSample, length_grouped_batches, training_samples
from model_helpers import minilm


def _record(key: str, frames: int, label: str, text: str) -> MotionRecord:
    feats = np.random.default_rng(frames).normal(size=(frames, 263)).astype(np.float32)
    return MotionRecord(key, feats, (Caption(text),), label)


def test_samples_are_cropped_to_ten_seconds_and_mirrored_with_their_words() -> None:
    records = [_record("long", 400, "wave-left-hand", "a person waves the left hand")]
    always = TrainConfig(mirror_probability=1.0)
    [sample] = training_samples(records, always, np.random.default_rng(0))
    assert len(sample.feats) == 200
    assert (sample.text, sample.label) == ("a person waves the right hand", "wave-right-hand")
    never = TrainConfig(mirror_probability=0.0)
    [plain] = training_samples(records, never, np.random.default_rng(0))
    start = next(i for i in range(201) if np.array_equal(records[0].feats[i : i + 200], plain.feats))
    np.testing.assert_allclose(sample.feats, mirror_features(records[0].feats[start : start + 200]), atol=1e-6)


def test_length_grouped_batches_cover_every_sample_with_little_padding() -> None:
    rng = np.random.default_rng(1)
    samples = [TrainingSample(np.zeros((int(n), 263)), str(i), "") for i, n in enumerate(rng.integers(40, 200, 256))]
    batches = length_grouped_batches(samples, 32, rng)
    assert sorted(s.text for b in batches for s in b) == sorted(s.text for s in samples)
    padded = sum(len(b) * max(len(s.feats) for s in b) for b in batches)
    unsorted = sum(32 * max(len(s.feats) for s in samples[i : i + 32]) for i in range(0, 256, 32))
    assert padded < 0.8 * unsorted


@pytest.fixture(scope="module")
def backbone():
    return minilm()


def test_label_filter_drops_exactly_the_pairs_of_the_same_action(backbone) -> None:
    texts = ["a person waves the left hand", "a person waves the right hand", "someone waves the left arm"]
    labels = ["wave-left-hand", "wave-right-hand", "wave-left-hand"]
    samples = [TrainingSample(np.zeros((30, 263), np.float32), t, lab) for t, lab in zip(texts, labels)]
    features = TextFeatures(backbone, texts, labels=labels)
    batch = features.batch(samples, Normalizer.identity(263))
    filtered = InfoNCEWithFiltering(0.1, 0.8).filtered_pairs(batch.sentence_emb)
    assert filtered.tolist() == [[False, False, True], [False, False, False], [True, False, False]]


def test_sentence_filter_keeps_the_papers_behaviour(backbone) -> None:
    """MiniLM finds a caption and its left/right swap alike, so the paper's filter drops that pair."""
    texts = ["a person walks forward and turns to the left", "a person walks forward and turns to the right"]
    samples = [TrainingSample(np.zeros((30, 263), np.float32), t, "") for t in texts]
    batch = TextFeatures(backbone, texts, sentence_model=backbone).batch(samples, Normalizer.identity(263))
    assert InfoNCEWithFiltering(0.1, 0.8).filtered_pairs(batch.sentence_emb)[0, 1]
