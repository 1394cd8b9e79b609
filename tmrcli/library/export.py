"""`tmr export` without the command line: a segment of a motion file written as a BVH file, cut from the
source where it is a BVH (its own skeleton and rotations), else solved onto the SMPL skeleton."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from formats.reading import LoadOptions

__all__ = ["export_segment", "ExportedSegment"]


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


def export_segment(file: Path, start: float, end: float | None, output: Path, options: LoadOptions) -> ExportedSegment:
    """Write frames `start` to `end` seconds of `file` as the BVH file `output`, atomically."""
    from formats.bvh_write import cut_bvh, smpl_bvh_text
    from formats.atomic import reporting_write_errors, write_atomic
    from tmrcli.library.motion_segment import load_segment

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
