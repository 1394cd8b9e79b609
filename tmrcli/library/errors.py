"""Errors raised by the library store: subclasses of `TmrError`, so the CLI prints them as one line."""

from __future__ import annotations

from formats.errors import TmrError

__all__ = ["StoreError", "StoreLockedError", "REBUILD_HINT"]

REBUILD_HINT = "run `tmr index --rebuild PATH...` to index your motion files again"


class StoreError(TmrError):
    """A library that cannot be used as asked: missing, damaged, not a tmr library, made by a newer tmr,
    or holding embeddings of another checkpoint than the one in use."""


class StoreLockedError(StoreError):
    """Another process is writing to the library; the reason names it (command, pid, host, start time)."""
