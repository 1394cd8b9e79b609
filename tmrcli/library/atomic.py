"""Atomic file writes for the CLI: the shared writers of `formats.atomic`, a .npy helper, and the
translation of a failed write into a one-line error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from formats.atomic import atomic_path, write_atomic
from formats.errors import OutputError

__all__ = ["atomic_path", "write_atomic", "save_npy_atomic", "reporting_write_errors"]


def save_npy_atomic(path: Path, array: np.ndarray) -> None:
    """Save `array` as a .npy file at `path`, atomically."""
    write_atomic(path, lambda file: np.save(file, array, allow_pickle=False))


@contextmanager
def reporting_write_errors(path: Path) -> Iterator[None]:
    """Turn an OSError while writing `path` (a missing or read-only folder, a full disk) into an
    OutputError: one line for the user and exit 1, not a traceback."""
    try:
        yield
    except OSError as error:
        raise OutputError(path, f"cannot write: {error.strerror or error}") from None
