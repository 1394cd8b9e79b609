"""`tmr info --check`: read every byte of the library, verify it, and say what a rebuild would do.

Every numeric dataset carries HDF5 fletcher32 checksums (verified on each read), names carry a
CRC-32, object headers carry HDF5's own checksums, the search index a CRC-32 beside it. Beyond the
checksums: entries must name existing file rows, embeddings must be finite and of unit length, and
the deltas must form an unbroken chain up to the newest commit (`tmrcli/library/newest.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tmrcli.library.ann import ann_problem
from tmrcli.library.errors import NotALibraryError, StoreError
from tmrcli.library.store import MotionStore
from tmrcli.library.storefile import StoreFile, open_store_file

__all__ = ["CheckReport", "check_library"]

_BLOCK = 65536


@dataclass(frozen=True)
class CheckReport:
    """What a check found: one line per problem, the files a rebuild would re-embed (named by the
    readable parts), and what `tmr index --rebuild` would do, in words."""

    store: str
    checked_files: int
    problems: list[str] = field(default_factory=list)
    rebuild_files: int = 0
    repair: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def check_library(store: MotionStore) -> CheckReport:
    """Verify the base, every delta and the search index; StoreError only when there is no library."""
    parts = [store.path] if store.path.exists() else []
    parts += store.delta_names()
    if not parts:
        raise StoreError(store.path, "no library here yet", hint="index your motion files: tmr index PATH...")
    problems: list[str] = []
    if not store.path.exists():
        problems.append(f"{store.path}: the base file is missing ({len(parts)} delta file(s) remain)")
    unreadable = 0
    for path in parts:
        problem = _check_part(store, path)
        if problem is not None:
            problems.append(problem)
            unreadable += 1
    lost = _chain_problem(store) if not problems else None  # a part missing from the chain of commits
    if lost is not None:
        problems.append(lost)
    known = store.readable_paths()
    if not problems:
        repair = "nothing to repair"
    else:
        repair = f"`tmr index --rebuild` will re-embed the {len(known)} files that readable parts name"
        if unreadable or lost:
            repair += "; files only the damaged or missing parts named are not known: give their folders as PATH"
    return CheckReport(str(store.path), len(parts), problems, len(known), repair)


def _chain_problem(store: MotionStore) -> str | None:
    """What reading the library finds beyond its parts: a delta missing from the chain of commits."""
    try:
        with store.snapshot():
            return None
    except StoreError as error:
        return f"{error.path}: {error.reason}"


def _check_part(store: MotionStore, path: Path) -> str | None:
    try:
        with open_store_file(path) as part:
            _verify(part)
            if part.header.kind == "base" and part.header.entries:
                problem = ann_problem(store.ann_path(part.header.file_id), part.header.dim, part.header.entries)
                if problem not in (None, "missing"):
                    return f"{store.ann_path(part.header.file_id)}: search index {problem} (the next search rebuilds it)"
    except NotALibraryError as error:
        return f"{path}: {error.reason}"
    except StoreError as error:
        return f"{path}: {error.reason}"
    except FileNotFoundError:
        return None  # compacted away while checking
    return None


def _verify(part: StoreFile) -> None:
    """Read everything (checksums are verified on read) and check what checksums cannot."""
    table = part.file_table()
    if part.header.kind != "base":
        part.removed()
    entries = part.header.entries
    for begin in range(0, entries, _BLOCK):
        rows = slice(begin, begin + _BLOCK)
        part.entry_column("file", rows)  # checks the file rows exist
        part.entry_column("start", rows)
        part.entry_column("end", rows)
        embedding = part.entry_column("embedding", rows)
        norms = np.linalg.norm(embedding, axis=1)
        if not np.isfinite(embedding).all() or not np.allclose(norms, 1.0, atol=1e-3):
            raise StoreError(part.path, "damaged library: embeddings that are not finite unit vectors")
    if len(table) != part.header.files:
        raise StoreError(part.path, "damaged library: the file table's columns disagree")
