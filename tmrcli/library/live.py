"""The library as a long-running reader (`tmr serve`) sees it: one open snapshot, reopened as soon as
the files on disk have changed (a `tmr index` beside it), so every query sees the latest commit
without a restart, and a query in between costs no reopening: telling whether anything changed is
a listing of the library's folder and a stat per file. A library of up to KEPT_EMBEDDINGS_BYTES of
embeddings is searched from memory (each file's column read once, and kept across reopenings while
the file stays: files are written once and never changed), a larger one from disk.

Motions are named by id, a digest of their path, never by a path a client sends: only what the
library holds can be read, and an id that is not in the library is simply unknown.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tmrcli.library.results import SearchHit
from tmrcli.library.search import check_checkpoint, search_library
from tmrcli.library.store import MotionStore, Snapshot
from tmrcli.library.storefile import FileRecord

if TYPE_CHECKING:
    from model import Retriever

__all__ = ["motion_id", "LiveLibrary", "LiveView", "KEPT_EMBEDDINGS_BYTES"]

KEPT_EMBEDDINGS_BYTES = 256 << 20  # about 260k entries of 256 float32: one HNSW index's own copy of them


def motion_id(path: str) -> str:
    """The id of the motion file at `path` (absolute, as the library stores it): 16 hex digits."""
    return hashlib.sha256(os.fsencode(path)).hexdigest()[:16]


@dataclass(frozen=True)
class LiveView:
    """One consistent state of the library: its snapshot and its files by id."""

    snapshot: Snapshot
    files: dict[str, FileRecord]

    def search(
        self,
        query: np.ndarray,
        k: int,
        sha256: str | None,
        exclude: str | None = None,
        *,
        bank: np.ndarray | None = None,
        likeness: float = 1.0,
    ) -> list[SearchHit]:
        """The k files best matching the unit embedding `query`, as `tmr search` ranks them; with a
        text query's sentence `bank` and `likeness`, with their confidence (`search_library`)."""
        return search_library(
            self.snapshot, query, k, checkpoint_sha256=sha256, exclude=exclude, bank=bank, likeness=likeness
        )


class LiveLibrary:
    """The library at `store`, kept open read-only between queries and reopened when it changed.

    Thread-safe: `view()` holds a lock for the block, so a reopen never closes a snapshot in use."""

    def __init__(self, store: MotionStore, model: Retriever, cache: Path | None = None) -> None:
        self.store = store
        self.model = model
        self.cache = cache  # where the text bank's embeddings are cached (None: the user's cache)
        self._lock = threading.Lock()
        self._stack: ExitStack | None = None
        self._view: LiveView | None = None
        self._signature: tuple | None = None
        self._kept: dict[str, np.ndarray] = {}  # file_id -> that store file's embeddings

    @contextmanager
    def view(self) -> Iterator[LiveView]:
        """The library as it is now; StoreError when there is none yet, it is damaged, or another
        checkpoint than the model's embedded it."""
        with self._lock:
            signature = self._disk_signature()
            if signature != self._signature or self._view is None:
                self._reopen(signature)
            assert self._view is not None
            yield self._view

    def close(self) -> None:
        """Close the open snapshot, if any."""
        with self._lock:
            self._drop()

    def _reopen(self, signature: tuple) -> None:
        self._drop()
        stack = ExitStack()
        try:
            snapshot = stack.enter_context(self.store.snapshot())
            check_checkpoint(snapshot, self.model.sha256)
            files = {motion_id(path): record for path, record in _records(snapshot)}
            self._kept = _keep_in_memory(snapshot, self._kept)
        except BaseException:
            stack.close()
            raise
        self._stack, self._view, self._signature = stack, LiveView(snapshot, files), signature

    def _drop(self) -> None:
        if self._stack is not None:
            self._stack.close()
        self._stack = self._view = self._signature = None

    def _disk_signature(self) -> tuple:
        """What changes whenever a writer commits or compacts: the base's identity and the delta files'
        names and identities (every file is written once under a new name, never changed in place)."""
        parts = [_identity(self.store.path)]
        try:
            with os.scandir(self.store.folder) as entries:
                names = sorted(e.name for e in entries if e.name.endswith(".h5") and e.name[:1].isdigit())
        except FileNotFoundError:
            names = []
        parts += [(name, _identity(self.store.folder / name)) for name in names]
        return tuple(parts)


def _keep_in_memory(snapshot: Snapshot, kept: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Keep the snapshot's embeddings in memory when they fit KEPT_EMBEDDINGS_BYTES, reusing the
    columns of files kept before; what is kept now, by file_id."""
    store_files = snapshot.store_files
    size = sum(f.header.entries * f.header.dim * 4 for f in store_files)
    if size > KEPT_EMBEDDINGS_BYTES:
        return {}
    return {f.header.file_id: f.keep_in_memory(kept.get(f.header.file_id)) for f in store_files}


def _identity(path: os.PathLike) -> tuple[int, int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def _records(snapshot: Snapshot) -> Iterator[tuple[str, FileRecord]]:
    table = snapshot.live_files()
    for row, path in enumerate(table.paths):
        yield path, table.record(row)
