"""The motion library: a base HDF5 file plus small delta files, updated without ever being at risk.

Layout beside the library path `L` (default `$XDG_DATA_HOME/tmr/library.h5`):

    L             the base: every entry as of the last compaction (`tmrcli/library/storefile.py`)
    L.d/NNNNNNNN.h5   deltas: one per committed batch of `tmr index`, newest last
    L.d/ann-<id>.hnsw the HNSW index of the base whose file_id is <id> (`tmrcli/library/ann.py`)
    L.d/newest.json   the lineage and seq of the newest commit (`tmrcli/library/newest.py`)
    L.d/cache/        text-bank embeddings of commands given this library's --store (`tmrcli/library/caption.py`)
    L.lock        the writers' lock (`tmrcli/library/lock.py`)

What the library holds is the base plus the deltas of its lineage with a larger `seq`; a file's
rows in a later delta (or its path in a later delta's `removed`) replace its earlier rows.

Why it is crash-safe: every file is written under a temporary name, fsynced, then renamed, and never
changed afterwards. A commit is the rename of one delta, so a killed writer leaves either the
previous state or the new one, and everything committed before stays. Each delta names the one it
follows and `newest.json` the newest, so a deleted delta is seen as damage, never as a smaller library. Compaction writes a new base
(`seq` = the last delta it includes) and renames it over the old one; deltas it includes are
deleted afterwards, and until then readers ignore them because of that `seq`. A rebuild writes its
deltas under a new lineage, which readers ignore until the rebuild's final compaction replaces the
base; killed, it leaves the old library as it was, and the next `--rebuild` resumes.

Why it is cheap: a commit writes only its batch. The base is rewritten when the deltas hold as many
entries as it does (during a run) or a quarter of it (at the end of a run), so the bytes written
stay proportional to the library's size over its lifetime, not to size x updates.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any
from pathlib import Path

import numpy as np

from formats.atomic import fsync_directory, is_temporary_of
from tmrcli.library.errors import REPAIR_HINT, DiskFullError, NotALibraryError, StoreError, checkpoint_mismatch
from tmrcli.library.storefile import (
    EntrySource,
    FileRecord,
    FileTable,
    StoreFile,
    Header,
    StoreRecord,
    open_store_file,
    write_store_file,
)
from tmrcli.library.lock import StoreLock
from tmrcli.library.newest import NEWEST_NAME, NewestCommit, read_newest, write_newest

__all__ = ["MotionStore", "Snapshot", "StoreWriter"]

_OPEN_RETRIES = 5


class MotionStore:
    """The library at `path`: read it through `snapshot()`, change it through `writer()`."""

    def __init__(self, path: Path) -> None:
        # Resolved once, before anything is locked or written: a library reached through a symlink
        # keeps its lock, deltas and base beside the real file, and compaction never replaces the link.
        self.path = Path(os.path.realpath(path))
        self.folder = self.path.with_name(self.path.name + ".d")

    def exists(self) -> bool:
        """Whether a library has been written here."""
        return self.path.is_file()

    def delta_names(self) -> list[Path]:
        """The delta files on disk, oldest first."""
        return sorted(self.folder.glob("[0-9]*.h5")) if self.folder.is_dir() else []

    def delta_path(self, seq: int) -> Path:
        """Where the delta with this sequence number lives."""
        return self.folder / f"{seq:08d}.h5"

    @property
    def cache_folder(self) -> Path:
        """Where commands told to use this library keep their text-bank caches: with the library, so
        a library on another disk keeps its caches there (and deleting it deletes them)."""
        return self.folder / "cache"

    def ann_path(self, file_id: str) -> Path:
        """Where the HNSW index of the base with this file_id lives."""
        return self.folder / f"ann-{file_id}.hnsw"

    def disk_files(self) -> list[Path]:
        """Every file of this library on disk (base, deltas, indexes, lock)."""
        found = [p for p in (self.path, self.path.with_name(self.path.name + ".lock")) if p.is_file()]
        return found + (sorted(p for p in self.folder.iterdir() if p.is_file()) if self.folder.is_dir() else [])

    def readable_paths(self) -> list[str]:
        """Every motion file that the base or a delta still names, read from whichever are readable
        (what a rebuild of a damaged library re-embeds); files of unreadable parts are not known."""
        found: dict[str, None] = {}
        for path in [self.path, *self.delta_names()]:
            try:
                with open_store_file(path) as store_file:
                    found.update(dict.fromkeys(store_file.file_table().paths))
            except (StoreError, FileNotFoundError):
                continue
        return list(found)

    @contextmanager
    def snapshot(self, lineage: str | None = None) -> Iterator[Snapshot]:
        """A consistent read-only view; no lock needed. `lineage` selects a rebuild in progress instead
        of the base's own lineage. StoreError when there is no library or it is damaged."""
        with ExitStack() as stack:
            yield self._open(stack, lineage)

    def writer(
        self, checkpoint_sha256: str, dim: int, *, rebuild: bool = False, checkpoint: str | None = None
    ) -> StoreWriter:
        """The one writer (a context manager that takes the lock): see `StoreWriter`. `checkpoint` is
        what `--checkpoint` takes to load the model again, recorded in every file written."""
        return StoreWriter(self, checkpoint_sha256, dim, rebuild=rebuild, checkpoint=checkpoint)

    def recorded_checkpoint(self) -> str | None:
        """What `--checkpoint` takes to load the model that made this library: the name or path it
        recorded, else the registered name of its SHA256; None for no library, an empty or unreadable
        one, or a model it cannot name (the commands that use it then say which SHA256 it wants)."""
        from model.checkpoint_file import registered_name

        try:
            with self.snapshot() as view:
                return view.checkpoint or registered_name(view.checkpoint_sha256)
        except (StoreError, OSError):
            return None

    def _open(self, stack: ExitStack, lineage: str | None) -> Snapshot:
        for _ in range(_OPEN_RETRIES):
            attempt = ExitStack()
            try:
                snapshot = self._try_open(attempt, lineage)
            except FileNotFoundError:
                attempt.close()
                if not self.exists() and lineage is None:
                    raise self.missing_base() from None
                continue  # a writer compacted between listing and opening: read the new state
            except BaseException:
                attempt.close()
                raise
            stack.enter_context(attempt)
            return snapshot
        raise StoreError(self.path, "the library kept changing while being read", hint="try again")

    def missing_base(self) -> StoreError:
        """No base: a new library, or (deltas present) one whose base was deleted, which is damage."""
        deltas = self.delta_names()
        if deltas:
            return StoreError(
                self.path,
                f"damaged library: the base file is missing but {len(deltas)} delta file(s) remain in {self.folder}",
                hint=REPAIR_HINT,
            )
        return StoreError(self.path, "no library here yet", hint="index your motion files: tmr index PATH...")

    def _try_open(self, stack: ExitStack, lineage: str | None) -> Snapshot:
        # Read first: a writer records a commit only after its delta is in place (or compacted).
        newest = read_newest(self.folder) if lineage is None else None
        before = _inode(self.path)
        base = _open_base(stack, self.path, lineage) if before is not None else None
        deltas = []
        for name in self.delta_names():
            try:
                deltas.append(stack.enter_context(open_store_file(name)))
            except StoreError as error:
                if lineage is None:
                    if isinstance(error, NotALibraryError):  # tmr wrote every file in its folder: this is damage
                        raise StoreError(name, f"damaged library: {error.reason}", hint=REPAIR_HINT) from None
                    raise
                # A rebuild's view holds only what the rebuild wrote: a damaged delta of the old
                # library is not part of it (and the rebuild's final clean-up deletes it).
        if _inode(self.path) != before:
            raise FileNotFoundError(self.path)  # compacted meanwhile: its deltas may be gone, read again
        if base is None and lineage is None:
            raise FileNotFoundError(self.path)
        wanted = lineage if lineage is not None else base.header.lineage  # type: ignore[union-attr]
        if base is not None and base.header.lineage != wanted:
            base = None  # a rebuild's view starts from nothing
        after = base.header.seq if base is not None else -1
        live = [s for s in deltas if s.header.lineage == wanted and s.header.seq > after]
        pending = [s.header for s in deltas if s.header.lineage != wanted]
        self._check_chain(after, live, newest if newest is not None and newest.lineage == wanted else None)
        return Snapshot(self, base, live, pending)

    def _check_chain(self, after: int, live: list[StoreFile], newest: NewestCommit | None) -> None:
        """Each delta names the one it follows, and `newest` the last: a gap, or a chain that ends
        before it, means a delta file was deleted, and its files lost."""
        for delta in live:
            follows = delta.header.after_seq
            if follows is not None and follows != after:
                raise StoreError(
                    self.path,
                    f"damaged library: delta {follows:08d}.h5, which {delta.path.name} follows, is missing "
                    "(the files it held are lost)",
                    hint=REPAIR_HINT,
                )
            after = delta.header.seq
        if newest is not None and after < newest.seq:
            raise StoreError(
                self.path,
                f"damaged library: delta {newest.seq:08d}.h5, its newest commit, is missing (the files it held "
                "are lost)",
                hint=REPAIR_HINT,
            )


