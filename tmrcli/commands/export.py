"""`tmr export`: a segment of a motion as a BVH file that animation tools import."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tmrcli.views.console import err, format_span, out
from tmrcli.commands.options import (
    MotionFileArgument,
    MOTION_OPTIONS,
    EndOption,
    StartOption,
    check_segment,
    check_suffix,
    with_option_groups,
)

if TYPE_CHECKING:
    from formats.reading import LoadOptions

__all__ = ["export"]


@with_option_groups
def export(
    file: MotionFileArgument,
    output: Annotated[Path, typer.Option("--output", "-o", metavar="OUT.bvh", help="The BVH file to write.")],
    start: StartOption = 0.0,
    end: EndOption = None,
    options: LoadOptions = MOTION_OPTIONS,
) -> None:
    """Write a motion, or its segment from --start to --end, as BVH; print the file written.

    From a BVH file, its own frames are cut: same rig, same channels, nothing else changed. From
    joints or HumanML3D features, the 22-joint SMPL skeleton is written (centimetres, Y up, 20 fps)
    with rotations solved from the joints, which Blender and other tools import.

    Example: tmr export walk.bvh --start 1.5 --end 4 -o walk_cut.bvh
    """
    from tmrcli.library.export import export_segment

    check_segment(start, end)
    check_suffix(output, (".bvh",), "--output")
    exported = export_segment(file, start, end, output, options)
    how = "cut from the source BVH" if exported.is_cut else "SMPL skeleton, rotations solved from the joints"
    summary = f"{format_span(exported.start, exported.end)}: {exported.frames} frames at {exported.fps:g} fps ({how})"
    err.print(summary, markup=False, highlight=False, soft_wrap=True)
    out.print(str(exported.output), markup=False)
