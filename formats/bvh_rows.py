"""A BVH file's MOTION rows: checked and parsed in blocks of a few megabytes, never copied whole.

A long take's MOTION block is most of its file (200 MB for 19 minutes of a 100-joint rig at 60 fps).
Stripping, splitting or testing it byte by byte in one go would hold several copies of it at once;
here every pass reads it through fixed-size views, so the memory a file takes beyond its bytes is
that of the values wanted, not a multiple of the file.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from formats.checks import check_frames_finite
from formats.errors import FormatError

__all__ = ["content_bounds", "check_rows", "parse_columns", "sample_rows"]

BLOCK_BYTES = 8 << 20  # rows are scanned in views of this size (a setting the tests shrink)
# bytes.strip() and bytes.split() treat these six as whitespace; so do we.
_IS_BLANK = np.zeros(256, dtype=bool)
_IS_BLANK[list(b" \t\n\r\x0b\x0c")] = True
_ROW_NUMBER = re.compile(r"\bat row (\d+)")


def content_bounds(rows: bytes) -> tuple[int, int]:
    """[lo, hi): `rows` without its leading and trailing whitespace (what `rows.strip()` keeps)."""
    lo = 0
    while lo < len(rows):
        filled = ~_blank(rows, lo, min(lo + BLOCK_BYTES, len(rows)))
        if filled.any():
            lo += int(np.argmax(filled))
            break
        lo += BLOCK_BYTES
    else:
        return len(rows), len(rows)
    hi = len(rows)
    while hi > lo:
        start = max(lo, hi - BLOCK_BYTES)
        filled = ~_blank(rows, start, hi)
        if filled.any():
            return lo, hi - int(np.argmax(filled[::-1]))
        hi = start
    return lo, lo


def check_rows(path: Path, rows: bytes, frame_count: int, num_channels: int, first_line: int) -> None:
    """One frame per line, as many lines as the header says, each with exactly `num_channels` values
    (`first_line`: the file's line number of the first row, for the message)."""
    lo, hi = content_bounds(rows)
    first_line += rows.count(b"\n", 0, lo)
    count = rows.count(b"\n", lo, hi) + 1 if hi > lo else 0
    if count != frame_count:  # count again without blank lines, which the parser skips
        count = sum(1 for start, end in _lines(rows, lo, hi) if rows[start:end].strip())
    if count != frame_count:
        raise FormatError(path, f"the header says {frame_count} frames but the MOTION block holds {count}")
    first_end = rows.find(b"\n", lo, hi)
    first = rows[lo : hi if first_end < 0 else first_end]
    last = rows[rows.rfind(b"\n", lo, hi) + 1 : hi]
    for which, line in (("first", first), ("last", last)):
        count = len(line.split())
        if count != num_channels:
            raise FormatError(
                path,
                f"the {which} frame holds {count} values but the hierarchy declares {num_channels} channels "
                "(truncated file?)",
            )
    if _count_values(rows, lo, hi) != frame_count * num_channels:
        _raise_for_bad_row(path, rows, lo, hi, num_channels, first_line)


def parse_columns(path: Path, rows: bytes, columns: np.ndarray, num_frames: int) -> np.ndarray:
    """(T, len(columns)) float64: the values of `columns` (sorted, unique) in each of the T <=
    `num_frames` rows (numpy skips comment lines).

    Parsed a block of rows at a time into one array allocated up front. Raises FormatError for a
    row that lacks a column, a value that is not a number, or one that is not finite.
    """
    values = np.empty((num_frames, len(columns)))
    filled = 0
    lo, hi = content_bounds(rows)
    start = lo
    while start < hi:
        end = rows.find(b"\n", min(start + BLOCK_BYTES, hi), hi)
        end = hi if end < 0 else end
        block = rows[start:end]
        if block and not block.isspace():
            try:
                parsed = _parse_block(block, columns)
            except ValueError as error:
                raise _malformed(path, error, first_row=rows.count(b"\n", 0, start)) from None
            if filled + len(parsed) > num_frames:
                raise FormatError(path, f"the MOTION block holds more than the {num_frames} frames it should")
            values[filled : filled + len(parsed)] = parsed
            filled += len(parsed)
        start = end + 1
    values = values[:filled]  # fewer when some rows are comments, which numpy skips
    check_frames_finite(path, values)
    return values


def _parse_block(block: bytes, columns: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.loadtxt(io.BytesIO(block), dtype=np.float64, usecols=columns, ndmin=2)


def _malformed(path: Path, error: ValueError, first_row: int) -> FormatError:
    """The error for a block numpy could not parse; numpy numbers rows within the block, the message
    within the MOTION block."""
    if "invalid column index" in str(error):
        return FormatError(path, "a frame holds fewer values than the hierarchy declares (corrupted file?)")
    message = _ROW_NUMBER.sub(lambda found: f"at row {int(found[1]) + first_row}", str(error))
    return FormatError(path, f"the MOTION block is malformed: {message}")


def _blank(rows: bytes, start: int, stop: int) -> np.ndarray:
    """Whether each byte of rows[start:stop] is whitespace (a view of the bytes, not a copy)."""
    return _IS_BLANK[np.frombuffer(rows, dtype=np.uint8, count=stop - start, offset=start)]


def _count_values(rows: bytes, lo: int, hi: int) -> int:
    """Whitespace-separated values in rows[lo:hi], counted a block at a time without splitting."""
    count, previous_blank = 0, True
    for start in range(lo, hi, BLOCK_BYTES):
        blank = _blank(rows, start, min(start + BLOCK_BYTES, hi))
        count += int(np.count_nonzero(blank[:-1] & ~blank[1:])) + int(previous_blank and not blank[0])
        previous_blank = bool(blank[-1])
    return count


def _lines(rows: bytes, lo: int, hi: int) -> Iterator[tuple[int, int]]:
    """[start, end) of each line of rows[lo:hi]."""
    start = lo
    while start <= hi:
        end = rows.find(b"\n", start, hi)
        end = hi if end < 0 else end
        yield start, end
        start = end + 1


def _raise_for_bad_row(path: Path, rows: bytes, lo: int, hi: int, num_channels: int, first_line: int) -> None:
    """Name the first frame whose number of values is not the hierarchy's (the error path only)."""
    frame = 0
    for number, (start, end) in enumerate(_lines(rows, lo, hi), start=first_line):
        line = rows[start:end]
        if not line.strip():
            continue
        count = len(line.split())
        if count != num_channels:
            raise FormatError(
                path,
                f"line {number}: frame {frame} holds {count} values but the hierarchy declares {num_channels} channels",
            )
        frame += 1


def sample_rows(rows: bytes, count: int) -> tuple[bytes, int]:
    """Up to `count` of the non-blank rows, spread evenly from the first to the last, as one MOTION
    block, and how many they are."""
    spans = [(start, end) for start, end in _lines(rows, 0, len(rows)) if rows[start:end].strip()]
    chosen = np.unique(np.linspace(0, len(spans) - 1, min(len(spans), count)).astype(int))
    return b"\n".join(rows[spans[i][0] : spans[i][1]] for i in chosen), len(chosen)
