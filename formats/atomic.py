"""Atomic file writes: a temporary file in the same folder, flushed to disk, then renamed over the
target, so a failed or killed write never leaves a half-written file behind.

It lives in the lowest layer so that `model/` (checkpoints) and `tmrcli/` (converted features, the
store) share one implementation without breaking the import direction.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["write_atomic", "write_atomic_path", "temporary_beside", "fsync_directory"]


def temporary_beside(path: Path) -> tuple[int, str]:
    """A new temporary file in `path`'s folder (named `.<name>.*.tmp`), open, with the permissions an
    ordinary new file gets (mkstemp's 0600 would hide libraries, checkpoints and features from others)."""
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
        fsync_directory(path.parent)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_atomic_path(path: Path, write: Callable[[Path], None]) -> None:
    """`write_atomic` for writers that want a file name (h5py, hnswlib): `write` gets the temporary path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = temporary_beside(path)
    os.close(handle)
    try:
        write(Path(temporary))
        fd = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
        fsync_directory(path.parent)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def fsync_directory(folder: Path) -> None:
    """Make a rename or deletion in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
