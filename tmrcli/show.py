"""`tmr show`: a motion, or a segment of it, as a stick figure (GIF, MP4, PNG contact sheet, HTML page)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from tmrcli.console import out
from tmrcli.options import (
    MotionFileArgument,
    BodyModelOption,
    EndOption,
    FpsOption,
    HtmlOption,
    SkeletonMapOption,
    StartOption,
    check_segment,
    check_suffix,
    load_options,
)

if TYPE_CHECKING:
    from tmrcli.conversion import LoadOptions

__all__ = ["show", "show_motion", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".gif", ".mp4", ".png")


def show(
    file: MotionFileArgument,
    start: StartOption = 0.0,
    end: EndOption = None,
    output: Annotated[
        Optional[Path],
        typer.Option(
            "--output",
            "-o",
            metavar="OUT",
            help="Image to write: .gif, .mp4 (needs ffmpeg) or .png (contact sheet of key frames). "
            "Default: a temporary .gif, unless --html is given.",
        ),
    ] = None,
    html: HtmlOption = None,
    skeleton_map: SkeletonMapOption = None,
    fps: FpsOption = None,
    body_model: BodyModelOption = None,
) -> None:
    """Draw a motion, or its segment from --start to --end, as a stick figure; print the files written.

    Bones are coloured by side (left blue, right red, spine dark), over a floor grid and the root
    trajectory, seen by a fixed camera that keeps the whole segment in view.

    Example: tmr show walk.bvh --start 1.5 --end 4 -o walk.gif
    """
    check_segment(start, end)
    if output is not None:
        check_suffix(output, IMAGE_SUFFIXES, "--output")
    for written in show_motion(file, start, end, load_options(skeleton_map, fps, body_model), output, html):
        out.print(str(written), markup=False)


def show_motion(
    file: Path, start: float, end: float | None, options: LoadOptions, output: Path | None, html: Path | None
) -> list[Path]:
    """Read the segment, draw it into `output` (by its suffix) and `html`; return the paths written.

    With neither, the figure goes to a new temporary GIF, made once the motion has been read.
    """
    from tmrcli.atomic import reporting_write_errors
    from tmrcli.html_page import HitView, write_results_page
    from tmrcli.scene import build_scene
    from tmrcli.segments import load_segment
    from tmrcli.stickfigure import write_animation, write_contact_sheet

    segment = load_segment(file, start, end, options)
    scene = build_scene(segment)
    if output is None and html is None:
        output = _temporary_gif()
    written = []
    if output is not None:
        with reporting_write_errors(output):
            (write_contact_sheet if output.suffix.lower() == ".png" else write_animation)(scene, output)
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
