"""`tmr index` as stages: discover (paths, hashes) -> convert (process pool) -> embed (batches) -> write.

Stages hand each other dataclasses: `MotionFile` (a file to embed), `MotionClip` (its features),
`StoreRecord` (its embedded entries). Each batch is committed as one delta of the library, so a
killed run keeps every batch it finished and the next run skips those files by their hash.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from formats import MotionScan, SkippedFile, TmrError, motion_source, scan_motions, skip_summary
from formats.digest import file_sha256
from formats.discovery import FEATURES_TWIN
from formats.processes import die_with_parent
from formats.reading import FailedFile, LoadOptions, available_cores, failure, read_features, unexpected_failure
from tmrcli.library.ann import ensure_ann
from tmrcli.library.embedding import MotionClip, embed_clips
from tmrcli.library.errors import StoreError
from tmrcli.library.store import MotionStore, StoreWriter
from tmrcli.library.storefile import FileRecord

if TYPE_CHECKING:
    from model import Retriever

__all__ = [
    "MotionFile",
    "IndexPlan",
    "IndexRequest",
    "IndexReport",
    "IndexProgress",
    "find_files_to_index",
    "discover",
    "convert_motion",
    "run_index",
]


@dataclass(frozen=True)
class MotionFile:
    """A file to (re-)embed: absolute path, size, mtime and content hash."""

    path: str
    size: int
    mtime_ns: int
    content_sha256: str


@dataclass(frozen=True)
class IndexPlan:
    """What a run has to do: files to embed, and what it found about the others."""

    todo: list[MotionFile]
    updated: frozenset[str]  # paths in `todo` that the library holds with other content
    unchanged: int
    removed: list[str]  # held, gone from disk, dropped (--prune, or a rebuild)
    missing: list[str]  # held, gone from disk, kept (no --prune)
    failed: list[FailedFile]  # could not even be read to hash
    skipped: list[SkippedFile] = field(default_factory=list)  # found under the paths, not motions


@dataclass(frozen=True)
class IndexRequest:
    """The options of one `tmr index` run."""

    store: Path
    paths: Sequence[Path]
    options: LoadOptions = field(default_factory=LoadOptions)
    rebuild: bool = False
    prune: bool = False
    batch_files: int = 64
    workers: int = 2
    exclude: Sequence[str] = ()
    scan: MotionScan | None = None  # the files under `paths`, when already looked for


@dataclass(frozen=True)
class IndexReport:
    """What a run did: counts of files, entries embedded, and one line per failure."""

    store: str
    checkpoint_sha256: str
    added: int
    updated: int
    unchanged: int
    removed: int
    missing: int
    entries: int
    failed: list[FailedFile]
    unreadable_library: str | None = None  # a rebuild over a library it could not read: why
    skipped: list[SkippedFile] = field(default_factory=list)  # files under the paths that are not motions


class IndexProgress(Protocol):
    """Told how many files there are to embed, then of every finished file and embedded entry."""

    def start(self, files: int) -> None: ...

    def advance(self, files: int, entries: int) -> None: ...


def _stat_candidates(paths: Iterable[str], known: Mapping[str, FileRecord]) -> Iterator[MotionFile | FailedFile | None]:
    """A MotionFile for each new or changed file, None for an unchanged one, FailedFile when unreadable.
    Size and mtime equal to the stored ones mean unchanged; otherwise the content hash decides."""
    for path in paths:
        try:
            file = motion_source(path)[0]  # an animation of a glTF file (FILE#NAME) has that file's hash
            stat = os.stat(file)
            stored = known.get(path)
            if stored is not None and (stored.size, stored.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
                yield None
                continue
            digest = file_sha256(file)
        except OSError as error:
            yield FailedFile(path, f"cannot read the file ({error.strerror or error})")
            continue
        yield (
            None
            if stored is not None and stored.content_sha256 == digest
            else MotionFile(path, stat.st_size, stat.st_mtime_ns, digest)
        )


def _is_under(path: str, roots: Sequence[Path]) -> bool:
    return any(Path(path).is_relative_to(root) for root in roots)


def find_files_to_index(paths: Sequence[Path], exclude: Sequence[str], prune: bool) -> MotionScan | None:
    """The motion files under `paths` (None when no path is given). Raises TmrError when the paths
    hold none, saying what they hold instead, unless the run only prunes."""
    if not paths:
        return None
    scan = scan_motions([Path(os.path.abspath(p)) for p in paths], exclude)
    if not scan.files and not prune:
        summary = skip_summary(scan.skipped)
        reason = "nothing to index: no motion files" + (f" ({summary})" if summary else "")
        raise TmrError(", ".join(map(str, paths)), reason)
    return scan


def discover(
    paths: Sequence[Path],
    known: Mapping[str, FileRecord],
    *,
    prune: bool,
    previous: Sequence[str] = (),
    exclude: Sequence[str] = (),
    scan: MotionScan | None = None,
) -> IndexPlan:
    """Stage 1: the motion files under `paths` (or, with none, the files already held, plus `previous`
    ones of a library being rebuilt), compared with what the library `known`s. `scan`: the result
    of `scan_motions(paths, exclude)` when the caller already has it."""
    # Absolute, but symlinks kept: results show paths as the user knows them.
    roots = [Path(os.path.abspath(p)) for p in paths]
    if scan is None:
        scan = scan_motions(roots, exclude) if roots else MotionScan([], [])
    found = [os.path.abspath(p) for p in scan.files]
    # A HumanML3D joints file held from before its features twin was read instead: the same motion twice.
    twins = {os.path.abspath(s.path) for s in scan.skipped if s.kind == FEATURES_TWIN}
    held_here = [p for p in known if (not roots or _is_under(p, roots)) and p not in twins]
    wanted = dict.fromkeys(p for p in [*found, *held_here, *previous] if p not in twins)
    gone = [p for p in wanted if not motion_source(p)[0].exists()]
    todo, failed, unchanged = [], [], 0
    for item in _stat_candidates([p for p in wanted if p not in set(gone)], known):
        if item is None:
            unchanged += 1
        elif isinstance(item, FailedFile):
            failed.append(item)
        else:
            todo.append(item)
    gone_held = [p for p in gone if p in known]
    dropped = gone_held if prune else []
    dropped += [p for p in gone if p not in known]  # a rebuild's old files that are gone: not carried over
    dropped += sorted(twins & set(known))
    missing = [] if prune else gone_held
    updated = frozenset(f.path for f in todo if f.path in known)
    return IndexPlan(todo, updated, unchanged, dropped, missing, failed, scan.skipped)


def convert_motion(file: MotionFile, options: LoadOptions) -> MotionClip | FailedFile:
    """Stage 2 (runs in a worker process): the file's features, or why they cannot be had."""
    try:
        motion, feats, _ = read_features(Path(file.path), options)
    except TmrError as error:
        return failure(file.path, error)
    except Exception as error:  # noqa: BLE001 (the per-file boundary: one file never ends the run)
        return unexpected_failure(file.path, error)
    if not np.isfinite(feats).all():
        return FailedFile(file.path, "the motion gives infinite or NaN features")
    record = FileRecord(
        file.path,
        file.content_sha256,
        file.size,
        file.mtime_ns,
        int(motion.num_frames),
        float(motion.source_fps),
        float(motion.duration),
    )
    return MotionClip(record, np.ascontiguousarray(feats, dtype=np.float32))


