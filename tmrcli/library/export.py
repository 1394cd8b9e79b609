"""`tmr export` without the command line: a segment of a motion file as BVH, cut from the source where
it is a BVH (its own skeleton and rotations), else solved onto the SMPL skeleton."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from formats.reading import LoadOptions

__all__ = ["export_segment", "segment_bvh", "BvhSegment", "ExportedSegment"]


@dataclass(frozen=True)
class BvhSegment:
    """A segment as BVH text (`data`): `frames` at `fps` from `start` to `end` seconds, cut from the
    source BVH (`is_cut`) or solved onto the SMPL skeleton."""

    data: bytes
    start: float
    end: float
    frames: int
    fps: float
    is_cut: bool


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


def segment_bvh(file: Path, start: float, end: float | None, options: LoadOptions) -> BvhSegment:
    """Frames `start` to `end` seconds of `file` as BVH, in memory (what `tmr serve` downloads)."""
    from formats.bvh_write import cut_bvh, smpl_bvh_text
    from formats.segment import seconds
    from tmrcli.library.motion_segment import load_segment

    if file.suffix.lower() == ".bvh":
        cut = cut_bvh(file, start, end)
        start_s, end_s = seconds(cut.first, cut.fps), seconds(cut.stop, cut.fps)
        return BvhSegment(cut.data, start_s, end_s, cut.stop - cut.first, cut.fps, is_cut=True)
    segment = load_segment(file, start, end, options)
    data = smpl_bvh_text(segment.joints, segment.fps).encode("ascii")
    return BvhSegment(data, segment.start, segment.end, len(segment.joints), segment.fps, is_cut=False)


def export_segment(file: Path, start: float, end: float | None, output: Path, options: LoadOptions) -> ExportedSegment:
    """Write frames `start` to `end` seconds of `file` as the BVH file `output`, atomically."""
    from formats.atomic import reporting_write_errors, write_atomic

    bvh = segment_bvh(file, start, end, options)
    with reporting_write_errors(output):
        write_atomic(output, lambda handle: handle.write(bvh.data))
    return ExportedSegment(output, bvh.start, bvh.end, bvh.frames, bvh.fps, bvh.is_cut)
