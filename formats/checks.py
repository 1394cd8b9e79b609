"""Checks shared by the readers of every format."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from formats.errors import FormatError

__all__ = ["MAX_ABS_VALUE", "check_frames_finite"]

# No motion file holds a coordinate or angle this large; such values are corruption, and would
# overflow later arithmetic.
MAX_ABS_VALUE = 1e9


def check_frames_finite(path: Path, values: np.ndarray) -> None:
    """Raise FormatError naming the first frame (axis 0 of `values`) that holds NaN, an infinity or a
    value beyond +-MAX_ABS_VALUE."""
    flat = values.reshape(values.shape[0], -1)
    bad = ~(np.abs(flat) <= MAX_ABS_VALUE).all(axis=1)  # NaN compares False, so it is caught too
    if bad.any():
        frame = int(np.argmax(bad))
        raise FormatError(path, f"frame {frame} holds a value that is NaN, infinite or beyond ±{MAX_ABS_VALUE:g}")
