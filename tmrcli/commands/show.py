"""`tmr show`: a motion, or a segment of it, as a stick figure (GIF, MP4, PNG contact sheet, HTML page)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from formats import FEATURE_FPS
from tmrcli.views.console import out
from tmrcli.views.stickfigure import FULL_RATE_SECONDS, LONG_SEGMENT_FPS, MAX_GIF_FRAMES  # no matplotlib until drawing
from tmrcli.commands.options import (
    MotionFileArgument,
    MOTION_OPTIONS,
    EndOption,
    HtmlOption,
    StartOption,
    check_segment,
    check_suffix,
    with_option_groups,
)

if TYPE_CHECKING:
    from formats.reading import LoadOptions

__all__ = ["show", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".gif", ".mp4", ".png")


@with_option_groups
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
    gif_fps: Annotated[
        Optional[float],
        typer.Option(
            "--gif-fps",
            min=1.0,
            max=FEATURE_FPS,
            help=f"Frames per second of a GIF (default: the motion's {FEATURE_FPS:g} for segments up to "
            f"{FULL_RATE_SECONDS:g} s, {LONG_SEGMENT_FPS:g} beyond, and at most {MAX_GIF_FRAMES} frames).",
        ),
    ] = None,
    options: LoadOptions = MOTION_OPTIONS,
) -> None:
    """Draw a motion, or its segment from --start to --end, as a stick figure; print the files written.

    Bones are coloured by side (left blue, right red, spine dark), over a floor grid and the root
    trajectory, seen by a fixed camera that keeps the whole segment in view.

    A GIF is 400 x 400 pixels in 25 colours; segments over 10 s get 10 frames per second (--gif-fps).

    Example: tmr show walk.bvh --start 1.5 --end 4 -o walk.gif
    """
    from tmrcli.views.show import show_motion

    check_segment(start, end)
    if output is not None:
        check_suffix(output, IMAGE_SUFFIXES, "--output")
    for written in show_motion(file, start, end, options, output, html, gif_fps):
        out.print(str(written), markup=False)