def _open_base(stack: ExitStack, path: Path, lineage: str | None) -> StoreFile | None:
    """The base; in a rebuild's view (`lineage` given) a damaged base is simply not part of it."""
    try:
        return stack.enter_context(open_store_file(path))
    except StoreError:
        if lineage is None:
            raise
        return None


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


@dataclass
class Snapshot:
    """The base (None in a rebuild's view) and the live deltas after it, oldest first, plus the
    headers of deltas that belong to another lineage (a rebuild in progress, or abandoned)."""

    store: MotionStore
    base: StoreFile | None
    deltas: list[StoreFile]
    pending: list[Header]
    _ann: Any = field(default=None, repr=False)

    def ann_index(self) -> Any:  # hnswlib.Index
        """The base's HNSW index, loaded (or rebuilt) once per snapshot."""
        from tmrcli.library.ann import ann_for_base

        if self._ann is None and self.base is not None:
            self._ann = ann_for_base(self.base, self.store.ann_path(self.base.header.file_id))
        return self._ann

    @property
    def store_files(self) -> list[StoreFile]:
        """The base (if any) then the live deltas, oldest first."""
        return ([self.base] if self.base is not None else []) + self.deltas

    @property
    def checkpoint_sha256(self) -> str | None:
        """SHA256 of the checkpoint that made every embedding here (None: nothing written yet)."""
        store_files = self.store_files
        return store_files[0].header.checkpoint_sha256 if store_files else None

    @property
    def checkpoint(self) -> str | None:
        """The checkpoint that made the embeddings as the newest file recorded it (a registered name
        or an absolute path), None when no file here recorded one."""
        return next((f.header.checkpoint for f in reversed(self.store_files) if f.header.checkpoint), None)

    @property
    def dim(self) -> int | None:
        """Width of the embeddings (None: nothing written yet)."""
        store_files = self.store_files
        return store_files[0].header.dim if store_files else None

    def replaced_after(self) -> list[set[str]]:
        """For each store file, the paths that later deltas replace or remove."""
        later: set[str] = set()
        result: list[set[str]] = []
        for store_file in reversed(self.store_files):
            result.append(set(later))
            if store_file is not self.base:
                later |= set(store_file.file_table().paths) | set(store_file.removed())
        return result[::-1]

    def live_parts(self) -> list[tuple[StoreFile, FileTable, np.ndarray]]:
        """Per store file: its file table and a boolean mask of its files that are still live."""
        parts = []
        for store_file, replaced in zip(self.store_files, self.replaced_after()):
            table = store_file.file_table()
            live = np.array([p not in replaced for p in table.paths], dtype=bool)
            parts.append((store_file, table, live))
        return parts

    def live_files(self) -> FileTable:
        """Every file the library holds now."""
        return FileTable.concatenate([table.take(np.flatnonzero(live)) for _, table, live in self.live_parts()])

    def live_entries(self) -> Iterator[tuple[StoreFile, np.ndarray, FileTable]]:
        """Per store file: a boolean mask of its live entries and its file table."""
        for store_file, table, live in self.live_parts():
            mask = live[store_file.entry_column("file")] if len(table) else np.zeros(store_file.header.entries, bool)
            yield store_file, mask, table


