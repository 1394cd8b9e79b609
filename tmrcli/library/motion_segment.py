"""The joints of a segment of a motion file, as `show`, the results page and `export` need them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from formats import FEATURE_FPS, features_to_joints, load_motion
from formats.reading import LoadOptions
from formats.segment import frame_range, seconds

__all__ = ["MotionSegment", "load_segment"]


@dataclass(frozen=True)
class MotionSegment:
    """Frames `start` to `end` (seconds in the file, on its own frames: the times `tmr export` cuts a
    BVH at) of a motion: joints (T, 22, 3) in metres, Y up, at 20 fps, placed as the file places them
    (not canonicalised)."""

    path: Path
    start: float
    end: float
    joints: np.ndarray

    @property
    def fps(self) -> float:
        return FEATURE_FPS

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.end - self.start


def load_segment(path: Path, start: float = 0.0, end: float | None = None, options: LoadOptions = LoadOptions()) -> MotionSegment:
    """Read any motion file `tmr` reads and keep frames `start` to `end` seconds (None: to the end).

    A HumanML3D feature file is turned back into joints first. Raises FormatError or SkeletonError
    for a file that cannot be read, SegmentError for a segment outside the motion.
    """
    motion = options.load(path)
    joints = motion.joints if motion.joints is not None else features_to_joints(motion.feats)
    fps, frames = (motion.source_fps, motion.source_frames) if motion.source_frames else (FEATURE_FPS, len(joints))
    first, stop = frame_range(path, start, end, fps, frames)  # on the file's own frames, as export cuts
    begin, until = seconds(first, fps), seconds(stop, fps)
    shown = min(round(begin * FEATURE_FPS), len(joints) - 1)
    last = max(shown + 1, min(round(until * FEATURE_FPS), len(joints)))
    return MotionSegment(Path(path), begin, until, joints[shown:last])
