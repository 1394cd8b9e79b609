"""Finding the motion files in folders, and saying what was passed over and why.

A mocap folder holds more than motions: ASF skeletons beside their AMC motions, READMEs, split lists,
images, feature statistics (HumanML3D's Mean.npy and Std.npy). Files are told apart by suffix, and
where a suffix is shared by motions and other files (.txt and .json for DeepMimic, .npy for feature
statistics) by a look at their first bytes. HumanML3D keeps each motion twice, as joints
(`new_joints/NAME.npy`) and as features (`new_joint_vecs/NAME.npy`): only the features are read (they
are what the model takes, exactly; the joints are recovered from them), so one motion is one file.
Every file passed over is counted by kind, so a command can say what it did not read.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from formats.deepmimic import DEEPMIMIC_SUFFIXES, is_deepmimic
from formats.regular_files import open_regular

__all__ = ["SkippedFile", "MotionScan", "scan_motion_files", "skip_summary", "FEATURES_TWIN"]

# Feature sizes of HumanML3D (263) and KIT-ML (251): a 1-D array of one of them is a Mean or a Std.
_STATISTICS_SIZES = (263, 251)
_HIDDEN = "hidden"
_EXCLUDED = "excluded"
_STATISTICS = "feature statistics"
_SKELETON = ".asf skeleton"
_NOT_REGULAR = "not a regular file"
# HumanML3D's two copies of a motion: the joints folder's file is passed over when the features' twin is read.
_JOINTS_FOLDER, _FEATURES_FOLDER = "new_joints", "new_joint_vecs"
FEATURES_TWIN = f"{_JOINTS_FOLDER}/ copy of a {_FEATURES_FOLDER}/ motion"


@dataclass(frozen=True)
class SkippedFile:
    """A file found in a folder but not read, and its kind: its suffix, or why (`feature statistics`,
    `.asf skeleton`, `excluded`, `hidden`, `not a regular file`, or a HumanML3D `new_joints/` file whose
    `new_joint_vecs/` twin is read)."""

    path: Path
    kind: str


@dataclass(frozen=True)
class MotionScan:
    """The motion files found (sorted, no duplicates) and the files passed over."""

    files: list[Path]
    skipped: list[SkippedFile]


def scan_motion_files(paths: Iterable[Path], suffixes: Sequence[str], exclude: Sequence[str] = ()) -> MotionScan:
    """Motion files among `paths`: files as given, folders searched recursively.

    In folders, a file is read when its suffix is one of `suffixes` (a .json or .txt only when it
    holds a DeepMimic motion, a .npy not when it holds feature statistics). Hidden files and folders
    (names starting with '.') and files matching an `exclude` glob (on the file name or on the path
    relative to the folder given; `tmp/*`, `*.npy`, `Mean.npy`) are passed over too, and so is a
    HumanML3D `new_joints/NAME.npy` found beside its `new_joint_vecs/NAME.npy` (one motion, one file).
    """
    given: set[Path] = set()
    found: set[Path] = set()
    skipped: dict[Path, str] = {}
    for path in map(Path, paths):
        if not path.is_dir():
            given.add(path)
            continue
        for file in path.rglob("*"):
            if not file.is_file():
                if not file.is_dir() and not any(part.startswith(".") for part in file.relative_to(path).parts):
                    skipped.setdefault(file, _NOT_REGULAR)  # a FIFO, socket, device or dangling link: never opened
                continue
            kind = _skip_kind(file, file.relative_to(path), suffixes, exclude)
            if kind is None:
                found.add(file)
            else:
                skipped.setdefault(file, kind)
    for file in _features_twins_read(found):
        found.discard(file)
        skipped.setdefault(file, FEATURES_TWIN)
    found |= given
    return MotionScan(sorted(found), [SkippedFile(p, k) for p, k in sorted(skipped.items()) if p not in found])


def _features_twins_read(found: set[Path]) -> list[Path]:
    """The HumanML3D joints files among `found` whose features twin (same name, `new_joint_vecs/`
    beside their `new_joints/`) is found too: the same motion, read once from its features."""
    return [
        file
        for file in found
        if file.parent.name == _JOINTS_FOLDER and file.parent.with_name(_FEATURES_FOLDER) / file.name in found
    ]


def skip_summary(skipped: Sequence[SkippedFile]) -> str | None:
    """'skipped 3 files: .txt 2, .jpg 1' (most common kind first, then by name), or None when nothing was skipped."""
    if not skipped:
        return None
    counts = sorted(Counter(item.kind for item in skipped).items(), key=lambda kind_count: (-kind_count[1], kind_count[0]))
    noun = "file" if len(skipped) == 1 else "files"
    return f"skipped {len(skipped)} {noun}: " + ", ".join(f"{kind} {count}" for kind, count in counts)


def _skip_kind(file: Path, relative: Path, suffixes: Sequence[str], exclude: Sequence[str]) -> str | None:
    """Why `file` is not a motion to read, or None when it is one."""
    if any(part.startswith(".") for part in relative.parts):
        return _HIDDEN
    if _is_excluded(relative, exclude):
        return _EXCLUDED
    suffix = file.suffix.lower()
    if suffix == ".asf":
        return _SKELETON
    if suffix not in suffixes:
        return suffix or "(no suffix)"
    if suffix in DEEPMIMIC_SUFFIXES and not is_deepmimic(file):
        return suffix
    if suffix == ".npy" and _is_feature_statistics(file):
        return _STATISTICS
    return None


def _is_excluded(relative: Path, exclude: Sequence[str]) -> bool:
    """A glob matches the file's name, its path relative to the folder searched, or one of its folders."""
    text = relative.as_posix()
    folders = [parent.as_posix() for parent in relative.parents if parent.parts]
    return any(
        fnmatch.fnmatchcase(relative.name, glob) or fnmatch.fnmatchcase(text, glob)
        or any(fnmatch.fnmatchcase(folder, glob) for folder in folders)
        for glob in exclude
    )  # fmt: skip


def _is_feature_statistics(file: Path) -> bool:
    """Whether a .npy holds one 1-D array of a feature size (a Mean or a Std), from its header only."""
    try:
        with open_regular(file) as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, _, _ = np.lib.format.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, _, _ = np.lib.format.read_array_header_2_0(handle)
            else:
                return False
    except (OSError, ValueError):
        return False  # unreadable: the reader says why
    return len(shape) == 1 and shape[0] in _STATISTICS_SIZES
