"""Errors raised by the library store: subclasses of `TmrError`, so the CLI prints them as one line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from formats.errors import TmrError

if TYPE_CHECKING:
    from tmrcli.library.store import Snapshot

__all__ = ["StoreError", "StoreLockedError", "NotALibraryError", "DiskFullError", "REBUILD_HINT", "REPAIR_HINT", "NOT_A_LIBRARY_HINT", "checkpoint_mismatch", "describe_checkpoint"]

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


def describe_checkpoint(reference: str | None, sha256: str | None) -> str:
    """A checkpoint as people recognise it: its registered name or file name, and its SHA256's start."""
    digest = f"sha256 {(sha256 or '?')[:12]}..."
    return f"{Path(reference).name} ({digest})" if reference else digest


def checkpoint_mismatch(library: Snapshot, in_use_sha256: str | None, in_use: str | None) -> StoreError:
    """The library's embeddings were made by another checkpoint than the one in use (`in_use`: its name
    or path, when known): searching them with it would rank nonsense, and adding to them would mix two
    spaces. The hint names the exact --checkpoint to pass, when the library recorded it."""
    from model.checkpoint_file import registered_name

    stored = library.checkpoint or registered_name(library.checkpoint_sha256)
    made_by = describe_checkpoint(stored, library.checkpoint_sha256)
    if stored is not None and stored == in_use:  # the same name, another file: the model was updated
        return StoreError(
            library.store.path,
            f"the library holds embeddings made by an earlier {made_by} than the one that name loads now, "
            f"{describe_checkpoint(in_use, in_use_sha256)}; they cannot be mixed",
            hint=REBUILD_HINT,
        )
    wanted = f"--checkpoint {stored}" if stored else f"the --checkpoint whose sha256 is {library.checkpoint_sha256}"
    return StoreError(
        library.store.path,
        f"the library holds embeddings made by checkpoint {made_by}, not by the one in use, "
        f"{describe_checkpoint(in_use, in_use_sha256)}; they cannot be mixed",
        hint=f"pass {wanted}; or {REBUILD_HINT}",
    )
