"""`tmr export`: a segment of a motion as a BVH file that animation tools import."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tmrcli.console import err, out
from tmrcli.options import (
    MotionFileArgument,
    BodyModelOption,
    EndOption,
    FpsOption,
    SkeletonMapOption,
    StartOption,
    check_segment,
    check_suffix,
    load_options,
)

if TYPE_CHECKING:
    from tmrcli.conversion import LoadOptions

__all__ = ["export", "export_segment", "ExportedSegment"]


@dataclass(frozen=True)
class ExportedSegment:
    """What `export_segment` wrote: `frames` at `fps`, cut from the source BVH (`is_cut`) or solved
    onto the SMPL skeleton."""

    output: Path
    start: float
    end: float
    frames: int
    fps: float
    is_cut: bool


def export(
    file: MotionFileArgument,
    output: Annotated[Path, typer.Option("--output", "-o", metavar="OUT.bvh", help="The BVH file to write.")],
    start: StartOption = 0.0,
    end: EndOption = None,
    skeleton_map: SkeletonMapOption = None,
    fps: FpsOption = None,
    body_model: BodyModelOption = None,
) -> None:
    """Write a motion, or its segment from --start to --end, as BVH; print the file written.

    From a BVH file, its own frames are cut: same rig, same channels, nothing else changed. From
    joints or HumanML3D features, the 22-joint SMPL skeleton is written (centimetres, Y up, 20 fps)
    with rotations solved from the joints, which Blender and other tools import.

    Example: tmr export walk.bvh --start 1.5 --end 4 -o walk_cut.bvh
    """
    check_segment(start, end)
    check_suffix(output, (".bvh",), "--output")
    exported = export_segment(file, start, end, output, load_options(skeleton_map, fps, body_model))
    how = "cut from the source BVH" if exported.is_cut else "SMPL skeleton, rotations solved from the joints"
    summary = f"{exported.start:.2f}-{exported.end:.2f} s: {exported.frames} frames at {exported.fps:g} fps ({how})"
    err.print(summary, markup=False, highlight=False, soft_wrap=True)
    out.print(str(exported.output), markup=False)


def export_segment(file: Path, start: float, end: float | None, output: Path, options: LoadOptions) -> ExportedSegment:
    """Write frames `start` to `end` seconds of `file` as the BVH file `output`, atomically."""
    from formats.bvh_write import cut_bvh, smpl_bvh_text
    from tmrcli.atomic import reporting_write_errors, write_atomic
    from tmrcli.segments import load_segment

    if file.suffix.lower() == ".bvh":
        cut = cut_bvh(file, start, end)
        data = cut.data
        exported = ExportedSegment(output, cut.first / cut.fps, cut.stop / cut.fps, cut.stop - cut.first, cut.fps, is_cut=True)
    else:
        segment = load_segment(file, start, end, options)
        data = smpl_bvh_text(segment.joints, segment.fps).encode("ascii")
        exported = ExportedSegment(output, segment.start, segment.end, len(segment.joints), segment.fps, is_cut=False)
    with reporting_write_errors(output):
        write_atomic(output, lambda handle: handle.write(data))
    return exported
