"""One HDF5 file of the library: the base (`library.h5`) or a delta (`library.h5.d/NNNNNNNN.h5`).

Both kinds share one layout (format "tmr-library", version 1):

    attrs     format, format_version, kind ("base" | "segment", a delta's name on disk), lineage, file_id, seq,
              checkpoint_sha256, dim, created
    files/    one row per motion file: path (bytes, os.fsencode of the absolute path),
              content_sha256 (hex), size (bytes), mtime_ns, frames (at 20 fps), fps (the file's own
              rate), duration (s)
    entries/  one row per embedded stretch of a file: file (row in files/), start, end (s),
              embedding (dim,) float32, unit norm
    removed   (deltas) paths whose earlier entries this delta drops (pruned or no longer readable)

Every item therefore has its path, content hash, size, mtime, frame count, fps, duration, segment
and embedding; `checkpoint_sha256` names the checkpoint that made every embedding in the file (the
store never lets two checkpoints share a lineage). Files are written once, to a temporary name,
fsynced and renamed into place, and never modified afterwards: readers need no lock.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

import h5py
import numpy as np

from formats.atomic import write_atomic_path
from tmrcli.library.errors import REBUILD_HINT, StoreError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "FileRecord",
    "StoreRecord",
    "Header",
    "FileTable",
    "StoreFile",
    "EntrySource",
    "open_store_file",
    "write_store_file",
]

FORMAT = "tmr-library"
FORMAT_VERSION = 1
_CHUNK_ROWS = 65536  # rows copied at a time when a base is rewritten: bounded memory at any size
_FILE_COLUMNS = {"content_sha256": "S64", "size": "i8", "mtime_ns": "i8", "frames": "i4", "fps": "f4", "duration": "f4"}


@dataclass(frozen=True)
class FileRecord:
    """What the library knows of one motion file: where it is, its content and its timing."""

    path: str  # absolute
    content_sha256: str
    size: int
    mtime_ns: int
    frames: int  # at 20 fps
    fps: float  # the file's own frame rate
    duration: float  # seconds


@dataclass(frozen=True)
class StoreRecord:
    """One motion file and its embedded stretches: `starts`, `ends` (n,) seconds, `embeddings` (n, dim)."""

    file: FileRecord
    starts: np.ndarray
    ends: np.ndarray
    embeddings: np.ndarray


@dataclass(frozen=True)
class Header:
    """The attributes of a library file. `seq` orders deltas; a base's `seq` is the last delta it
    includes. `lineage` changes only when `tmr index --rebuild` starts over."""

    kind: str
    lineage: str
    file_id: str
    seq: int
    checkpoint_sha256: str
    dim: int
    created: str
    files: int
    entries: int


@dataclass(frozen=True)
class FileTable:
    """The files/ group as columns: `paths` (list of str), the rest numpy arrays of the same length."""

    paths: list[str]
    content_sha256: np.ndarray
    size: np.ndarray
    mtime_ns: np.ndarray
    frames: np.ndarray
    fps: np.ndarray
    duration: np.ndarray

    def __len__(self) -> int:
        return len(self.paths)

    def record(self, row: int) -> FileRecord:
        """Row `row` as a FileRecord."""
        return FileRecord(
            self.paths[row],
            self.content_sha256[row].decode(),
            int(self.size[row]),
            int(self.mtime_ns[row]),
            int(self.frames[row]),
            float(self.fps[row]),
            float(self.duration[row]),
        )

    def take(self, rows: np.ndarray) -> FileTable:
        """The table restricted to `rows`, in that order."""
        columns = {f.name: getattr(self, f.name)[rows] for f in fields(self) if f.name != "paths"}
        return FileTable([self.paths[i] for i in rows], **columns)

    @staticmethod
    def of(records: Sequence[FileRecord]) -> FileTable:
        """Records to columns."""
        columns = {
            name: np.array([getattr(r, name) for r in records], dtype=dtype) for name, dtype in _FILE_COLUMNS.items()
        }
        return FileTable([r.path for r in records], **columns)

    @staticmethod
    def concatenate(tables: Sequence[FileTable]) -> FileTable:
        """Tables one after the other."""
        columns = {
            name: np.concatenate([getattr(t, name) for t in tables]) if tables else np.zeros(0, dtype)
            for name, dtype in _FILE_COLUMNS.items()
        }
        return FileTable([p for t in tables for p in t.paths], **columns)


class StoreFile:
    """An open library file (read-only). Reading a damaged file raises StoreError naming it."""

    def __init__(self, path: Path, handle: h5py.File, header: Header) -> None:
        self.path = path
        self.header = header
        self._h5 = handle
        self._spans: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def file_table(self) -> FileTable:
        """Every file row."""
        with _damage_is_store_error(self.path):
            group = self._h5["files"]
            paths = [os.fsdecode(p) for p in group["path"][...]]
            columns = {name: group[name][...] for name in _FILE_COLUMNS}
        return FileTable(paths, **columns)

    def paths_at(self, rows: np.ndarray) -> list[str]:
        """Paths of the given file rows, in that order (reads only those rows)."""
        unique, inverse = np.unique(rows, return_inverse=True)
        with _damage_is_store_error(self.path):
            found = self._h5["files/path"][unique] if len(unique) else []
        return [os.fsdecode(found[i]) for i in inverse]

    def removed(self) -> list[str]:
        """Paths this delta drops."""
        with _damage_is_store_error(self.path):
            return [os.fsdecode(p) for p in self._h5["removed"][...]]

    def entry_spans(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(file, start, end) of every entry, read once (12 bytes an entry) and kept: searches then
        read only the embeddings and paths of their candidates."""
        if self._spans is None:
            self._spans = (self.entry_column("file"), self.entry_column("start"), self.entry_column("end"))
        return self._spans

    def entry_column(self, name: str, rows: np.ndarray | slice | None = None) -> np.ndarray:
        """One entries/ column (file, start, end, embedding), all rows or the given increasing rows."""
        with _damage_is_store_error(self.path):
            dataset = self._h5["entries"][name]
            if rows is None:
                return dataset[...]
            if isinstance(rows, np.ndarray) and len(rows) == 0:
                return np.zeros((0, *dataset.shape[1:]), dataset.dtype)
            return dataset[rows]


