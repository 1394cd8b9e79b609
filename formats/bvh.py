"""BVH files: read the hierarchy and the MOTION block, and compute world joint positions.

We parse BVH ourselves rather than through bvhio: bvhio loops forever on a hierarchy cut short (its line
reader never sees the end of the file), and its per-frame evaluation reads about 2,600 frames/s on a
100-joint rig, far too slow for a library. Here the MOTION rows are read by numpy in one call, only
the columns the wanted joints need, and the kinematics are vectorised over frames.
"""

from __future__ import annotations

import dataclasses
import io
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from formats.bvh_hierarchy import read_skeleton
from formats.checks import check_frames_finite, open_motion_file
from formats.errors import FormatError
from formats.kinematics import euler_to_matrix, forward_kinematics, with_ancestors
from formats.limits import check_fps
from formats.rig_structure import map_by_structure
from formats.rigs import JointMapping, map_skeleton

__all__ = ["BvhClip", "read_bvh", "joint_positions", "map_bvh_skeleton"]

_MOTION = re.compile(rb"^[ \t]*MOTION[ \t]*\r?$", re.MULTILINE)
_TIMING = re.compile(rb"\A\s*Frames:[ \t]*(\S+)[ \t]*\r?\n\s*Frame[ \t]+Time:[ \t]*(\S+)[ \t]*\r?(?:\n|\Z)")
# Bytes that never occur in a text file; a few in the first kilobytes mark binary data.
_NUMBER = re.compile(rb"[0-9]+ (?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_CONTROL_BYTES = bytes(range(9)) + bytes(range(14, 32))
# Frames read to find a skeleton's shape when no name map fits: twist joints are those that never bend.
_SHAPE_FRAMES = 32


@dataclass(frozen=True)
class BvhClip:
    """A BVH file's joints (file order, parents first), channel layout, timing and MOTION rows.

    `position_columns[j, a]` is the MOTION column of joint j's position on axis a, or -1 (then its
    OFFSET is used); `rotation_columns[j, k]` and `rotation_axes[j, k]` give joint j's k-th rotation
    channel in the order the file lists them (-1 when it has fewer than three).
    """

    path: Path
    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray  # (J, 3) file units
    end_sites: np.ndarray  # (J, 3) file units, in each joint's frame; NaN for a joint without an End Site
    position_columns: np.ndarray  # (J, 3) int
    rotation_columns: np.ndarray  # (J, 3) int
    rotation_axes: np.ndarray  # (J, 3) int, 0=x 1=y 2=z
    num_channels: int
    num_frames: int
    frame_time: float  # seconds
    motion: bytes  # the MOTION rows, unparsed: `joint_positions` reads only the columns it needs

    @property
    def fps(self) -> float:
        """Frames per second, as the Frame Time states."""
        return 1.0 / self.frame_time


def read_bvh(path: Path) -> BvhClip:
    """Read a BVH file's hierarchy, timing and MOTION rows; the values are parsed by `joint_positions`.

    Raises FormatError (with the path and a reason) for an empty, binary or truncated file, a
    hierarchy that is not BVH, or MOTION rows that disagree with the header.
    """
    raw = _read_bytes(path)
    start = raw[:4096]
    if len(start.translate(None, _CONTROL_BYTES)) != len(start):
        raise FormatError(path, "binary data, not a BVH text file")
    motion = _MOTION.search(raw)
    if motion is None:
        raise FormatError(path, "no MOTION section: the file is truncated or is not a BVH file")
    skeleton = read_skeleton(path, raw[: motion.start()])
    layout = skeleton.layout
    frame_count, frame_time, rows = _parse_timing(path, raw[motion.end() :])
    _check_rows(path, rows, frame_count, layout.num_channels, first_line=raw.count(b"\n", 0, len(raw) - len(rows)) + 1)
    return BvhClip(
        path=path,
        names=skeleton.names,
        parents=skeleton.parents,
        offsets=skeleton.offsets,
        end_sites=skeleton.end_sites,
        position_columns=layout.positions,
        rotation_columns=layout.rotations,
        rotation_axes=layout.axes,
        num_channels=layout.num_channels,
        num_frames=frame_count,
        frame_time=frame_time,
        motion=rows,
    )


def joint_positions(clip: BvhClip, joints: Sequence[int], tips: Sequence[int] = ()) -> np.ndarray:
    """World positions (T, len(joints) + len(tips), 3), in file units, of the requested joints, then of
    the End Sites of the joints in `tips` (the toes of a rig whose feet end at the ankle).

    Only the MOTION columns that move them are parsed (their translations and their ancestors'
    rotations), and forward kinematics runs only over them and their ancestors: a 100-joint rig with
    fingers and face bones needs about a quarter of its columns for the SMPL skeleton. Raises
    FormatError when a value read is not a finite number or a tip joint has no End Site.
    """
    tips = [int(joint) for joint in tips]
    for joint in tips:
        if np.isnan(clip.end_sites[joint]).any():
            raise FormatError(clip.path, f"joint {clip.names[joint]} has no End Site to place the toes at")
    needed = with_ancestors(clip.parents, [*joints, *tips])
    local = {joint: i for i, joint in enumerate(needed)}
    parents = [local.get(clip.parents[joint], -1) for joint in needed] + [local[joint] for joint in tips]
    # A joint's own rotation moves only its children: the leaves (head, hands, toes) need none.
    has_child = np.isin(needed, [clip.parents[joint] for joint in needed] + tips)
    rotation_columns = np.where(has_child[:, None], clip.rotation_columns[needed], -1)
    position_columns = clip.position_columns[needed]
    values = _parse_values(clip, np.concatenate([rotation_columns.ravel(), position_columns.ravel()]))
    position_columns = _local_position_columns(clip, needed, position_columns, values)
    angles = np.where(rotation_columns >= 0, values[:, np.maximum(rotation_columns, 0)], 0.0)
    rotations = euler_to_matrix(np.radians(angles), clip.rotation_axes[needed])
    # Position channels replace the OFFSET axis by axis (Bandai-Namco has them on every joint).
    translations = np.where(position_columns >= 0, values[:, np.maximum(position_columns, 0)], clip.offsets[needed])
    if tips:  # an End Site is a joint without channels: its OFFSET in its joint's frame
        shape = (len(values), len(tips))
        rotations = np.concatenate([rotations, np.broadcast_to(np.eye(3), shape + (3, 3))], axis=1)
        translations = np.concatenate([translations, np.broadcast_to(clip.end_sites[tips], shape + (3,))], axis=1)
    positions = forward_kinematics(parents, rotations, translations)
    return positions[:, [local[joint] for joint in joints] + list(range(len(needed), len(needed) + len(tips)))]


def map_bvh_skeleton(clip: BvhClip, skeleton_map: Mapping[str, str] | None = None) -> JointMapping:
    """How to build the SMPL joints from this clip's joints: `skeleton_map`, else a built-in rig by
    names, else the rig's structure (formats.rig_structure). End Sites may stand in for missing toes.
    Raises SkeletonError naming the clip's file.
    """
    has_tip = ~np.isnan(clip.end_sites).any(axis=1)
    return map_skeleton(
        clip.names, clip.path, skeleton_map, has_tip=has_tip, structure=lambda: map_by_structure(*_sampled_poses(clip))
    )


def _sampled_poses(clip: BvhClip) -> tuple[tuple[int, ...], np.ndarray, np.ndarray]:
    """The clip's parents, every joint's positions (F, J, 3) in a few frames spread over the clip (the
    first one first), and the End Sites' positions (F, J, 3) in those frames (NaN where none)."""
    rows = [row for row in clip.motion.split(b"\n") if row.strip()]
    chosen = np.unique(np.linspace(0, len(rows) - 1, min(len(rows), _SHAPE_FRAMES)).astype(int))
    sample = dataclasses.replace(clip, motion=b"\n".join(rows[i] for i in chosen), num_frames=len(chosen))
    tips = np.flatnonzero(~np.isnan(clip.end_sites).any(axis=1))
    positions = joint_positions(sample, range(len(clip.names)), tips)
    tip_positions = np.full((len(chosen), len(clip.names), 3), np.nan)
    tip_positions[:, tips] = positions[:, len(clip.names) :]
    return clip.parents, positions[:, : len(clip.names)], tip_positions


def _local_position_columns(
    clip: BvhClip, needed: Sequence[int], columns: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """`columns` (J, 3) without the position channels of joints below the root that hold world
    positions instead of local ones: some exporters (AnimatedDrawings' 19-joint CMU rig) write the
    thorax's and head's world positions there, which lie nearer to the (moving) root than the OFFSET
    does. Such joints keep their OFFSET, as their rotations expect."""
    root = clip.position_columns[0]
    if needed[0] != 0 or (root < 0).any():
        return columns
    root_positions = values[:, root]
    if not np.ptp(root_positions, axis=0).any():
        return columns  # a root that never moves (Bandai-Namco's joint_Root): local and world agree
    columns = columns.copy()
    for row, joint in enumerate(needed):
        if joint == 0 or (columns[row] < 0).any():
            continue
        channels = values[:, columns[row]]
        from_offset = np.median(np.linalg.norm(channels - clip.offsets[joint], axis=-1))
        from_root = np.median(np.linalg.norm(channels - root_positions, axis=-1))
        if from_root < from_offset:
            columns[row] = -1
    return columns


def _read_bytes(path: Path) -> bytes:
    with open_motion_file(path) as file:
        raw = file.read()
    if not raw.strip():
        raise FormatError(path, "the file is empty")
    if b"\n" not in raw:  # old Mac exports end lines with CR alone
        raw = raw.replace(b"\r", b"\n")
    return raw


def _parse_timing(path: Path, motion: bytes) -> tuple[int, float, bytes]:
    match = _TIMING.match(motion)
    if match is None:
        raise FormatError(path, "MOTION must be followed by 'Frames: N' and 'Frame Time: SECONDS'")
    try:
        # int() and float() also accept '1_000' and non-ASCII digits: a BVH number is plain ASCII.
        if not _NUMBER.fullmatch(match.group(1) + b" " + match.group(2)):
            raise ValueError
        frame_count = int(match.group(1))
        frame_time = float(match.group(2))
    except ValueError:
        raise FormatError(path, "the frame count or frame time is not a number") from None
    if frame_count <= 0:
        raise FormatError(path, f"the file has no frames (Frames: {frame_count})")
    if not np.isfinite(frame_time) or frame_time <= 0:
        raise FormatError(path, f"the frame time must be a positive number of seconds, got {match.group(2).decode()}")
    check_fps(path, 1.0 / frame_time, f"the frame time {match.group(2).decode()} s gives a rate that")
    return frame_count, frame_time, motion[match.end() :]


def _check_rows(path: Path, rows: bytes, frame_count: int, num_channels: int, first_line: int) -> None:
    """One frame per line, as many lines as the header says, each with exactly `num_channels` values
    (`first_line`: the file's line number of the first row, for the message)."""
    first_line += len(rows) - len(rows.lstrip()) and rows[: len(rows) - len(rows.lstrip())].count(b"\n")
    rows = rows.strip()
    count = rows.count(b"\n") + 1 if rows else 0
    if count != frame_count:  # count again without blank lines, which the parser skips
        count = sum(1 for line in rows.split(b"\n") if line.strip())
    if count != frame_count:
        raise FormatError(path, f"the header says {frame_count} frames but the MOTION block holds {count}")
    first, last = rows.split(b"\n", 1)[0], rows.rsplit(b"\n", 1)[-1]
    for which, line in (("first", first), ("last", last)):
        count = len(line.split())
        if count != num_channels:
            raise FormatError(
                path,
                f"the {which} frame holds {count} values but the hierarchy declares {num_channels} channels "
                "(truncated file?)",
            )
    if _count_values(rows) != frame_count * num_channels:
        _raise_for_bad_row(path, rows, num_channels, first_line)


def _count_values(text: bytes) -> int:
    """Whitespace-separated values in `text`, counted without splitting it (a few bytes per byte)."""
    if not text:
        return 0
    blank = np.isin(np.frombuffer(text, dtype=np.uint8), _WHITESPACE)
    return int(np.count_nonzero(blank[:-1] & ~blank[1:])) + int(not blank[0])


_WHITESPACE = np.frombuffer(b" \t\n\r\x0b\x0c", dtype=np.uint8)


def _raise_for_bad_row(path: Path, rows: bytes, num_channels: int, first_line: int) -> None:
    """Name the first frame whose number of values is not the hierarchy's (the error path only)."""
    frame = 0
    for number, line in enumerate(rows.split(b"\n"), start=first_line):
        if not line.strip():
            continue
        count = len(line.split())
        if count != num_channels:
            raise FormatError(
                path,
                f"line {number}: frame {frame} holds {count} values but the hierarchy declares {num_channels} channels",
            )
        frame += 1


def _parse_values(clip: BvhClip, columns: np.ndarray) -> np.ndarray:
    """The MOTION rows as a (T, C) array in which only `columns` and the last column are read; the
    others stay zero. Reading the last column checks that every row has all its values."""
    used = np.union1d(columns[columns >= 0], [clip.num_channels - 1])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = np.loadtxt(io.BytesIO(clip.motion), dtype=np.float64, usecols=used, ndmin=2)
    except ValueError as error:
        if "invalid column index" in str(error):
            reason = "a frame holds fewer values than the hierarchy declares (corrupted file?)"
            raise FormatError(clip.path, reason) from None
        raise FormatError(clip.path, f"the MOTION block is malformed: {error}") from None
    check_frames_finite(clip.path, parsed)
    values = np.zeros((parsed.shape[0], clip.num_channels))
    values[:, used] = parsed
    return values
