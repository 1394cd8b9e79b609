"""What the motion encoders accept, checked alike by the torch path (`model/inference.py`) and the
numpy one (`model/small_work.py`): one message for one mistake, whichever path runs."""

from __future__ import annotations

import numpy as np

__all__ = ["check_motion", "window_spans"]


def check_motion(i: int, feats: np.ndarray, n_feats: int) -> None:
    """ValueError unless motion `i` is (T, n_feats) features with T >= 1 and no NaN or infinity."""
    if feats.ndim != 2 or feats.shape[1] != n_feats or len(feats) == 0:
        raise ValueError(f"motion {i}: expected (T, {n_feats}) features with T >= 1, got {feats.shape}")
    if not np.isfinite(feats).all():
        raise ValueError(f"motion {i}: features contain NaN or infinity")


def window_spans(spans: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) [start, end) windows of a motion of `rows` rows as int64, and their sizes; ValueError
    for a window outside the motion or an empty one."""
    spans = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    sizes = spans[:, 1] - spans[:, 0]
    if len(spans) and (spans[:, 0].min() < 0 or spans[:, 1].max() > rows or sizes.min() < 1):
        raise ValueError(f"window spans must lie within the motion's {rows} rows and be non-empty")
    return spans, sizes
