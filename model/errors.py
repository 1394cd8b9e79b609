"""Errors raised by `model/`: subclasses of `TmrError`, so the CLI prints them as one line."""

from __future__ import annotations

from formats.errors import TmrError

__all__ = ["CheckpointError", "TextModelError"]


class CheckpointError(TmrError):
    """A checkpoint that cannot be used: missing, truncated, damaged, not a tmr checkpoint, made by a
    newer tmr, an unknown registered name, or weights that do not match the stored config."""


class TextModelError(TmrError):
    """The frozen text backbone cannot be loaded from local files, or its width does not match the
    checkpoint's."""
