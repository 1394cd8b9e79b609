"""Per-dimension mean/std normalisation of motion features, carried by every checkpoint.

TMR normalises with plain per-dimension statistics of its training split (reference
`src/data/motion.py`, `prepare/motion_stats.py`): x' = (x - mean) / (std + 1e-12), std unbiased.
These are not HumanML3D's group-averaged Std.npy (REFERENCE.md), and a model only works with the
statistics it was trained with, hence they travel inside the checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["Normalizer"]

_EPS = 1e-12  # the reference's Normalizer eps
_CONSTANT_STD = 1e-6  # below this a training dimension is treated as constant (see from_features)


@dataclass(frozen=True, eq=False)
class Normalizer:
    """`mean` and `std` are float32 (F,) arrays; `denormalize` undoes `normalize` (up to rounding)."""

    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self) -> None:
        mean = np.asarray(self.mean, dtype=np.float32)
        std = np.asarray(self.std, dtype=np.float32)
        if mean.ndim != 1 or mean.shape != std.shape:
            raise ValueError(f"mean {mean.shape} and std {std.shape} must be equal-length vectors")
        if not (np.isfinite(mean).all() and np.isfinite(std).all()) or (std < 0).any():
            raise ValueError("mean and std must be finite and std non-negative")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    @property
    def n_feats(self) -> int:
        """The feature width F."""
        return len(self.mean)

    @classmethod
    def identity(cls, n_feats: int) -> Normalizer:
        """Mean 0, std 1: leaves features unchanged (for tests and untrained models)."""
        return cls(np.zeros(n_feats, np.float32), np.ones(n_feats, np.float32))

    @classmethod
    def from_features(cls, clips: Iterable[np.ndarray]) -> Normalizer:
        """Statistics over every frame of every (T, F) clip, as if concatenated (unbiased std).

        Merged clip by clip in float64 (Chan et al.'s parallel variance), so the corpus never has to
        fit in memory at once. A dimension that is constant over the training set gets std 1 instead
        of 0: dividing by 1e-12 would turn any later deviation into a huge input.
        """
        count, mean, m2 = 0, None, None
        for clip in clips:
            clip = np.asarray(clip, dtype=np.float64)
            n, clip_mean = len(clip), clip.mean(axis=0)
            clip_m2 = ((clip - clip_mean) ** 2).sum(axis=0)
            if mean is None:
                count, mean, m2 = n, clip_mean, clip_m2
                continue
            delta, total = clip_mean - mean, count + n
            mean = mean + delta * n / total
            m2 = m2 + clip_m2 + delta**2 * count * n / total
            count = total
        if mean is None or count < 2:
            raise ValueError("need at least two frames to compute feature statistics")
        std = np.sqrt(m2 / (count - 1))
        return cls(mean, np.where(std < _CONSTANT_STD, 1.0, std))

    def with_group_floor(self, groups: Mapping[str, slice], fraction: float) -> Normalizer:
        """The same statistics with every std raised to at least `fraction` of its group's mean std.

        A dimension that barely moves on the training rigs (a spine joint that a rig interpolates,
        whose 6D rotation component had std 3e-6 over Bandai-Namco and CMU) would otherwise turn any
        other rig's ordinary value into an input of 10^5 and saturate the encoder; the groups are the
        feature blocks whose dimensions share a unit (HumanML3D averages the std over them for this
        reason). Dimensions outside every group are left as they are.
        """
        std = self.std.copy()
        for block in groups.values():
            std[block] = np.maximum(std[block], fraction * std[block].mean())
        return Normalizer(self.mean, std)

    def normalize(self, feats: np.ndarray) -> np.ndarray:
        """(..., F) raw features -> normalised float32."""
        return ((np.asarray(feats, dtype=np.float32) - self.mean) / (self.std + _EPS)).astype(np.float32)

    def denormalize(self, feats: np.ndarray) -> np.ndarray:
        """(..., F) normalised features (for instance decoder output) -> raw float32."""
        return (np.asarray(feats, dtype=np.float32) * (self.std + _EPS) + self.mean).astype(np.float32)
