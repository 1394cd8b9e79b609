"""One HDF5 file of the library: the base (`library.h5`) or a delta (`library.h5.d/NNNNNNNN.h5`).

Both kinds share one layout (format "tmr-library", version 1):

    attrs     format, format_version, kind ("base" | "segment", a delta's name on disk), lineage, file_id, seq,
              checkpoint_sha256, dim, created; a delta's after_seq (the seq it follows in its lineage);
              checkpoint (what `--checkpoint` loads it: a registered name or an absolute path), when known
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

import errno
import os
import shutil
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

import h5py
import numpy as np

from formats.atomic import write_atomic_path
from tmrcli.library.errors import NOT_A_LIBRARY_HINT, REPAIR_HINT, DiskFullError, NotALibraryError, StoreError

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
    "is_hdf5",
    "names_crc32",
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
    # A delta's predecessor in its lineage: the seq of the delta (or base) it follows, -1 for the
    # first of a rebuild; a gap in this chain is a deleted delta. None in files written before it.
    after_seq: int | None = None
    # The checkpoint that made the embeddings, as `--checkpoint` takes it (a registered name or an
    # absolute path); None in files written before it, or by a checkpoint not read from a file.
    checkpoint: str | None = None


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
        self._embeddings: np.ndarray | None = None  # all of them, when kept in memory
        self._paths: list[str] | None = None

    def keep_in_memory(self, embeddings: np.ndarray | None = None) -> np.ndarray:
        """Read every embedding and path now and answer later searches from memory: what a
        long-running reader (`tmr serve`) wants, where each query would otherwise read its candidates'
        rows from HDF5 (8 ms at 100k entries). `embeddings`: this file's column, kept from an earlier
        opening of it. Returns the kept embeddings."""
        if self._embeddings is None:
            kept = self.entry_column("embedding") if embeddings is None else embeddings
            kept.setflags(write=False)  # shared by every search (and the next opening)
            self._embeddings, self._paths = kept, self.file_table().paths
        return self._embeddings

    def file_table(self) -> FileTable:
        """Every file row."""
        with _damage_is_store_error(self.path):
            group = self._h5["files"]
            paths = [os.fsdecode(p) for p in self._names(group["path"])]
            columns = {name: group[name][...] for name in _FILE_COLUMNS}
        return FileTable(paths, **columns)

    def _names(self, dataset: h5py.Dataset) -> list[bytes]:
        """A names dataset, checked against its CRC-32 (files written before checksums have none)."""
        names = [bytes(name) for name in dataset[...]]
        stored = dataset.attrs.get("crc32")
        if stored is not None and int(stored) != names_crc32(names):
            raise StoreError(self.path, f"damaged library: {dataset.name} fails its checksum", hint=REPAIR_HINT)
        return names

    def paths_at(self, rows: np.ndarray) -> list[str]:
        """Paths of the given file rows, in that order (reads only those rows)."""
        if self._paths is not None:
            return [self._paths[row] for row in rows]
        unique, inverse = np.unique(rows, return_inverse=True)
        with _damage_is_store_error(self.path):
            found = self._h5["files/path"][unique] if len(unique) else []
        return [os.fsdecode(found[i]) for i in inverse]

    def removed(self) -> list[str]:
        """Paths this delta drops."""
        with _damage_is_store_error(self.path):
            return [os.fsdecode(p) for p in self._names(self._h5["removed"])]

    def entry_spans(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(file, start, end) of every entry, read once (12 bytes an entry) and kept: searches then
        read only the embeddings and paths of their candidates."""
        if self._spans is None:
            self._spans = (self.entry_column("file"), self.entry_column("start"), self.entry_column("end"))
        return self._spans

    def entry_column(self, name: str, rows: np.ndarray | slice | None = None) -> np.ndarray:
        """One entries/ column (file, start, end, embedding), all rows or the given increasing rows."""
        if name == "embedding" and self._embeddings is not None:
            return self._embeddings if rows is None else self._embeddings[rows]
        with _damage_is_store_error(self.path):
            dataset = self._h5["entries"][name]
            if rows is None:
                values = dataset[...]
            elif isinstance(rows, np.ndarray) and len(rows) == 0:
                return np.zeros((0, *dataset.shape[1:]), dataset.dtype)
            else:
                values = dataset[rows]
        if name == "file" and len(values) and not (0 <= values.min() and values.max() < self.header.files):
            raise StoreError(self.path, "damaged library: an entry names a file row that does not exist", hint=REPAIR_HINT)
        return values


def _read_header(path: Path, handle: h5py.File) -> Header:
    attrs = handle.attrs
    if attrs.get("format") != FORMAT:
        raise NotALibraryError(path, "not a tmr library (an HDF5 file without tmr's layout)", hint=NOT_A_LIBRARY_HINT)
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
            after_seq=int(attrs["after_seq"]) if "after_seq" in attrs else None,
            checkpoint=str(attrs["checkpoint"]) if "checkpoint" in attrs else None,
        )
    except KeyError as error:
        raise StoreError(path, f"damaged library: {error.args[0]} is missing", hint=REPAIR_HINT) from None
    if handle["entries/embedding"].shape[1:] != (header.dim,) or handle["entries/file"].shape[0] != entries:
        raise StoreError(path, "damaged library: entry columns of different lengths", hint=REPAIR_HINT)
    return header