def _converted(todo: Sequence[MotionFile], options: LoadOptions, workers: int) -> Iterator[MotionClip | FailedFile]:
    """Stage 2 for many files: in `workers` processes (a few jobs in flight per worker), as they finish."""
    if len(todo) < 4 or workers <= 1:
        yield from (convert_motion(f, options) for f in todo)
        return
    # forkserver: workers start from a clean process, not a fork of one that may hold torch's threads.
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_prepare_worker, initargs=(os.getpid(),)
    ) as pool:
        queue = iter(todo)
        pending: set[Future] = set()
        while True:
            while len(pending) < 4 * workers and (job := next(queue, None)) is not None:
                pending.add(pool.submit(convert_motion, job, options))
            if not pending:
                return
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield from (future.result() for future in done)


def _prepare_worker(owner: int) -> None:
    """Workers ignore Ctrl-C: the parent stops the run (keeping every committed batch) and the pool.
    They die with the run (`owner`), kill -9 included."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(owner)


def _batches(
    results: Iterable[MotionClip | FailedFile], size: int
) -> Iterator[tuple[list[MotionClip], list[FailedFile]]]:
    clips: list[MotionClip] = []
    failed: list[FailedFile] = []
    for result in results:
        (failed if isinstance(result, FailedFile) else clips).append(result)
        if len(clips) >= size:
            yield clips, failed
            clips, failed = [], []
    if clips or failed:
        yield clips, failed


def _embed_and_write(
    plan: IndexPlan, request: IndexRequest, retriever: Retriever, writer: StoreWriter, progress: IndexProgress
) -> tuple[list[str], int, list[FailedFile]]:
    """Stages 3 and 4: embed each batch of converted clips and commit it as one delta; returns the
    paths written, the entries embedded and the files that failed."""
    written, entries, failures = [], 0, []
    for clips, failed in _batches(_converted(plan.todo, request.options, request.workers), request.batch_files):
        records = embed_clips(retriever, clips)
        # A changed file that no longer reads is dropped: its old entries describe content it lost.
        writer.commit(records, removed=[f.input for f in failed if f.input in plan.updated])
        written += [r.file.path for r in records]
        entries += sum(len(r.starts) for r in records)
        failures += failed
        progress.advance(len(clips) + len(failed), sum(len(r.starts) for r in records))
    return written, entries, failures


def run_index(request: IndexRequest, retriever: Retriever, progress: IndexProgress) -> IndexReport:
    """Index `request.paths` into the library: the whole pipeline, under the library's lock."""
    from model.checkpoint_file import checkpoint_reference
    from model.inference import torch_threads  # here: worker processes import this module without torch

    sha256 = retriever.sha256 or ""
    store = MotionStore(request.store)
    dim, reference = retriever.checkpoint.config.latent_dim, checkpoint_reference(retriever.checkpoint)
    with store.writer(sha256, dim, rebuild=request.rebuild, checkpoint=reference) as writer:
        if writer.previous_error is not None and not writer.previous and not request.paths:
            raise StoreError(
                store.path,
                f"{writer.previous_error.reason}, and no readable part of it names a motion file",
                hint="give the motion files or folders to index: tmr index --rebuild PATH...",
            )
        plan = discover(
            request.paths,
            writer.known,
            prune=request.prune,
            previous=writer.previous,
            exclude=request.exclude,
            scan=request.scan,
        )
        progress.start(len(plan.todo))
        # The converting workers keep `workers` cores busy: torch gets the others (at least one).
        with torch_threads(available_cores() - request.workers):
            written, entries, failed = _embed_and_write(plan, request, retriever, writer, progress)
        writer.commit([], removed=[p for p in plan.removed if p in writer.known])
        writer.finish()
        with store.snapshot(writer.lineage) as view:
            if view.base is not None and view.base.header.entries:
                ensure_ann(view.base, store.ann_path(view.base.header.file_id))
    updated = sum(path in plan.updated for path in written)
    return IndexReport(
        store=str(store.path),
        checkpoint_sha256=sha256,
        added=len(written) - updated,
        updated=updated,
        unchanged=plan.unchanged,
        removed=len(plan.removed),
        missing=len(plan.missing),
        entries=entries,
        failed=plan.failed + failed,
        unreadable_library=writer.previous_error.reason if writer.previous_error else None,
        skipped=plan.skipped,
    )
