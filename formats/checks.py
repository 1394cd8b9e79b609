"""File access and value checks shared by the readers of every format."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np

from formats.errors import FormatError

__all__ = ["MAX_ABS_VALUE", "open_motion_file", "read_text_file", "load_numpy_file", "check_frames_finite"]

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK"  # an .npz is a zip archive
# No motion file holds a coordinate or angle this large; such values are corruption, and would
# overflow later arithmetic.
MAX_ABS_VALUE = 1e9
# Bytes that never occur in a text file; a few in the first kilobytes mark binary data.
_CONTROL_BYTES = bytes(range(9)) + bytes(range(14, 32))


@contextmanager
def open_motion_file(path: Path) -> Iterator[BinaryIO]:
    """Open `path` for reading bytes; the system's refusals become FormatErrors a user can act on."""
    try:
        file = open(path, "rb")
    except FileNotFoundError:
        raise FormatError(path, "file not found") from None
    except IsADirectoryError:
        raise FormatError(path, "is a folder, not a motion file") from None
    except OSError as error:
        raise FormatError(path, f"cannot read the file: {error.strerror or error}") from None
    with file:
        yield file


def read_text_file(path: Path, kind: str) -> bytes:
    """The bytes of a text motion file (`kind`: 'ASF', 'AMC', ...), lines ending in \\n; raises
    FormatError for an empty file or binary data."""
    with open_motion_file(path) as file:
        raw = file.read()
    if not raw.strip():
        raise FormatError(path, "the file is empty")
    start = raw[:4096]
    if len(start.translate(None, _CONTROL_BYTES)) != len(start):
        raise FormatError(path, f"binary data, not an {kind} text file")
    return raw if b"\n" in raw else raw.replace(b"\r", b"\n")  # old Mac exports end lines with CR alone


def load_numpy_file(path: Path) -> np.ndarray | dict[str, np.ndarray]:
    """The array of a .npy, or every array of a .npz (read now, so the archive is closed at once).

    Arrays are read with `allow_pickle=False`: a file never gets to run code.
    """
    with open_motion_file(path) as file:
        magic = file.read(len(_NPY_MAGIC))
        if not magic:
            raise FormatError(path, "the file is empty")
        if not magic.startswith((_NPY_MAGIC, _ZIP_MAGIC)):
            raise FormatError(path, "not a NumPy .npy or .npz file")
        file.seek(0)
        try:
            loaded = np.load(file, allow_pickle=False)
            if isinstance(loaded, np.lib.npyio.NpzFile):
                with loaded:
                    return {key: loaded[key] for key in loaded.files}
            return loaded
        except EOFError:
            raise FormatError(path, "the file is truncated") from None
        except ValueError as error:
            if "allow_pickle" in str(error):
                reason = "holds Python objects (pickled data), which tmr never loads; save plain numeric arrays"
                raise FormatError(path, reason) from None
            raise FormatError(path, f"not a readable NumPy file: {error}") from None
        except (OSError, zipfile.BadZipFile) as error:
            raise FormatError(path, f"not a readable NumPy file: {error}") from None


def check_frames_finite(path: Path, values: np.ndarray, first_frame: int = 0) -> None:
    """Raise FormatError naming the first frame (axis 0 of `values`, numbered from `first_frame`, as
    the file numbers them) that holds NaN, an infinity or a value beyond +-MAX_ABS_VALUE."""
    flat = values.reshape(values.shape[0], -1)
    bad = ~(np.abs(flat) <= MAX_ABS_VALUE).all(axis=1)  # NaN compares False, so it is caught too
    if bad.any():
        frame = first_frame + int(np.argmax(bad))
        raise FormatError(path, f"frame {frame} holds a value that is NaN, infinite or beyond ±{MAX_ABS_VALUE:g}")
