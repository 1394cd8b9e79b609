"""Reading one motion file as every command does: the user's load options in, the motion, its
HumanML3D features and (when asked) canonical joints out; and a file that could not be read, with why.

Here, in the lowest layer, so that converting, indexing, searching and the Python API read files one way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from formats.deepmimic import DEEPMIMIC_SUFFIXES, is_deepmimic
from formats.errors import TmrError
from formats.features import canonicalize_joints, features_from_canonical, features_to_joints
from formats.load_options import LoadOptions
from formats.motion import MOTION_SUFFIXES, Motion

__all__ = [
    "LoadOptions",
    "FailedFile",
    "read_features",
    "failure",
    "unexpected_failure",
    "is_motion_file",
    "available_cores",
]


@dataclass(frozen=True)
class FailedFile:
    """A file not read (so not converted, or not indexed), and why, in words a user can act on."""

    input: str
    reason: str


def read_features(
    source: Path, options: LoadOptions, *, with_joints: bool = False
) -> tuple[Motion, np.ndarray, np.ndarray | None]:
    """Read one motion file: the motion, its (T-1, 263) features and, when asked (or free), its
    canonical joints. A feature file passes through untouched. Raises FormatError / SkeletonError."""
    motion = options.load(source)
    if motion.feats is not None:  # already features: passed through untouched
        return motion, motion.feats, features_to_joints(motion.feats) if with_joints else None
    canonical = canonicalize_joints(motion.joints)
    return motion, features_from_canonical(canonical), canonical


def failure(source: Path | str, error: TmrError) -> FailedFile:
    """`source` failed because of `error`; a failure about another file (the body model, an output)
    names that file in the reason."""
    about_input = error.path in (None, str(source))
    return FailedFile(str(source), error.reason if about_input else f"{error.path}: {error.reason}")


def unexpected_failure(source: Path | str, error: Exception) -> FailedFile:
    """The per-file boundary's last resort: an error no reader anticipated (a bug to report, or a
    MemoryError) fails this one file, never the whole run."""
    detail = str(error).splitlines()[0][:200] if str(error) else ""
    return FailedFile(str(source), f"unexpected error while reading ({type(error).__name__}{': ' if detail else ''}{detail})")


def is_motion_file(path: Path) -> bool:
    """Whether `path` is a file `tmr convert` reads: by its suffix, and for .json and .txt (shared with
    other text files) by a look at its start, which must be a DeepMimic motion's."""
    suffix = path.suffix.lower()
    return suffix in MOTION_SUFFIXES and (suffix not in DEEPMIMIC_SUFFIXES or is_deepmimic(path))


def available_cores() -> int:
    """The cores this process may run on (the default number of worker processes)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
