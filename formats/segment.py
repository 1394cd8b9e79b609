"""Segments of a motion: from start and end times in seconds to a range of frames."""

from __future__ import annotations

from pathlib import Path

from formats.errors import SegmentError

__all__ = ["frame_range", "seconds"]


def seconds(frames: int, fps: float) -> float:
    """How long `frames` frames at `fps` last: frames / fps, each frame shown for 1 / fps (a BVH's
    Frames x Frame Time). tmr's one definition of a duration, for a take and a segment alike; the
    20 fps copy a take is resampled to keeps it only to within half a frame, so times are measured
    on the file's own frames."""
    return frames / fps


def frame_range(path: Path | str | None, start: float, end: float | None, fps: float, num_frames: int) -> tuple[int, int]:
    """The frames [first, stop) of a motion at `fps` that cover `start` to `end` seconds.

    Frame k shows time k / fps, so the segment starts at the frame nearest `start` and holds
    round((end - start) * fps) frames; `end` None means the end of the motion, and an `end` past it is
    cut to it. Raises SegmentError, naming `path`, when the segment starts after the motion ends or
    is shorter than one frame.
    """
    duration = seconds(num_frames, fps)
    first = round(start * fps)
    stop = num_frames if end is None else min(round(end * fps), num_frames)
    if first >= num_frames:
        raise SegmentError(path, f"the segment starts at {start:g} s but the motion lasts {duration:.2f} s")
    if stop <= first:
        raise SegmentError(path, f"the segment {start:g}-{end:g} s is shorter than one frame at {fps:g} fps")
    return first, stop
