"""Errors raised by the library store: subclasses of `TmrError`, so the CLI prints them as one line."""

from __future__ import annotations

from pathlib import Path

from formats.errors import TmrError

__all__ = ["StoreError", "StoreLockedError", "REBUILD_HINT", "checkpoint_mismatch"]

REBUILD_HINT = "run `tmr index --rebuild PATH...` to index your motion files again"


class StoreError(TmrError):
    """A library that cannot be used as asked: missing, damaged, not a tmr library, made by a newer tmr,
    or holding embeddings of another checkpoint than the one in use."""


class StoreLockedError(StoreError):
    """Another process is writing to the library; the reason names it (command, pid, host, start time)."""


def checkpoint_mismatch(path: str | Path, stored: str | None, in_use: str | None) -> StoreError:
    """The library's embeddings were made by another checkpoint than the one in use: searching them
    with it would rank nonsense, and adding to them would mix two spaces."""
    return StoreError(
        path,
        f"the library holds embeddings made by checkpoint {(stored or '?')[:12]}..., not by the one in use "
        f"({(in_use or '?')[:12]}...); they cannot be mixed",
        hint=f"pass the library's --checkpoint, or {REBUILD_HINT} with this --checkpoint",
    )
