"""Feature statistics: streaming merge equals the statistics of the concatenated clips."""

from __future__ import annotations

import numpy as np
import pytest

from model import Normalizer


def test_from_features_equals_concatenated_statistics() -> None:
    rng = np.random.default_rng(0)
    clips = [rng.normal(loc=3.0, scale=2.0, size=(int(n), 263)) for n in rng.integers(1, 90, size=12)]
    stats = Normalizer.from_features(iter(clips))
    frames = np.concatenate(clips)
    np.testing.assert_allclose(stats.mean, frames.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(stats.std, frames.std(axis=0, ddof=1), rtol=1e-5)
    assert stats.mean.dtype == np.float32 and stats.n_feats == 263


def test_constant_dimensions_are_left_unscaled() -> None:
    clip = np.random.default_rng(1).normal(size=(50, 4))
    clip[:, 2] = 7.0
    stats = Normalizer.from_features([clip])
    assert stats.std[2] == 1.0
    assert np.abs(stats.normalize(clip)[:, 2]).max() == 0.0


def test_denormalize_undoes_normalize() -> None:
    rng = np.random.default_rng(2)
    stats = Normalizer(rng.normal(size=263), rng.uniform(0.1, 3.0, size=263))
    feats = rng.normal(size=(40, 263)).astype(np.float32)
    np.testing.assert_allclose(stats.denormalize(stats.normalize(feats)), feats, atol=1e-5)
    np.testing.assert_array_equal(Normalizer.identity(263).normalize(feats), feats)


def test_bad_statistics_are_refused() -> None:
    with pytest.raises(ValueError):
        Normalizer(np.zeros(3), np.ones(4))
    with pytest.raises(ValueError):
        Normalizer(np.zeros(3), np.array([1.0, np.nan, 1.0]))
    with pytest.raises(ValueError):
        Normalizer.from_features([np.zeros((1, 3))])


def test_group_floor_keeps_a_nearly_constant_dimension_from_blowing_up() -> None:
    """A dimension that barely moves in training (std 3e-6, as a rig's interpolated spine joint) is
    scaled like the rest of its group, so another rig's ordinary value stays an ordinary input."""
    rng = np.random.default_rng(3)
    clip = rng.normal(scale=0.5, size=(200, 6))
    clip[:, 1] = 0.2 + rng.normal(scale=3e-6, size=200)
    plain = Normalizer.from_features([clip])
    floored = plain.with_group_floor({"a": slice(0, 3), "b": slice(3, 6)}, 0.25)
    other_rig = np.full((1, 6), 0.3)
    assert np.abs(plain.normalize(other_rig)[0, 1]) > 1e4
    assert np.abs(floored.normalize(other_rig)[0, 1]) < 5
    np.testing.assert_array_equal(floored.std[3:], plain.std[3:])  # dims above the floor are untouched
    np.testing.assert_array_equal(floored.mean, plain.mean)
