"""Atomic file writes: a temporary file in the same folder, flushed to disk, then renamed over the
target, so a failed or killed write never leaves a half-written file behind.

It lives in the lowest layer so that `model/` (checkpoints) and `tmrcli/` (converted features, the
store, rendered pictures) share one implementation without breaking the import direction.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np

from formats.errors import OutputError

__all__ = [
    "atomic_path",
    "write_atomic",
    "write_atomic_path",
    "save_npy_atomic",
    "reporting_write_errors",
    "temporary_beside",
    "is_temporary_of",
    "fsync_directory",
]

# Every temporary file tmr writes is named `.<target>.tmr-partial-<random>.tmp<suffix>`: a clean-up
# after a killed writer removes exactly these, never a user's file that merely ends in `.tmp`.
_TAG = ".tmr-partial-"
_TEMPORARY = re.compile(r"\.(?P<target>.+)" + re.escape(_TAG) + r"[A-Za-z0-9_]{8}\.tmp(?:\.[A-Za-z0-9]+)?")


def temporary_beside(path: Path, suffix: str = ".tmp") -> tuple[int, str]:
    """A new temporary file in `path`'s folder (named `.<name>.tmr-partial-*<suffix>`), open, with the
    permissions an ordinary new file gets (mkstemp's 0600 would hide libraries, checkpoints and features
    from others)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}{_TAG}", suffix=suffix)
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(handle, 0o666 & ~umask)
    return handle, temporary


def is_temporary_of(name: str, target: re.Pattern[str] | str) -> bool:
    """Whether the file `name` is a temporary file tmr wrote for a target whose name matches `target`
    (a regular expression, matched whole, or an exact name)."""
    found = _TEMPORARY.fullmatch(name)
    if found is None:
        return False
    if isinstance(target, str):
        return found["target"] == target
    return target.fullmatch(found["target"]) is not None


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`, ending in the same suffix (writers such as h5py, hnswlib
    or an image encoder want a file name, and some pick the format from its suffix); when the block
    succeeds the file is synced and renamed to `path`, otherwise removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = temporary_beside(path, suffix=f".tmp{path.suffix}")
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        fd = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
        fsync_directory(path.parent)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Create or replace `path` with what `write` writes into the file object it is given."""
    with atomic_path(path) as temporary, open(temporary, "wb") as file:
        write(file)
        file.flush()


def write_atomic_path(path: Path, write: Callable[[Path], None]) -> None:
    """`write_atomic` for writers that want a file name: `write` gets the temporary path."""
    with atomic_path(path) as temporary:
        write(temporary)


def fsync_directory(folder: Path) -> None:
    """Make a rename or deletion in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
