"""BVH files: read the hierarchy and the MOTION block, and compute world joint positions.

We parse BVH ourselves rather than through bvhio: bvhio loops forever on a hierarchy cut short (its line
reader never sees the end of the file), and its per-frame evaluation reads about 2,600 frames/s on a
100-joint rig, far too slow for a library. Here the MOTION rows are parsed by numpy a few megabytes
at a time (`formats/bvh_rows.py`), only the columns the wanted joints need, and the kinematics are
vectorised over blocks of frames: a long take costs its bytes and the values used, not a multiple.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from formats.bvh_hierarchy import read_skeleton
from formats.bvh_rows import check_rows, parse_columns, sample_rows
from formats.checks import open_motion_file
from formats.errors import FormatError
from formats.kinematics import euler_to_matrix, forward_kinematics, with_ancestors
from formats.limits import check_fps
from formats.rig_structure import map_by_structure
from formats.rigs import JointMapping, map_skeleton

__all__ = ["BvhClip", "read_bvh", "joint_positions", "map_bvh_skeleton"]

_MOTION = re.compile(rb"^[ \t]*MOTION[ \t]*\r?$", re.MULTILINE)
_TIMING = re.compile(rb"\s*Frames:[ \t]*(\S+)[ \t]*\r?\n\s*Frame[ \t]+Time:[ \t]*(\S+)[ \t]*\r?(?:\n|\Z)")
_NUMBER = re.compile(rb"[0-9]+ (?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
# Bytes that never occur in a text file; a few in the first kilobytes mark binary data.
_CONTROL_BYTES = bytes(range(9)) + bytes(range(14, 32))
# Frames read to find a skeleton's shape when no name map fits: twist joints are those that never bend.
_SHAPE_FRAMES = 32
# Block sizes (settings, not API: the tests shrink them so that ordinary clips cross block boundaries).
# The file is read this far at first; a longer one's MOTION rows are then read on their own, once.
HEAD_BYTES = 1 << 20
TIMING_ROOM = 1 << 16  # bytes past the MOTION line that must hold the Frames and Frame Time lines
# Frames whose kinematics are computed at once: bounds the rotation matrices a long take needs.
FRAME_BLOCK = 8192


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
    with open_motion_file(path) as file:
        head, motion, is_whole = _read_head(path, file)
        frame_count, frame_time, rows_at = _parse_timing(path, head, motion.end())
        if is_whole:
            rows = head[rows_at:]
        else:  # a long file: its rows are read into one buffer, without a copy of what came before
            file.seek(rows_at)
            rows = file.read()
    skeleton = read_skeleton(path, head[: motion.start()])
    layout = skeleton.layout
    check_rows(path, rows, frame_count, layout.num_channels, first_line=head.count(b"\n", 0, rows_at) + 1)
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
    columns = np.concatenate([rotation_columns.ravel(), position_columns.ravel()])
    # Only the columns used are parsed, and the last one, which checks that every row has all its values.
    used = np.union1d(columns[columns >= 0], [clip.num_channels - 1])
    values = parse_columns(clip.path, clip.motion, used, clip.num_frames)  # (T, len(used))
    rotation_columns, position_columns = _columns_in(used, rotation_columns), _columns_in(used, position_columns)
    root = _columns_in(used, clip.position_columns[0])
    position_columns = _local_position_columns(clip, needed, position_columns, values, root)
    order = [local[joint] for joint in joints] + list(range(len(needed), len(needed) + len(tips)))
    positions = np.empty((len(values), len(order), 3))
    for start in range(0, len(values), FRAME_BLOCK):  # frames are independent: a block at a time
        block = values[start : start + FRAME_BLOCK]
        angles = np.where(rotation_columns >= 0, block[:, np.maximum(rotation_columns, 0)], 0.0)
        rotations = euler_to_matrix(np.radians(angles), clip.rotation_axes[needed])
        # Position channels replace the OFFSET axis by axis (Bandai-Namco has them on every joint).
        translations = np.where(position_columns >= 0, block[:, np.maximum(position_columns, 0)], clip.offsets[needed])
        if tips:  # an End Site is a joint without channels: its OFFSET in its joint's frame
            shape = (len(block), len(tips))
            rotations = np.concatenate([rotations, np.broadcast_to(np.eye(3), shape + (3, 3))], axis=1)
            translations = np.concatenate([translations, np.broadcast_to(clip.end_sites[tips], shape + (3,))], axis=1)
        positions[start : start + len(block)] = forward_kinematics(parents, rotations, translations)[:, order]
    return positions


def _columns_in(used: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """`columns` (MOTION columns, -1 for none) as indices into the parsed `used` columns."""
    return np.where(columns >= 0, np.searchsorted(used, columns), -1)


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
    rows, count = sample_rows(clip.motion, _SHAPE_FRAMES)
    sample = dataclasses.replace(clip, motion=rows, num_frames=count)
    tips = np.flatnonzero(~np.isnan(clip.end_sites).any(axis=1))
    positions = joint_positions(sample, range(len(clip.names)), tips)
    tip_positions = np.full((count, len(clip.names), 3), np.nan)
    tip_positions[:, tips] = positions[:, len(clip.names) :]
    return clip.parents, positions[:, : len(clip.names)], tip_positions


def _local_position_columns(
    clip: BvhClip, needed: Sequence[int], columns: np.ndarray, values: np.ndarray, root: np.ndarray
) -> np.ndarray:
    """`columns` (J, 3) without the position channels of joints below the root that hold world
    positions instead of local ones: some exporters (AnimatedDrawings' 19-joint CMU rig) write the
    thorax's and head's world positions there, which lie nearer to the (moving) root than the OFFSET
    does. Such joints keep their OFFSET, as their rotations expect. `columns` and `root` (the root's
    position columns) index the columns of `values`."""
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


def _read_head(path: Path, file: BinaryIO) -> tuple[bytes, re.Match[bytes], bool]:
    """The file's first bytes, through its MOTION line and some room beyond (or the whole file: then
    True); the match of that line. Raises FormatError for an empty or binary file or one without MOTION."""
    head, is_whole = file.read(HEAD_BYTES), False
    start = head[:4096]
    if len(start.translate(None, _CONTROL_BYTES)) != len(start):  # before reading on: binary data has no end
        raise FormatError(path, "binary data, not a BVH text file")
    while (motion := _MOTION.search(head)) is None or len(head) - motion.end() < TIMING_ROOM:
        more = file.read(max(len(head), HEAD_BYTES))
        if not more:
            is_whole = True
            break
        head += more
    if is_whole:
        if not head.strip():
            raise FormatError(path, "the file is empty")
        if b"\n" not in head:  # old Mac exports end lines with CR alone
            head = head.replace(b"\r", b"\n")
            motion = _MOTION.search(head)
    if motion is None:
        raise FormatError(path, "no MOTION section: the file is truncated or is not a BVH file")
    return head, motion, is_whole


def _parse_timing(path: Path, head: bytes, at: int) -> tuple[int, float, int]:
    """Frames and Frame Time from the lines at `at` (after MOTION), and where the rows start."""
    match = _TIMING.match(head, at)
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
    return frame_count, frame_time, match.end()
