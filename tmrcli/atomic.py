"""Atomic file writes for the CLI: `write_atomic` (shared with `model/`, defined in `formats.atomic`)
and a .npy helper built on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from formats.atomic import write_atomic

__all__ = ["write_atomic", "save_npy_atomic"]


def save_npy_atomic(path: Path, array: np.ndarray) -> None:
    """Save `array` as a .npy file at `path`, atomically."""
    write_atomic(path, lambda file: np.save(file, array, allow_pickle=False))
