"""The error hierarchy of tmr.

It lives in the lowest layer so that `model/` and `tmrcli/` can subclass it without breaking the
import direction (tmrcli -> model -> formats). Every expected failure carries the offending path and a
reason a user can act on; the CLI prints them as one line.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["TmrError", "FormatError", "SkeletonError", "SegmentError", "OutputError"]


class TmrError(Exception):
    """Root of every expected failure: `path` is what failed, `reason` says why, in words."""

    def __init__(self, path: str | Path | None, reason: str, hint: str | None = None) -> None:
        self.path = None if path is None else str(path)
        self.reason = reason
        self.hint = hint
        super().__init__(f"{self.path}: {reason}" if self.path else reason)


class FormatError(TmrError):
    """A motion file that cannot be read: truncated, binary, empty, NaN values, wrong array shape."""


class SkeletonError(TmrError):
    """A skeleton that cannot be mapped onto the 22 SMPL joints."""


class SegmentError(TmrError):
    """A segment (start and end, in seconds) that holds no frame of its motion."""


class OutputError(TmrError):
    """An output that cannot be written: an unwritable folder, or a missing encoder such as ffmpeg."""
