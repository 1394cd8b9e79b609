"""Errors raised by the library store: subclasses of `TmrError`, so the CLI prints them as one line."""

from __future__ import annotations

from pathlib import Path

from formats.errors import TmrError

__all__ = ["StoreError", "StoreLockedError", "NotALibraryError", "DiskFullError", "REBUILD_HINT", "REPAIR_HINT", "NOT_A_LIBRARY_HINT", "checkpoint_mismatch"]

REBUILD_HINT = "`tmr index --rebuild` with this --checkpoint re-embeds every file the library holds (add PATH... for more)"
REPAIR_HINT = (
    "`tmr info --check` lists the damage; `tmr index --rebuild` re-embeds every file the library's "
    "readable parts name (add PATH... for more)"
)
NOT_A_LIBRARY_HINT = "pass another --store: tmr never writes over a file that is not one of its libraries"


class StoreError(TmrError):
    """A library that cannot be used as asked: missing, damaged, not a tmr library, made by a newer tmr,
    or holding embeddings of another checkpoint than the one in use."""


class NotALibraryError(StoreError):
    """The library path holds something else (a text file, another program's HDF5 file): never written over."""


class DiskFullError(StoreError):
    """The filesystem filled up while a library file was written; that file was not committed."""


class StoreLockedError(StoreError):
    """Another process is writing to the library; the reason names it (command, pid, host, start time)."""


def checkpoint_mismatch(path: str | Path, stored: str | None, in_use: str | None) -> StoreError:
    """The library's embeddings were made by another checkpoint than the one in use: searching them
    with it would rank nonsense, and adding to them would mix two spaces."""
    return StoreError(
        path,
        f"the library holds embeddings made by checkpoint {(stored or '?')[:12]}..., not by the one in use "
        f"({(in_use or '?')[:12]}...); they cannot be mixed",
        hint=f"pass the library's --checkpoint; or {REBUILD_HINT}",
    )
