"""Trainer pieces: epoch sampling, mirroring of captions and labels, similar-length batches, filters."""

from __future__ import annotations

import numpy as np
import pytest

from formats.features import mirror_features
from model.datasets import Caption, MotionRecord
from model.losses import InfoNCEWithFiltering
from model.normalizer import Normalizer
import torch

from model.train import (
    TextFeatures,
    TrainConfig,
    TrainingSample,
    drop_words,
    length_grouped_batches,
    rig_partners,
    training_samples,
)
from model_helpers import minilm


def _record(key: str, frames: int, label: str, text: str, tags: tuple[str, ...] = ()) -> MotionRecord:
    feats = np.random.default_rng(frames).normal(size=(frames, 263)).astype(np.float32)
    return MotionRecord(key, feats, (Caption(text),), label, tags)


def test_rig_partners_are_the_same_action_from_another_source_folder() -> None:
    records = [
        _record("bandai-namco/a/walk_1.bvh", 50, "walk", "a person walks", ("walk",)),
        _record("bandai-namco/b/walk_2.bvh", 51, "walk", "someone walks", ("walk",)),
        _record("accad/Walk.bvh", 52, "Walk", "a person walks", ("walk",)),
        _record("accad/WalkLeft.bvh", 53, "walk-left", "walks to the left", ("walk",)),  # another side
        _record("hdm05/sit.amc", 54, "sitDown", "sits down", ("sit-down",)),
        _record("000123", 55, "", "a person walks"),  # HumanML3D: no tags, no partner
    ]
    assert rig_partners(records) == [(2,), (2,), (0, 1), (), (), ()]


def test_a_partner_is_cropped_to_its_samples_length_and_mirrored_with_it() -> None:
    records = [
        _record("bandai-namco/wave_left.bvh", 300, "wave-left-hand", "waves the left hand", ("wave",)),
        _record("accad/WaveLeft.bvh", 150, "wave-left", "waves the left hand", ("wave",)),
        _record("hdm05/jump.amc", 60, "jump", "jumps", ("jump",)),
    ]
    config = TrainConfig(mirror_probability=1.0)
    samples = training_samples(records, config, np.random.default_rng(3), rig_partners(records))
    by_length = {len(sample.feats): sample for sample in samples}  # 300 frames are cropped to 200
    bandai, accad, alone = by_length[200], by_length[150], by_length[60]
    assert bandai.label == accad.label == "wave|right"  # the partners' action key, mirrored
    assert alone.partner is None
    assert len(bandai.feats) == 200 and len(bandai.partner) == 150  # a shorter partner is whole
    np.testing.assert_allclose(bandai.partner, mirror_features(records[1].feats), atol=1e-6)
    assert len(accad.partner) == 150  # a longer one is cropped to the sample's length
    mirrored = mirror_features(records[0].feats)
    assert any(np.allclose(mirrored[i : i + 150], accad.partner, atol=1e-6) for i in range(151))
    batch = TextFeatures(minilm(), sorted({s.text for s in samples})).batch(samples, Normalizer.identity(263))
    assert sorted(len(samples[i].feats) for i in batch.partner_rows.tolist()) == [150, 200]
    assert batch.partners.lengths.tolist() == [len(samples[i].partner) for i in batch.partner_rows.tolist()]


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


def test_word_dropout_keeps_the_special_tokens_and_at_least_one_word() -> None:
    tokens = torch.arange(12, dtype=torch.float32)[:, None].repeat(1, 4)  # row i holds i
    rng = np.random.default_rng(0)
    kept = [drop_words(tokens, 0.25, rng)[:, 0] for _ in range(2000)]
    assert all(k[0] == 0 and k[-1] == 11 and len(k) >= 3 and bool((k[1:] > k[:-1]).all()) for k in kept)
    dropped = 1 - np.mean([len(k) - 2 for k in kept]) / 10
    assert 0.22 < dropped < 0.28
    assert all(len(drop_words(tokens, 0.95, rng)) >= 3 for _ in range(200))
    assert drop_words(tokens, 0.0, rng) is tokens
    short = tokens[:3]  # [CLS] word [SEP]: nothing to drop
    assert torch.equal(drop_words(short, 0.9, rng), short)


def test_a_training_batch_drops_words_only_when_asked(backbone) -> None:
    texts = ["a person raises both hands above the head and lowers them slowly"]
    samples = [TrainingSample(np.zeros((30, 263), np.float32), texts[0], "raise")]
    features = TextFeatures(backbone, texts)
    full = features.batch(samples, Normalizer.identity(263)).texts.lengths.item()
    assert features.batch(samples, Normalizer.identity(263), 0.0, None).texts.lengths.item() == full
    identity = Normalizer.identity(263)
    lengths = [features.batch(samples, identity, 0.5, np.random.default_rng(i)).texts.lengths.item() for i in range(20)]
    assert max(lengths) <= full and min(lengths) < full
    with pytest.raises(ValueError, match="random generator"):
        features.batch(samples, Normalizer.identity(263), 0.5, None)


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
