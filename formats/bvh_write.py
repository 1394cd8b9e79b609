"""Writing BVH: the 22-joint SMPL skeleton from joint positions, and segments cut out of BVH files.

The SMPL skeleton is written in centimetres (the unit most BVH files and tools use; `formats.units`
reads it back as such from the leg length), Y up, with the joint names of `formats.skeleton`, so
`load_motion` maps it back without a skeleton map. Channel layout: the pelvis has
`Xposition Yposition Zposition Zrotation Xrotation Yrotation`, every other joint
`Zrotation Xrotation Yrotation`, plus position channels first for a joint whose bone stretches
(see `formats.smpl_rig`). As BVH defines it, the rotation is R = Rz @ Rx @ Ry, in degrees.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from formats.bvh import read_bvh
from formats.kinematics import matrix_to_zxy_euler
from formats.segment import frame_range
from formats.skeleton import CHILDREN, SMPL_JOINTS
from formats.smpl_rig import END_SITE_LENGTH, T_POSE_DIRECTIONS, SmplRig, solve_rig

__all__ = ["CENTIMETRES_PER_METRE", "BvhCut", "smpl_bvh_text", "cut_bvh"]

CENTIMETRES_PER_METRE = 100.0
_POSITION_CHANNELS = ("Xposition", "Yposition", "Zposition")
_ROTATION_CHANNELS = ("Zrotation", "Xrotation", "Yrotation")
_FRAMES_LINE = re.compile(rb"Frames:[ \t]*\S+")
_NUMBER = "%.6f"


def smpl_bvh_text(joints: np.ndarray, fps: float) -> str:
    """A BVH file (text) of the SMPL skeleton whose rotations reproduce `joints` (T, 22, 3, metres, Y up).

    Reading it back gives the same joints to well under a millimetre (see `formats.smpl_rig`).
    """
    rig = solve_rig(joints)
    header = "\n".join(["HIERARCHY", *_joint_lines(rig, 0, depth=0), "MOTION"])
    timing = f"Frames: {len(joints)}\nFrame Time: {1.0 / fps:.8g}\n"
    return f"{header}\n{timing}{_motion_rows(rig)}"


@dataclass(frozen=True)
class BvhCut:
    """A BVH file cut down to the source frames [first, stop), at the source's frame rate."""

    data: bytes
    first: int
    stop: int
    fps: float


def cut_bvh(path: Path, start: float, end: float | None) -> BvhCut:
    """The BVH file `path` holding only its frames from `start` to `end` seconds (None: to the end).

    The hierarchy and every kept frame are copied byte for byte; only the `Frames:` count changes
    (the frame time stays). Frames follow `formats.segment.frame_range` at the file's frame rate.
    Raises FormatError for a file `read_bvh` rejects, SegmentError for a segment outside the motion.
    """
    clip = read_bvh(path)
    first, stop = frame_range(path, start, end, clip.fps, clip.num_frames)
    raw = Path(path).read_bytes()
    head = raw[: len(raw) - len(clip.motion)]  # everything up to and including the Frame Time line
    frames_at = max(match.start() for match in _FRAMES_LINE.finditer(head))  # the last one: MOTION's
    head = head[:frames_at] + _FRAMES_LINE.sub(b"Frames: %d" % (stop - first), head[frames_at:], count=1)
    rows = [row for row in clip.motion.split(b"\n") if row.strip()]
    return BvhCut(head + b"\n".join(rows[first:stop]) + b"\n", first, stop, clip.fps)


def _joint_lines(rig: SmplRig, joint: int, depth: int) -> list[str]:
    """The HIERARCHY block of `joint` and its descendants, depth-first in SMPL order."""
    indent = "\t" * depth
    keyword = "ROOT" if joint == 0 else "JOINT"
    channels = (_POSITION_CHANNELS if rig.is_moving[joint] else ()) + _ROTATION_CHANNELS
    lines = [
        f"{indent}{keyword} {SMPL_JOINTS[joint]}",
        f"{indent}{{",
        f"{indent}\tOFFSET {_vector(rig.offsets[joint])}",
        f"{indent}\tCHANNELS {len(channels)} {' '.join(channels)}",
    ]
    for child in CHILDREN[joint]:
        lines += _joint_lines(rig, child, depth + 1)
    if not CHILDREN[joint]:
        end = np.array(T_POSE_DIRECTIONS[SMPL_JOINTS[joint]]) * END_SITE_LENGTH
        lines += [f"{indent}\tEnd Site", f"{indent}\t{{", f"{indent}\t\tOFFSET {_vector(end)}", f"{indent}\t}}"]
    return lines + [f"{indent}}}"]


def _file_order(joint: int = 0) -> list[int]:
    """Joints in the order the hierarchy lists them (depth-first), which MOTION rows follow."""
    order = [joint]
    for child in CHILDREN[joint]:
        order += _file_order(child)
    return order


def _motion_rows(rig: SmplRig) -> str:
    """One row per frame: each joint's channels in file order (translations in cm, angles in degrees)."""
    # A whole turn added to one Euler angle leaves the rotation as it is, so unwrapping each channel
    # over time removes the jumps at +-180 degrees that would make tools interpolate the long way.
    angles = np.degrees(np.unwrap(matrix_to_zxy_euler(rig.rotations), axis=0))
    columns = []
    for joint in _file_order():
        if rig.is_moving[joint]:
            columns.append(rig.translations[:, joint] * CENTIMETRES_PER_METRE)
        columns.append(angles[:, joint])
    buffer = io.StringIO()
    np.savetxt(buffer, np.concatenate(columns, axis=1), fmt=_NUMBER, delimiter=" ")
    return buffer.getvalue()


def _vector(values: np.ndarray) -> str:
    return " ".join(_NUMBER % value for value in np.asarray(values) * CENTIMETRES_PER_METRE)
