"""The `tmr convert` pipeline: plan outputs for the input files, convert each, write atomically.

Each file is converted on its own: a file that fails is reported with its reason and the others are
still written (STYLE.md: batch commands finish the good inputs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from formats import (
    MOTION_SUFFIXES,
    FormatError,
    Motion,
    TmrError,
    canonicalize_joints,
    features_from_canonical,
    features_to_joints,
    find_motion_files,
    load_motion,
)
from tmrcli.atomic import save_npy_atomic

__all__ = [
    "LoadOptions",
    "ConvertJob",
    "ConvertedFile",
    "FailedFile",
    "ConvertReport",
    "plan_conversion",
    "convert_files",
    "read_features",
]

JOINTS_SUFFIX = ".joints.npy"


@dataclass(frozen=True)
class LoadOptions:
    """How to read motion files: the `load_motion` keyword arguments, as the user gave them."""

    skeleton_map: Mapping[str, str] | None = None
    fps: float | None = None
    body_model: Path | None = None


@dataclass(frozen=True)
class ConvertJob:
    """One input file and where its features (and, if wanted, its canonical joints) go."""

    source: Path
    output: Path
    joints_output: Path | None


@dataclass(frozen=True)
class ConvertedFile:
    input: str
    output: str
    joints_output: str | None
    frames: int  # rows of features written
    seconds: float  # duration at 20 fps
    source_fps: float


@dataclass(frozen=True)
class FailedFile:
    input: str
    reason: str


@dataclass(frozen=True)
class ConvertReport:
    converted: list[ConvertedFile]
    failed: list[FailedFile]


def plan_conversion(inputs: Sequence[Path], outdir: Path, *, with_joints: bool) -> list[ConvertJob]:
    """One job per motion file: a file given directly goes to OUTDIR/<stem>.npy, a file found in a
    given folder to OUTDIR/<its path relative to that folder, with suffix .npy>."""
    jobs = []
    for given in inputs:
        root = given if given.is_dir() else given.parent
        for source in find_motion_files([given]):
            relative = source.relative_to(root).with_suffix("")
            output = outdir / relative.with_name(relative.name + ".npy")
            joints_output = outdir / relative.with_name(relative.name + JOINTS_SUFFIX) if with_joints else None
            jobs.append(ConvertJob(source, output, joints_output))
    return jobs


def convert_files(
    jobs: Iterable[ConvertJob], options: LoadOptions, on_done: Callable[[ConvertJob], None] | None = None
) -> ConvertReport:
    """Convert every job; a job whose output another job already claims fails instead of overwriting."""
    converted: list[ConvertedFile] = []
    failed: list[FailedFile] = []
    claimed: dict[Path, Path] = {}
    for job in jobs:
        clash = next((claimed[path] for path in _outputs(job) if path in claimed), None)
        if clash is not None:
            failed.append(FailedFile(str(job.source), f"its output would overwrite the output of {clash}"))
        else:
            claimed.update((path, job.source) for path in _outputs(job))
            try:
                converted.append(convert_file(job, options))
            except TmrError as error:
                failed.append(FailedFile(str(job.source), error.reason))
        if on_done is not None:
            on_done(job)
    return ConvertReport(converted, failed)


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


def read_features(
    source: Path, options: LoadOptions, *, with_joints: bool = False
) -> tuple[Motion, np.ndarray, np.ndarray | None]:
    """Read one motion file: the motion, its (T-1, 263) features and, when asked (or free), its
    canonical joints. A feature file passes through untouched. Raises FormatError / SkeletonError."""
    motion = load_motion(source, skeleton_map=options.skeleton_map, fps=options.fps, body_model=options.body_model)
    if motion.feats is not None:  # already features: passed through untouched
        return motion, motion.feats, features_to_joints(motion.feats) if with_joints else None
    canonical = canonicalize_joints(motion.joints)
    return motion, features_from_canonical(canonical), canonical


def is_motion_file(path: Path) -> bool:
    """Whether `path` has one of the suffixes `tmr convert` reads."""
    return path.suffix.lower() in MOTION_SUFFIXES


def _save(path: Path, array: np.ndarray) -> None:
    try:
        save_npy_atomic(path, np.asarray(array, dtype=np.float32))
    except OSError as error:
        raise FormatError(path, f"cannot write {path}: {error.strerror or error}") from None


def _outputs(job: ConvertJob) -> list[Path]:
    return [job.output] + ([job.joints_output] if job.joints_output is not None else [])