def _read_header(path: Path, handle: h5py.File) -> Header:
    attrs = handle.attrs
    if attrs.get("format") != FORMAT:
        raise StoreError(path, "not a tmr library (an HDF5 file without tmr's layout)", hint=REBUILD_HINT)
    version = int(attrs.get("format_version", -1))
    if version > FORMAT_VERSION:
        raise StoreError(
            path, f"library format {version} is newer than this tmr reads ({FORMAT_VERSION})", hint="upgrade tmr"
        )
    try:
        files, entries = handle["files/path"].shape[0], handle["entries/embedding"].shape[0]
        header = Header(
            kind=str(attrs["kind"]),
            lineage=str(attrs["lineage"]),
            file_id=str(attrs["file_id"]),
            seq=int(attrs["seq"]),
            checkpoint_sha256=str(attrs["checkpoint_sha256"]),
            dim=int(attrs["dim"]),
            created=str(attrs["created"]),
            files=int(files),
            entries=int(entries),
        )
    except KeyError as error:
        raise StoreError(path, f"damaged library: {error.args[0]} is missing", hint=REBUILD_HINT) from None
    if handle["entries/embedding"].shape[1:] != (header.dim,) or handle["entries/file"].shape[0] != entries:
        raise StoreError(path, "damaged library: entry columns of different lengths", hint=REBUILD_HINT)
    return header


