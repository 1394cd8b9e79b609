"""Confidence from the model's own scores: a sentence that describes a motion stands out of the bank."""

from __future__ import annotations

import numpy as np

from model.calibration import Z_CLEAR, Z_CROWD, confidences


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_confidence_is_where_the_query_stands_in_the_motions_bank_scores() -> None:
    rng = np.random.default_rng(0)
    bank = _unit(rng.normal(size=(500, 64)))
    motion = _unit(rng.normal(size=64))
    crowd = bank @ motion
    mean, std = crowd.mean(), crowd.std()
    # Queries built to score exactly z standard deviations above the crowd with the motion.
    other = rng.normal(size=64)
    other = _unit(other - (other @ motion) * motion)  # orthogonal to the motion
    for z, expected in ((0.0, 0.0), (Z_CROWD, 0.0), ((Z_CROWD + Z_CLEAR) / 2, 0.5), (Z_CLEAR + 2, 1.0)):
        target = mean + z * std
        query = target * motion + np.sqrt(1 - target**2) * other
        assert abs(confidences(query, motion[None], bank)[0] - expected) < 1e-3, z


def test_one_confidence_per_motion_and_none_for_no_motion() -> None:
    rng = np.random.default_rng(1)
    bank, motions, query = _unit(rng.normal(size=(50, 8))), _unit(rng.normal(size=(3, 8))), _unit(rng.normal(size=8))
    out = confidences(query, motions, bank)
    assert out.shape == (3,) and ((0 <= out) & (out <= 1)).all()
    assert confidences(query, np.zeros((0, 8)), bank).shape == (0,)
