"""How to read motion files (`LoadOptions`), apart from the readers: a command builds its options
before it knows whether it will read a file at all (a text search reads none), and so does not pay for
importing every reader."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from formats.motion import Motion

__all__ = ["LoadOptions"]


@dataclass(frozen=True)
class LoadOptions:
    """How to read motion files: the `load_motion` keyword arguments, as the user gave them."""

    skeleton_map: Mapping[str, str] | None = None
    fps: float | None = None
    body_model: Path | None = None
    asf: Path | None = None
    character: Path | None = None
    max_duration: float | None = None  # seconds; None: formats.limits.MAX_DURATION

    def load(self, path: Path) -> Motion:
        """`load_motion` of `path` with these options."""
        from formats.motion import load_motion

        return load_motion(
            path,
            skeleton_map=self.skeleton_map,
            fps=self.fps,
            body_model=self.body_model,
            asf=self.asf,
            character=self.character,
            max_duration=self.max_duration,
        )
