"""The record of a library's newest commit, `L.d/newest.json`: what makes a deleted newest delta visible.

Each delta names the one it follows, so a delta deleted from the middle of the chain leaves a gap
that readers see; the newest one has no successor to miss it. After every commit (and compaction)
the writer replaces this small file, atomically, with the lineage and seq it reached. A reader that
finds the library's lineage ending before that seq knows a delta was lost.

The record is written after the delta it names, so it never runs ahead of what is on disk: a writer
killed between the two leaves a record one commit behind, which is still true. A library written
before this record existed has none, and is read as before; its next commit writes one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from formats.atomic import write_atomic

__all__ = ["NEWEST_NAME", "NewestCommit", "read_newest", "write_newest"]

NEWEST_NAME = "newest.json"
_FORMAT = "tmr-library-newest"


@dataclass(frozen=True)
class NewestCommit:
    """The lineage of the library's base and the seq of its newest delta (or compacted base)."""

    lineage: str
    seq: int


def read_newest(folder: Path) -> NewestCommit | None:
    """The record in the library's delta folder; None when there is none, or it cannot be read
    (then nothing is claimed about the newest delta)."""
    try:
        data = json.loads((folder / NEWEST_NAME).read_bytes())
        if data.get("format") != _FORMAT or not isinstance(data.get("seq"), int):
            return None
        return NewestCommit(str(data["lineage"]), int(data["seq"]))
    except (OSError, ValueError, TypeError, AttributeError, KeyError):
        return None


def write_newest(folder: Path, commit: NewestCommit) -> None:
    """Replace the record atomically. A failure (a full disk) leaves the previous record, which is
    one commit behind but still true, so the commit it follows stands."""
    text = json.dumps({"format": _FORMAT, "version": 1, "lineage": commit.lineage, "seq": commit.seq})
    try:
        write_atomic(folder / NEWEST_NAME, lambda file: file.write(text.encode() + b"\n"))
    except OSError:
        pass
