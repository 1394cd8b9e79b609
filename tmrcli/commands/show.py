"""`tmr show`: a motion, or a segment of it, as a stick figure (GIF, MP4, PNG contact sheet, HTML page)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from tmrcli.views.console import out
from tmrcli.commands.options import (
    MotionFileArgument,
    MOTION_OPTIONS,
    EndOption,
    HtmlOption,
    StartOption,
    check_segment,
    check_suffix,
    reads_motion_files,
)

if TYPE_CHECKING:
    from formats.reading import LoadOptions

__all__ = ["show", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".gif", ".mp4", ".png")


@reads_motion_files
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
    options: LoadOptions = MOTION_OPTIONS,
) -> None:
    """Draw a motion, or its segment from --start to --end, as a stick figure; print the files written.

    Bones are coloured by side (left blue, right red, spine dark), over a floor grid and the root
    trajectory, seen by a fixed camera that keeps the whole segment in view.

    Example: tmr show walk.bvh --start 1.5 --end 4 -o walk.gif
    """
    from tmrcli.views.show import show_motion

    check_segment(start, end)
    if output is not None:
        check_suffix(output, IMAGE_SUFFIXES, "--output")
    for written in show_motion(file, start, end, options, output, html):
        out.print(str(written), markup=False)