@contextmanager
def _damage_is_store_error(path: Path) -> Iterator[None]:
    """HDF5 reports unreadable or truncated data as OSError, missing objects as KeyError."""
    try:
        yield
    except (OSError, KeyError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise StoreError(path, f"damaged library ({reason})", hint=REPAIR_HINT) from None


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def is_hdf5(path: Path) -> bool:
    """Whether the file starts with HDF5's signature (tmr writes no user block); False when unreadable."""
    try:
        with open(path, "rb") as file:
            return file.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE
    except OSError:
        return False


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
        if not is_hdf5(path):
            raise NotALibraryError(path, "not a tmr library (not an HDF5 file)", hint=NOT_A_LIBRARY_HINT) from None
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
    path.parent.mkdir(parents=True, exist_ok=True)
    # HDF5 left in the middle of a write by a full disk fails again on close and at exit (it
    # crashed the interpreter once): make sure of the room first, and still catch what slips by.
    needed = _size_estimate(header, files, sources, removed)
    try:
        room = shutil.disk_usage(path.parent).free
    except OSError:
        room = needed
    if room < needed:
        raise DiskFullError(path, f"no space left on {mount_point(path.parent)} while writing {path}")
    try:
        write_atomic_path(path, lambda temporary: write_h5_file(temporary, header, files, sources, removed))
    except (OSError, RuntimeError) as error:
        if getattr(error, "errno", None) == errno.ENOSPC or "No space left" in str(error) or "errno = 28" in str(error):
            raise DiskFullError(path, f"no space left on {mount_point(path.parent)} while writing {path}") from None
        reason = getattr(error, "strerror", None) or str(error).splitlines()[0]
        raise StoreError(path, f"cannot write the library ({reason})") from None


def _size_estimate(header: Header, files: FileTable, sources: Sequence[EntrySource], removed: Sequence[str]) -> int:
    """Bytes a library file will take, generously: entries, file rows, names, HDF5's own overhead."""
    entries = sum(source.size() for source in sources)
    names = sum(len(p) + 16 for p in files.paths) + sum(len(p) + 16 for p in removed)
    return int(1.2 * (entries * (header.dim * 4 + 12) + len(files) * 48 + names)) + (64 << 10)


def mount_point(folder: Path) -> Path:
    """The mount point of the filesystem that holds `folder` (what a full disk is called by)."""
    folder = Path(os.path.abspath(folder))
    device = os.stat(folder).st_dev
    while folder.parent != folder and os.stat(folder.parent).st_dev == device:
        folder = folder.parent
    return folder


def write_h5_file(
    path: Path, header: Header, files: FileTable, sources: Sequence[EntrySource], removed: Sequence[str]
) -> None:
    # libver v110: object headers carry checksums, so damaged metadata is detected as well as data.
    with h5py.File(path, "w", locking=False, libver=("v110", "latest")) as h5:
        _write_attrs(h5, header)
        _write_files(h5, files)
        _write_entries(h5, header.dim, sources)
        _write_names(h5, "removed", removed)


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
    if header.after_seq is not None:
        h5.attrs["after_seq"] = header.after_seq
    if header.checkpoint is not None:
        h5.attrs["checkpoint"] = header.checkpoint


def _write_files(h5: h5py.File, files: FileTable) -> None:
    group = h5.create_group("files")
    _write_names(group, "path", files.paths)
    for name, dtype in _FILE_COLUMNS.items():
        group.create_dataset(name, data=np.asarray(getattr(files, name), dtype=dtype), fletcher32=True)


def _write_names(group: h5py.Group, name: str, paths: Sequence[str]) -> None:
    """Variable-length names, which HDF5 cannot filter: their checksum is an attribute, `crc32`."""
    encoded = [os.fsencode(p) for p in paths]
    dataset = group.create_dataset(name, data=np.array(encoded, dtype=object), dtype=_BYTES)
    dataset.attrs["crc32"] = names_crc32(encoded)


def names_crc32(names: Sequence[bytes]) -> int:
    """CRC-32 of a list of names, each followed by a NUL (no name holds one)."""
    crc = zlib.crc32(len(names).to_bytes(8, "little"))
    for name in names:
        crc = zlib.crc32(name + b"\0", crc)
    return crc


def _checksummed(shape: tuple[int, ...]) -> dict[str, object]:
    """Options for a fletcher32-checksummed dataset in chunks of about 64 KiB (an empty one has no
    data to check, and HDF5 cannot chunk it)."""
    if shape[0] == 0:
        return {}
    rows = max(1, min(shape[0], (1 << 14) // max(1, int(np.prod(shape[1:])))))
    return {"fletcher32": True, "chunks": (rows, *shape[1:])}


def _write_entries(h5: h5py.File, dim: int, sources: Sequence[EntrySource]) -> None:
    total = sum(source.size() for source in sources)
    group = h5.create_group("entries")
    shapes = {
        "file": ((total,), "i4"),
        "start": ((total,), "f4"),
        "end": ((total,), "f4"),
        "embedding": ((total, dim), "f4"),
    }
    # fletcher32: a checksum per chunk, verified by HDF5 on every read; a flipped byte is an error.
    columns = {
        name: group.create_dataset(name, shape, dtype, **_checksummed(shape)) for name, (shape, dtype) in shapes.items()
    }
    at = 0
    for source in sources:
        for block in source.blocks():
            n = len(block["file"])
            if n:
                for name, dataset in columns.items():
                    dataset[at : at + n] = block[name]
            at += n
