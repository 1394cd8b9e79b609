"""`tmr show` without the command line: a segment of a motion drawn as a stick figure into an image
(GIF, MP4, PNG contact sheet) and an HTML page."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from formats.reading import LoadOptions

__all__ = ["show_motion"]


def show_motion(
    file: Path,
    start: float,
    end: float | None,
    options: LoadOptions,
    output: Path | None,
    html: Path | None,
    fps: float | None = None,
) -> list[Path]:
    """Read the segment, draw it into `output` (by its suffix) and `html`; return the paths written.
    `fps`: a GIF's frame rate (None: `stickfigure.gif_frame_step`'s default).

    With neither, the figure goes to a new temporary GIF, made once the motion has been read.
    """
    from formats.atomic import reporting_write_errors
    from tmrcli.views.html_page import HitView, write_results_page
    from tmrcli.views.scene import build_scene
    from tmrcli.library.motion_segment import load_segment
    from tmrcli.views.stickfigure import write_animation, write_contact_sheet

    segment = load_segment(file, start, end, options)
    scene = build_scene(segment)
    if output is None and html is None:
        output = _temporary_gif()
    written = []
    if output is not None:
        with reporting_write_errors(output):
            if output.suffix.lower() == ".png":
                write_contact_sheet(scene, output)
            else:
                write_animation(scene, output, fps)
        written.append(output)
    if html is not None:
        hit = HitView(rank=1, path=str(file), start=segment.start, end=segment.end, score=None, scene=scene)
        with reporting_write_errors(html):
            write_results_page(html, None, [hit])
        written.append(html)
    return written


def _temporary_gif() -> Path:
    """A new, empty file in the system's temporary folder; the GIF then replaces it atomically."""
    handle, name = tempfile.mkstemp(prefix="tmr-show-", suffix=".gif")
    os.close(handle)
    return Path(name)
