"""File access and value checks shared by the readers of every format."""

from __future__ import annotations

import math
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np

from formats.errors import FormatError
from formats.limits import MAX_ARRAY_BYTES
from formats.regular_files import open_regular

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
        file = open_regular(path)
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
            _check_declared_sizes(path, file, is_npz=magic.startswith(_ZIP_MAGIC))
            file.seek(0)
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


def _check_declared_sizes(path: Path, file: BinaryIO, *, is_npz: bool) -> None:
    """Refuse arrays whose header declares more bytes than the file (or archive member) holds, or
    more than MAX_ARRAY_BYTES in all, before NumPy allocates them: memory stays bounded by the file."""
    if not is_npz:
        _check_array_header(path, file, os.fstat(file.fileno()).st_size, "the array")
        return
    with zipfile.ZipFile(file) as archive:
        members = [info for info in archive.infolist() if info.filename.endswith(".npy")]
        total = sum(info.file_size for info in members)
        if total > MAX_ARRAY_BYTES:
            raise FormatError(path, f"its arrays hold {total:,} bytes, more than tmr reads ({MAX_ARRAY_BYTES:,})")
        for info in members:
            with archive.open(info) as member:
                _check_array_header(path, member, info.file_size, f"'{info.filename[:-4]}'")


def _check_array_header(path: Path, stream: BinaryIO, size: int, name: str) -> None:
    try:
        version = np.lib.format.read_magic(stream)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in read_header:
            return
        shape, _, dtype = read_header[version](stream)
    except (ValueError, TypeError, OSError, SyntaxError, EOFError):
        return  # np.load reports a malformed header in its own words
    declared = math.prod(shape) * dtype.itemsize
    held = size - stream.tell()
    if declared > MAX_ARRAY_BYTES:
        raise FormatError(path, f"{name} is declared as {shape} {dtype}: {declared:,} bytes, more than tmr reads")
    if not dtype.hasobject and declared > held:
        raise FormatError(
            path, f"{name} is declared as {shape} {dtype} ({declared:,} bytes) but holds {held:,}: the file is truncated"
        )


def check_frames_finite(path: Path, values: np.ndarray, first_frame: int = 0) -> None:
    """Raise FormatError naming the first frame (axis 0 of `values`, numbered from `first_frame`, as
    the file numbers them) that holds NaN, an infinity or a value beyond +-MAX_ABS_VALUE."""
    flat = values.reshape(values.shape[0], -1)
    bad = ~(np.abs(flat) <= MAX_ABS_VALUE).all(axis=1)  # NaN compares False, so it is caught too
    if bad.any():
        frame = first_frame + int(np.argmax(bad))
        raise FormatError(path, f"frame {frame} holds a value that is NaN, infinite or beyond ±{MAX_ABS_VALUE:g}")
