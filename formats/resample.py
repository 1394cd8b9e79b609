"""Resampling motion to another frame rate, keeping its duration.

HumanML3D works at 20 fps and subsamples by an integer stride; sources at 30, 60 or 120 fps (and odd
rates such as 59.999) need real resampling, so frames are linearly interpolated at the new times.
"""

from __future__ import annotations

import numpy as np

__all__ = ["resampled_length", "resample", "retime"]


def resampled_length(num_frames: int, source_fps: float, target_fps: float) -> int:
    """Frames at `target_fps` covering the same duration (num_frames / source_fps), at least one."""
    return max(1, int(round(num_frames * target_fps / source_fps)))


def resample(frames: np.ndarray, source_fps: float, target_fps: float) -> np.ndarray:
    """Linearly interpolate `frames` (T, ...) from `source_fps` to `target_fps`.

    Output frame k samples time k / target_fps; times past the last source frame hold that frame.
    The duration T / fps is kept to within half an output frame.
    """
    if source_fps == target_fps:
        return frames
    num_frames = frames.shape[0]
    times = np.arange(resampled_length(num_frames, source_fps, target_fps)) * (source_fps / target_fps)
    return _interpolate(frames, np.minimum(times, num_frames - 1))


def retime(frames: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Frames (T, ...) sampled at increasing `times` (T,) -> as many frames at evenly spaced times
    over the same span, linearly interpolated: for sources whose frame durations vary."""
    even = np.linspace(times[0], times[-1], len(times))
    positions = np.interp(even, times, np.arange(len(times), dtype=np.float64))
    return _interpolate(frames, positions)


def _interpolate(frames: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Frames at fractional frame indices `times` (within [0, T-1]), linearly interpolated."""
    num_frames = frames.shape[0]
    before = np.floor(times).astype(np.intp)
    after = np.minimum(before + 1, num_frames - 1)
    share = (times - before).reshape((-1,) + (1,) * (frames.ndim - 1))
    return (1.0 - share) * frames[before] + share * frames[after]