class StoreWriter:
    """Commits batches of records as deltas, under the library's lock, and compacts at the end.

    In normal mode the library must hold embeddings of `checkpoint_sha256` (StoreError otherwise, with
    the rebuild hint); a missing library is created empty. With `rebuild`, everything is written to a
    new lineage (or the one an interrupted rebuild with the same checkpoint left) and replaces the
    library only at `finish`.
    """

    def __init__(
        self, store: MotionStore, checkpoint_sha256: str, dim: int, *, rebuild: bool, checkpoint: str | None = None
    ) -> None:
        self.store = store
        self.checkpoint_sha256 = checkpoint_sha256
        self.checkpoint = checkpoint
        self.dim = dim
        self.rebuild = rebuild
        self.lineage = ""
        self.known: dict[str, FileRecord] = {}  # files in the lineage being written, as last committed
        self.previous: list[str] = []  # rebuild: files the current library holds
        self.previous_error: StoreError | None = None  # rebuild: why the current library could not be read
        self.committed = 0  # files this writer has committed
        self._lock = StoreLock(store.path)
        self._next_seq = 1
        self._last_seq = -1  # the seq the next delta follows in this lineage (-1: none yet)
        self._base_entries = 0
        self._delta_entries = 0
        self._deltas = 0

    def __enter__(self) -> StoreWriter:
        self._lock.acquire()
        try:
            self._remove_leftovers()
            self._prepare()
        except BaseException:
            self._lock.release()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._lock.release()

    def commit(self, records: Sequence[StoreRecord], removed: Sequence[str] = ()) -> None:
        """Write one delta: these files' entries replace their earlier ones, `removed` paths are dropped."""
        if not records and not removed:
            return
        files = FileTable.of([r.file for r in records])
        header = self._header(
            "segment", self._next_seq, files=len(records), entries=sum(len(r.starts) for r in records)
        )
        header = dataclasses.replace(header, after_seq=self._last_seq)
        source = EntrySource(file_map=np.arange(len(records)), records=records)
        try:
            write_store_file(self.store.delta_path(self._next_seq), header, files, [source], removed)
        except DiskFullError as error:
            raise DiskFullError(
                self.store.path,
                f"{error.reason}; nothing committed since the last batch ({self.committed} files committed "
                "by this run are kept)",
                hint="free some space, then run the command again: it resumes",
            ) from None
        self.committed += len(records)
        if not self.rebuild:  # a rebuild's deltas are no part of the library until its compaction
            write_newest(self.store.folder, NewestCommit(self.lineage, self._next_seq))
        self._last_seq = self._next_seq
        self._next_seq += 1
        self._deltas += 1
        self._delta_entries += header.entries
        for path in removed:
            self.known.pop(path, None)
        self.known.update((r.file.path, r.file) for r in records)
        # Doubling keeps the total rewrite cost linear; a rebuild replaces the library only at the end.
        if not self.rebuild and self._deltas >= 8 and self._delta_entries >= self._base_entries:
            self.compact()

    def finish(self) -> None:
        """End of a run: compact when the deltas have grown (always, to complete a rebuild)."""
        if self.rebuild or self._deltas >= 16 or self._delta_entries * 4 >= max(self._base_entries, 1):
            if self._deltas or self.rebuild:
                self.compact()

    def compact(self) -> None:
        """Rewrite the base from the live view of this writer's lineage, then delete what it includes."""
        with self.store.snapshot(self.lineage) as view:
            parts = list(view.live_entries())
            tables, sources, offset = [], [], 0
            for store_file, mask, table in parts:
                live_files = np.unique(store_file.entry_column("file")[mask]) if mask.any() else np.zeros(0, int)
                file_map = np.full(max(len(table), 1), -1, dtype=np.int32)
                file_map[live_files] = offset + np.arange(len(live_files), dtype=np.int32)
                tables.append(table.take(live_files))
                sources.append(EntrySource(file_map=file_map, store_file=store_file, keep=mask))
                offset += len(live_files)
            entries = sum(int(mask.sum()) for _, mask, _ in parts)
            header = self._header("base", self._next_seq - 1, files=offset, entries=entries)
            try:
                write_store_file(self.store.path, header, FileTable.concatenate(tables), sources)
            except DiskFullError as error:
                raise DiskFullError(
                    self.store.path,
                    f"{error.reason}; the library is as it was after the last batch (compaction needs room "
                    "for a second copy of the base)",
                    hint="free some space, then run the command again",
                ) from None
        self._base_entries, self._delta_entries, self._deltas = entries, 0, 0
        self._last_seq = header.seq
        write_newest(self.store.folder, NewestCommit(self.lineage, header.seq))
        self._remove_included(header.seq)

    def _prepare(self) -> None:
        names = self.store.delta_names()
        self._next_seq = max([int(n.stem) for n in names] + [self._base_seq()]) + 1
        if self.rebuild:
            self._prepare_rebuild()
        elif not self.store.exists():
            if self.store.delta_names():
                raise self.store.missing_base()
            self.lineage = uuid.uuid4().hex
            write_store_file(self.store.path, self._header("base", 0, files=0, entries=0), FileTable.of([]))
            self._last_seq = 0
        else:
            self._adopt_current()

    def _adopt_current(self) -> None:
        with self.store.snapshot() as current:
            stored = current.checkpoint_sha256
            if stored != self.checkpoint_sha256 or current.dim != self.dim:
                raise checkpoint_mismatch(current, self.checkpoint_sha256, self.checkpoint)
            self.lineage = current.base.header.lineage if current.base else uuid.uuid4().hex
            self._load_known(current)
            base_seq = current.base.header.seq if current.base else 0
        self._remove_included(base_seq)  # what a compaction killed before its clean-up left behind

    def _prepare_rebuild(self) -> None:
        try:
            with self.store.snapshot() as current:
                self.previous = list(current.live_files().paths)
                pending = [
                    h for h in current.pending if h.checkpoint_sha256 == self.checkpoint_sha256 and h.dim == self.dim
                ]
        except NotALibraryError:
            raise  # never written over
        except StoreError as error:
            # Damaged: re-embed every file that a readable part still names, and resume nothing.
            self.previous_error, pending = error, []
            self.previous = self.store.readable_paths()
        # Resume the newest interrupted rebuild made with this checkpoint, else start a new lineage.
        self.lineage = max(pending, key=lambda h: h.seq).lineage if pending else uuid.uuid4().hex
        if pending:
            with self.store.snapshot(self.lineage) as resumed:
                self._load_known(resumed)

    def _load_known(self, view: Snapshot) -> None:
        table = view.live_files()
        self.known = {path: table.record(row) for row, path in enumerate(table.paths)}
        self._base_entries = view.base.header.entries if view.base is not None else 0
        self._last_seq = max([d.header.seq for d in view.deltas], default=view.base.header.seq if view.base else -1)
        self._deltas = len(view.deltas)
        self._delta_entries = sum(s.header.entries for s in view.deltas)

    def _base_seq(self) -> int:
        if not self.store.exists():
            return 0
        try:
            with open_store_file(self.store.path) as base:
                return base.header.seq
        except StoreError:
            return 0

    def _header(self, kind: str, seq: int, *, files: int, entries: int) -> Header:
        created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        return Header(
            kind, self.lineage, uuid.uuid4().hex, seq, self.checkpoint_sha256, self.dim, created, files, entries,
            checkpoint=self.checkpoint,
        )

    def _remove_included(self, seq: int) -> None:
        """After a compaction up to `seq`: drop the deltas it includes (all lineages: a finished
        rebuild supersedes the old library) and indexes of bases that are gone."""
        folder = self.store.folder
        if not folder.is_dir():
            return
        with open_store_file(self.store.path) as base:
            keep_ann = self.store.ann_path(base.header.file_id).name
        for path in folder.iterdir():
            included = path.suffix == ".h5" and path.stem.isdigit() and int(path.stem) <= seq
            stale_ann = path.name.startswith("ann-") and path.name not in (keep_ann, f"{keep_ann}.crc32")
            if (included and (self.rebuild or self._lineage_of(path) == self.lineage)) or stale_ann:
                path.unlink(missing_ok=True)
        fsync_directory(folder)

    @staticmethod
    def _lineage_of(path: Path) -> str | None:
        try:
            with open_store_file(path) as store_file:
                return store_file.header.lineage
        except (StoreError, FileNotFoundError):
            return None

    def _remove_leftovers(self) -> None:
        """Temporary files of killed writers (only ever renamed into place when complete): exactly
        those tmr named for this library's files, never another file that ends in `.tmp`."""
        targets = {self.store.path.parent: self.store.path.name, self.store.folder: _FOLDER_FILES}
        for folder, target in targets.items():
            if folder.is_dir():
                for path in folder.iterdir():
                    if is_temporary_of(path.name, target):
                        path.unlink(missing_ok=True)


_FOLDER_FILES = re.compile(r"[0-9]{8}\.h5|ann-[0-9a-f]+\.hnsw(?:\.crc32)?|" + re.escape(NEWEST_NAME))
