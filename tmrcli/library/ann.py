"""The HNSW index (hnswlib, cosine) of a library's base, and exact re-ranking of its candidates.

The index of a base lives in `L.d/ann-<file_id>.hnsw`: the name is the fingerprint (each base file gets
a new random file_id when written), so an index can never be paired with other contents; an index
whose element count or width disagrees with its base, or that does not load, is rebuilt from the
base's embeddings. Labels are entry rows of the base.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from formats.atomic import write_atomic_path
from tmrcli.library.storefile import StoreFile

__all__ = [
    "M",
    "EF_CONSTRUCTION",
    "ef_for",
    "build_ann",
    "load_ann",
    "save_ann",
    "ann_for_base",
    "ensure_ann",
    "ann_candidates",
]

# Graph degree and construction beam: recall@10 >= 0.99 against exact search at 1M vectors with
# `ef_for` below (measured in benchmarks/search.py).
M = 16
EF_CONSTRUCTION = 200
_MIN_EF = 256
_BUILD_BLOCK = 65536


def ef_for(want: int) -> int:
    """Search beam for `want` neighbours."""
    return max(_MIN_EF, 2 * want)


def build_ann(blocks: Iterable[np.ndarray], count: int, dim: int, threads: int = -1):  # -> hnswlib.Index
    """An index of `count` vectors given in row blocks (labels 0..count-1 in order)."""
    import hnswlib

    index = hnswlib.Index(space="cosine", dim=dim)
    index.init_index(max_elements=max(count, 1), ef_construction=EF_CONSTRUCTION, M=M, random_seed=0)
    at = 0
    for block in blocks:
        if len(block):
            index.add_items(
                np.ascontiguousarray(block, dtype=np.float32), np.arange(at, at + len(block)), num_threads=threads
            )
        at += len(block)
    return index


def save_ann(index, path: Path) -> None:
    """Save atomically (temporary file, fsync, rename): a reader never sees half an index."""
    write_atomic_path(path, lambda temporary: index.save_index(str(temporary)))


def load_ann(path: Path, dim: int, count: int):  # -> hnswlib.Index | None
    """The index at `path`, or None when it is missing, unreadable or not of `count` vectors of `dim`."""
    import hnswlib

    if not path.is_file():
        return None
    index = hnswlib.Index(space="cosine", dim=dim)
    try:
        index.load_index(str(path), max_elements=count)
    except (RuntimeError, ValueError, MemoryError):
        return None
    return index if index.get_current_count() == count and index.dim == dim else None


def ann_for_base(base: StoreFile, path: Path):  # -> hnswlib.Index
    """Load the base's index, or build it from the base's embeddings (and save it, when the folder is
    writable; a read-only library is still searchable)."""
    header = base.header
    index = load_ann(path, header.dim, header.entries)
    if index is not None:
        return index
    blocks = (
        base.entry_column("embedding", slice(i, i + _BUILD_BLOCK)) for i in range(0, header.entries, _BUILD_BLOCK)
    )
    index = build_ann(blocks, header.entries, header.dim)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_ann(index, path)
    except OSError:
        pass  # read-only library: the index lives in memory for this search only
    return index


def ensure_ann(base: StoreFile, path: Path) -> None:
    """Build and save the base's index unless a file for it is already there (writers call this)."""
    if not path.is_file():
        ann_for_base(base, path)


def ann_candidates(index, query: np.ndarray, want: int) -> np.ndarray:
    """Rows of the (approximately) `want` nearest entries to `query` (dim,), increasing row order."""
    want = min(want, index.get_current_count())
    if want <= 0:
        return np.zeros(0, dtype=np.int64)
    index.set_ef(ef_for(want))
    labels, _ = index.knn_query(np.ascontiguousarray(query[None], dtype=np.float32), k=want)
    return np.sort(labels[0].astype(np.int64))
