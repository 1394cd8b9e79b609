"""The small text files people hand to tmr: one entry per line (splits, sentences, text banks) and
tab-separated tables with a header (captions, labels, queries). Read one way, so every one of them
fails alike: one line naming the file and the reason, in the caller's error class."""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from pathlib import Path

from formats.errors import TmrError

__all__ = ["read_text", "read_lines", "read_tsv"]


def read_text(path: Path, what: str, *, error: type[TmrError] = TmrError) -> str:
    """The whole file as UTF-8 text; `what` names the content in the error."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as failure:
        reason = getattr(failure, "strerror", None) or failure
        raise error(path, f"cannot read {what} ({reason})") from None


def read_lines(path: Path, what: str, *, error: type[TmrError] = TmrError) -> list[str]:
    """The file's lines, stripped, blank ones left out; `what` names the content in the error."""
    return [line.strip() for line in read_text(path, what, error=error).splitlines() if line.strip()]


def read_tsv(
    path: Path, what: str, columns: Collection[str] = (), *, error: type[TmrError] = TmrError
) -> list[dict[str, str]]:
    """The rows of a tab-separated table with a header; a table that has rows must have `columns`."""
    rows = list(csv.DictReader(io.StringIO(read_text(path, what, error=error), newline=""), delimiter="\t"))
    if rows and not set(columns) <= set(rows[0]):
        raise error(path, f"expected the tab-separated columns {', '.join(columns)}")
    return rows
