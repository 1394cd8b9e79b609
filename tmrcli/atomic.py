"""Atomic file writes: a temporary file in the same folder, flushed to disk, then renamed over the
target, so a failed or killed command never leaves a half-written file behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

__all__ = ["write_atomic", "save_npy_atomic", "temporary_beside"]


def temporary_beside(path: Path) -> tuple[int, str]:
    """A new temporary file in `path`'s folder (named `.<name>.*.tmp`), open, with the permissions an
    ordinary new file gets (mkstemp's 0600 would hide libraries and features from other users)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(handle, 0o666 & ~umask)
    return handle, temporary


def write_atomic(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Create or replace `path` with what `write` writes into the file object it is given."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = temporary_beside(path)
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_npy_atomic(path: Path, array: np.ndarray) -> None:
    """Save `array` as a .npy file at `path`, atomically."""
    write_atomic(path, lambda file: np.save(file, array, allow_pickle=False))
