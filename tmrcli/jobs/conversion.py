"""The `tmr convert` pipeline: plan outputs for the input files, convert each, write atomically.

Each file is converted on its own, in one process or a pool of them: a file that fails is reported with
its reason and the others are still written (STYLE.md: batch commands finish the good inputs).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from formats import FormatError, SkippedFile, TmrError, motion_source, scan_motions
from formats.atomic import save_npy_atomic
from formats.processes import die_with_parent
from formats.reading import FailedFile, LoadOptions, failure, read_features, unexpected_failure

__all__ = ["ConvertJob", "ConvertedFile", "ConvertReport", "plan_conversion", "convert_files", "convert_file"]

JOINTS_SUFFIX = ".joints.npy"


@dataclass(frozen=True)
class ConvertJob:
    """One input file and where its features (and, if wanted, its canonical joints) go."""

    source: Path
    output: Path
    joints_output: Path | None


@dataclass(frozen=True)
class ConvertedFile:
    """A file converted: where its features (and joints) went, their rows, its duration and rate."""

    input: str
    output: str
    joints_output: str | None
    frames: int  # rows of features written
    seconds: float  # the take's duration: its own frames / its own fps
    source_fps: float


@dataclass(frozen=True)
class ConvertReport:
    """Every input's outcome, in the order of the inputs."""

    converted: list[ConvertedFile]
    failed: list[FailedFile]


def plan_conversion(
    inputs: Sequence[Path], outdir: Path, *, with_joints: bool, exclude: Sequence[str] = ()
) -> tuple[list[ConvertJob], list[SkippedFile]]:
    """One job per motion file, and the files passed over: a file given directly goes to
    OUTDIR/<stem>.npy, a file found in a given folder to OUTDIR/<its path relative to that folder,
    with suffix .npy>. Files already under OUTDIR (earlier results, when OUTDIR lies inside an input
    folder) are neither inputs nor skipped; nor are files matching an `exclude` glob inputs."""
    jobs, skipped = [], []
    written = _real(outdir)
    for given in inputs:
        root = given if given.is_dir() else given.parent
        scan = scan_motions([given], exclude)
        skipped += [item for item in scan.skipped if written not in _real(item.path).parents]
        for source in scan.files:
            if given.is_dir() and written in _real(source).parents:
                continue
            file, animation = motion_source(source)
            relative = file.relative_to(root).with_suffix("")
            if animation is not None:  # one output per animation: walks.glb#Run -> walks#Run.npy
                relative = relative.with_name(f"{relative.name}#{animation}")
            output = outdir / relative.with_name(relative.name + ".npy")
            joints_output = outdir / relative.with_name(relative.name + JOINTS_SUFFIX) if with_joints else None
            jobs.append(ConvertJob(source, output, joints_output))
    return jobs, skipped


def _real(path: Path) -> Path:
    """The path with symlinks resolved; a looping or dangling link stays as far as it resolves
    (Path.resolve raises on a loop)."""
    return Path(os.path.realpath(path))


def convert_files(
    jobs: Sequence[ConvertJob],
    options: LoadOptions,
    on_done: Callable[[ConvertJob], None] | None = None,
    workers: int = 1,
) -> ConvertReport:
    """Convert every job, in `workers` processes; the report keeps the jobs' order.

    A job whose output an earlier job already claims fails instead of overwriting it.
    """
    outcomes: list[ConvertedFile | FailedFile | None] = [None] * len(jobs)
    claimed: dict[Path, Path] = {}
    runnable = []
    for index, job in enumerate(jobs):
        clash = next((claimed[path] for path in _outputs(job) if path in claimed), None)
        if clash is None:
            claimed.update((path, job.source) for path in _outputs(job))
            runnable.append(index)
        else:
            outcomes[index] = FailedFile(str(job.source), f"its output would overwrite the output of {clash}")
            if on_done is not None:
                on_done(job)
    for index, outcome in _run(jobs, runnable, options, workers):
        outcomes[index] = outcome
        if on_done is not None:
            on_done(jobs[index])
    return ConvertReport(
        converted=[item for item in outcomes if isinstance(item, ConvertedFile)],
        failed=[item for item in outcomes if isinstance(item, FailedFile)],
    )


def _run(
    jobs: Sequence[ConvertJob], indices: list[int], options: LoadOptions, workers: int
) -> Iterator[tuple[int, ConvertedFile | FailedFile]]:
    """(job index, outcome) as each job finishes: here, or in a pool of worker processes."""
    if workers <= 1 or len(indices) <= 1:
        yield from ((index, _try_convert(jobs[index], options)) for index in indices)
        return
    with ProcessPoolExecutor(min(workers, len(indices)), initializer=die_with_parent) as pool:
        futures = {pool.submit(_try_convert, jobs[index], options): index for index in indices}
        for future in as_completed(futures):
            yield futures[future], future.result()


def _try_convert(job: ConvertJob, options: LoadOptions) -> ConvertedFile | FailedFile:
    """The file's conversion, or why it failed; a failure about another file (the body model, an
    output) names that file in the reason."""
    try:
        return convert_file(job, options)
    except TmrError as error:
        return failure(job.source, error)
    except Exception as error:  # noqa: BLE001 (the per-file boundary: one file never ends the run)
        return unexpected_failure(job.source, error)


def convert_file(job: ConvertJob, options: LoadOptions) -> ConvertedFile:
    """Read one motion file, compute its HumanML3D features and write them (and canonical joints)."""
    motion, feats, canonical = read_features(job.source, options, with_joints=job.joints_output is not None)
    _save(job.output, feats)
    if job.joints_output is not None and canonical is not None:
        _save(job.joints_output, canonical)
    return ConvertedFile(
        input=str(job.source),
        output=str(job.output),
        joints_output=None if job.joints_output is None else str(job.joints_output),
        frames=int(feats.shape[0]),
        seconds=round(motion.duration, 3),
        source_fps=round(motion.source_fps, 3),
    )


def _save(path: Path, array: np.ndarray) -> None:
    try:
        save_npy_atomic(path, np.asarray(array, dtype=np.float32))
    except OSError as error:
        raise FormatError(path, f"cannot write the file: {error.strerror or error}") from None


def _outputs(job: ConvertJob) -> list[Path]:
    return [job.output] + ([job.joints_output] if job.joints_output is not None else [])