@contextmanager
def _damage_is_store_error(path: Path) -> Iterator[None]:
    """HDF5 reports unreadable or truncated data as OSError, missing objects as KeyError."""
    try:
        yield
    except (OSError, KeyError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise StoreError(path, f"damaged library ({reason})", hint=REBUILD_HINT) from None


@contextmanager
def open_store_file(path: Path) -> Iterator[StoreFile]:
    """Open a library file read-only; StoreError when it is not one or is damaged.

    FileNotFoundError passes through: a delta can vanish between listing and opening when a
    writer compacts the library, and the caller retries with a fresh listing.
    """
    try:
        handle = h5py.File(path, "r", locking=False)
    except OSError as error:
        if not path.exists():  # deleted by a compaction since it was listed
            raise FileNotFoundError(path) from None
        with _damage_is_store_error(path):
            raise error from None
    try:
        with _damage_is_store_error(path):
            header = _read_header(path, handle)
        yield StoreFile(path, handle, header)
    finally:
        handle.close()


@dataclass(frozen=True)
class EntrySource:
    """Entries for a new library file: new `records`, or the rows of an open `StoreFile` where `keep`
    (a boolean mask over its entries; None keeps all). `file_map` maps the source's file rows (record
    positions) to rows of the new file table."""

    file_map: np.ndarray
    records: Sequence[StoreRecord] = ()
    store_file: StoreFile | None = None
    keep: np.ndarray | None = None

    def size(self) -> int:
        """How many entries this source contributes."""
        if self.store_file is None:
            return sum(len(record.starts) for record in self.records)
        return self.store_file.header.entries if self.keep is None else int(self.keep.sum())

    def blocks(self) -> Iterator[dict[str, np.ndarray]]:
        """Blocks of entry columns, file indices mapped; store files are read in slices of bounded size."""
        for index, record in enumerate(self.records):
            n = len(record.starts)
            file = np.full(n, self.file_map[index], dtype=np.int32)
            yield {"file": file, "start": record.starts, "end": record.ends, "embedding": record.embeddings}
        if self.store_file is None:
            return
        for begin in range(0, self.store_file.header.entries, _CHUNK_ROWS):
            chunk = slice(begin, begin + _CHUNK_ROWS)
            keep = slice(None) if self.keep is None else self.keep[chunk]
            block = {name: self.store_file.entry_column(name, chunk)[keep] for name in _ENTRY_COLUMNS}
            block["file"] = self.file_map[block["file"]]
            yield block


_ENTRY_COLUMNS = ("file", "start", "end", "embedding")


def write_store_file(
    path: Path, header: Header, files: FileTable, sources: Sequence[EntrySource] = (), removed: Sequence[str] = ()
) -> None:
    """Write a library file atomically: a temporary file beside `path`, fsync, rename, fsync the folder.

    Raises StoreError when the file cannot be written; on any failure the temporary file is removed
    and whatever was at `path` is untouched.
    """
    try:
        write_atomic_path(path, lambda temporary: _write_h5(temporary, header, files, sources, removed))
    except OSError as error:
        raise StoreError(path, f"cannot write the library ({error.strerror or error})") from None


def _write_h5(
    path: Path, header: Header, files: FileTable, sources: Sequence[EntrySource], removed: Sequence[str]
) -> None:
    with h5py.File(path, "w", locking=False) as h5:
        _write_attrs(h5, header)
        _write_files(h5, files)
        _write_entries(h5, header.dim, sources)
        h5.create_dataset("removed", data=np.array([os.fsencode(p) for p in removed], dtype=object), dtype=_BYTES)


_BYTES = h5py.string_dtype(encoding="ascii")  # variable-length bytes: any file name round-trips


def _write_attrs(h5: h5py.File, header: Header) -> None:
    h5.attrs.update(
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "kind": header.kind,
            "lineage": header.lineage,
            "file_id": header.file_id,
            "seq": header.seq,
            "checkpoint_sha256": header.checkpoint_sha256,
            "dim": header.dim,
            "created": header.created or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
    )


def _write_files(h5: h5py.File, files: FileTable) -> None:
    group = h5.create_group("files")
    group.create_dataset("path", data=np.array([os.fsencode(p) for p in files.paths], dtype=object), dtype=_BYTES)
    for name, dtype in _FILE_COLUMNS.items():
        group.create_dataset(name, data=np.asarray(getattr(files, name), dtype=dtype))


def _write_entries(h5: h5py.File, dim: int, sources: Sequence[EntrySource]) -> None:
    total = sum(source.size() for source in sources)
    group = h5.create_group("entries")
    shapes = {
        "file": ((total,), "i4"),
        "start": ((total,), "f4"),
        "end": ((total,), "f4"),
        "embedding": ((total, dim), "f4"),
    }
    columns = {name: group.create_dataset(name, shape, dtype) for name, (shape, dtype) in shapes.items()}
    at = 0
    for source in sources:
        for block in source.blocks():
            n = len(block["file"])
            if n:
                for name, dataset in columns.items():
                    dataset[at : at + n] = block[name]
            at += n
