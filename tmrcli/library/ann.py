"""The HNSW index (hnswlib, cosine) of a library's base, and exact re-ranking of its candidates.

The index of a base lives in `L.d/ann-<file_id>.hnsw`: the name is the fingerprint (each base file gets
a new random file_id when written), so an index can never be paired with other contents; an index
whose element count or width disagrees with its base, or that does not load, is rebuilt from the
base's embeddings. Labels are entry rows of the base.
"""

from __future__ import annotations

import struct
import sys
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from formats.atomic import write_atomic, write_atomic_path
from tmrcli.library.storefile import StoreFile

__all__ = [
    "M",
    "EF_CONSTRUCTION",
    "ef_for",
    "build_ann",
    "load_ann",
    "ann_problem",
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
    """Save atomically (temporary file, fsync, rename), then its checksum beside it: a reader never
    sees half an index, and one that does not match its checksum is rebuilt."""
    write_atomic_path(path, lambda temporary: index.save_index(str(temporary)))
    write_atomic(_checksum_path(path), lambda file: file.write(b"%d\n" % _file_crc32(path)))


def ann_problem(path: Path, dim: int, count: int) -> str | None:
    """Why the index file at `path` cannot serve a base of `count` vectors of `dim` (None: it can).
    Checks hnswlib's header against the base (element count, entry point in range, level, degree,
    record size) and the file's checksum before hnswlib reads it: a damaged header crashed it."""
    try:
        with open(path, "rb") as file:
            header = file.read(_HEADER.size)
        size = path.stat().st_size
        stored = int(_checksum_path(path).read_text().strip() or -1)
    except FileNotFoundError as error:
        return "missing" if error.filename == str(path) else "its checksum file is missing"
    except (OSError, ValueError):
        return "unreadable"
    if len(header) < _HEADER.size:
        return "truncated header"
    level0, capacity, elements, per_element, label_at, data_at, max_level, entry, max_m, max_m0, m = _HEADER.unpack(
        header
    )[:11]
    expected_record = max_m0 * 4 + 4 + dim * 4 + 8  # links, their count, the vector, the label
    if (elements, m, max_m, max_m0) != (count, M, M, 2 * M) or per_element != expected_record:
        return "its header does not match the base (element count, degree or width)"
    if not (0 <= entry < max(count, 1)) or not (0 <= max_level < 64) or capacity < elements:
        return "its header is damaged (entry point or level out of range)"
    if level0 != 0 or data_at != (max_m0 + 1) * 4 or label_at != data_at + dim * 4 or size < _HEADER.size + count * per_element:
        return "its header is damaged (record layout or size)"
    if _file_crc32(path) != stored:
        return "it fails its checksum"
    return None


def load_ann(path: Path, dim: int, count: int):  # -> hnswlib.Index | None
    """The index at `path`, or None when it is missing, damaged or not of `count` vectors of `dim`."""
    import hnswlib

    if ann_problem(path, dim, count) is not None:
        return None
    index = hnswlib.Index(space="cosine", dim=dim)
    try:
        index.load_index(str(path), max_elements=count)
    except (RuntimeError, ValueError, MemoryError):
        return None
    return index if index.get_current_count() == count and index.dim == dim else None


# hnswlib's saved header: offsetLevel0, max_elements, cur_element_count, size_data_per_element,
# label_offset, offsetData (size_t), maxlevel (int), enterpoint_node (unsigned), maxM, maxM0, M
# (size_t), mult (double), ef_construction (size_t); little-endian on every platform we run.
_HEADER = struct.Struct("<6Q i I 3Q d Q")


def _checksum_path(path: Path) -> Path:
    return path.with_name(path.name + ".crc32")


def _file_crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 22), b""):
            crc = zlib.crc32(block, crc)
    return crc


def ann_for_base(base: StoreFile, path: Path):  # -> hnswlib.Index
    """Load the base's index, or build it from the base's embeddings (and save it, when the folder is
    writable; a read-only library is still searchable)."""
    header = base.header
    index = load_ann(path, header.dim, header.entries)
    if index is not None:
        return index
    if path.is_file():
        problem = ann_problem(path, header.dim, header.entries) or "hnswlib could not load it"
        print(f"note: the search index {path.name} is damaged ({problem}); rebuilding it from the library", file=sys.stderr)
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
    """Build and save the base's index unless a sound one is already there (writers call this)."""
    if ann_problem(path, base.header.dim, base.header.entries) is not None:
        ann_for_base(base, path)


def ann_candidates(index, query: np.ndarray, want: int) -> np.ndarray:
    """Rows of the (approximately) `want` nearest entries to `query` (dim,), increasing row order."""
    want = min(want, index.get_current_count())
    if want <= 0:
        return np.zeros(0, dtype=np.int64)
    index.set_ef(ef_for(want))
    labels, _ = index.knn_query(np.ascontiguousarray(query[None], dtype=np.float32), k=want)
    return np.sort(labels[0].astype(np.int64))
