"""Atomic file writes: a temporary file in the same folder, flushed to disk, then renamed over the
target, so a failed or killed command never leaves a half-written file behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np

from formats.errors import OutputError

__all__ = ["atomic_path", "write_atomic", "save_npy_atomic", "temporary_beside", "reporting_write_errors"]


def temporary_beside(path: Path, suffix: str = ".tmp") -> tuple[int, str]:
    """A new temporary file in `path`'s folder (named `.<name>.*<suffix>`), open, with the permissions an
    ordinary new file gets (mkstemp's 0600 would hide libraries and features from other users)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(handle, 0o666 & ~umask)
    return handle, temporary


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`, with the same suffix, for a writer that wants a file name
    (an encoder picks its format from the suffix); on success it is synced and renamed to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = temporary_beside(path, suffix=f".tmp{path.suffix}")
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        with open(temporary, "rb") as file:
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Create or replace `path` with what `write` writes into the file object it is given."""
    with atomic_path(path) as temporary, open(temporary, "wb") as file:
        write(file)


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
