"""Bounds on what a motion file may ask of tmr: its frame rate, its length and its arrays' size.

A file past them is refused with a one-line error instead of running for minutes and taking
gigabytes (a BVH saying `Frame Time: 1000` once asked for a 35-hour motion). The length limit is
the one a user may raise (`--max-duration`); the others bound rates no capture system has.
"""

from __future__ import annotations

from pathlib import Path

from formats.errors import FormatError

__all__ = ["MIN_FPS", "MAX_FPS", "MAX_DURATION", "MAX_ARRAY_BYTES", "check_fps", "check_duration"]

MIN_FPS = 1.0
MAX_FPS = 10_000.0
MAX_DURATION = 3600.0  # seconds: one hour, far past any take; `--max-duration` raises it
MAX_ARRAY_BYTES = 4 << 30  # what a .npy/.npz may declare, in total: bounds the memory one file takes


def check_fps(path: Path | str, fps: float, what: str = "the frame rate") -> float:
    """`fps` if it is a rate between MIN_FPS and MAX_FPS, else FormatError naming the file."""
    if not MIN_FPS <= fps <= MAX_FPS:  # NaN fails too
        raise FormatError(path, f"{what} is {fps:g} fps; tmr reads {MIN_FPS:g} to {MAX_FPS:g} fps")
    return fps


def check_duration(path: Path | str, frames: int, fps: float, limit: float | None) -> None:
    """FormatError when `frames` at `fps` last longer than `limit` seconds (MAX_DURATION by default)."""
    limit = MAX_DURATION if limit is None else limit
    seconds = frames / fps
    if seconds > limit:
        raise FormatError(
            path,
            f"the motion lasts {seconds:,.0f} s ({frames} frames at {fps:g} fps), more than the {limit:g} s "
            "limit; pass --max-duration SECONDS to read it",
        )
