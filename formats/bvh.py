"""BVH files: the hierarchy, the MOTION block, and world joint positions by forward kinematics.

We parse BVH ourselves rather than through bvhio: bvhio loops forever on a hierarchy cut short (its line
reader never sees the end of the file), and its per-frame evaluation reads about 2,600 frames/s on a
100-joint rig, far too slow for a library. The MOTION block is read by numpy in one call and the
kinematics are vectorised over frames.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from formats.errors import FormatError
from formats.kinematics import euler_to_matrix, forward_kinematics

__all__ = ["BvhClip", "read_bvh", "joint_positions"]

_AXES = {"x": 0, "y": 1, "z": 2}
_MOTION = re.compile(rb"^[ \t]*MOTION[ \t]*\r?$", re.MULTILINE)
_TIMING = re.compile(rb"\A\s*Frames:[ \t]*(\S+)[ \t]*\r?\n\s*Frame[ \t]+Time:[ \t]*(\S+)[ \t]*\r?(?:\n|\Z)")


@dataclass(frozen=True)
class BvhClip:
    """A parsed BVH file: its joints (file order, parents first) and the raw MOTION values.

    `position_columns[j, a]` is the MOTION column holding joint j's position on axis a, or -1 when the
    joint has no such channel (then its OFFSET is used). `rotation_columns[j, k]` and
    `rotation_axes[j, k]` give joint j's k-th rotation channel in the order listed in the file (-1 when
    the joint has fewer than three).
    """

    path: Path
    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray  # (J, 3) file units
    position_columns: np.ndarray  # (J, 3) int
    rotation_columns: np.ndarray  # (J, 3) int
    rotation_axes: np.ndarray  # (J, 3) int, 0=x 1=y 2=z
    frame_time: float  # seconds
    values: np.ndarray  # (T, C) float64, degrees for rotations

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    @property
    def num_frames(self) -> int:
        return self.values.shape[0]


@dataclass
class _Joint:
    name: str
    parent: int
    offset: tuple[float, float, float] | None = None
    channels: tuple[str, ...] | None = None


def read_bvh(path: Path) -> BvhClip:
    """Parse a BVH file. Raises FormatError (with the path and a reason) for anything that is not a
    complete, finite BVH: empty, binary, truncated, a frame count that disagrees with the data."""
    raw = _read_bytes(path)
    motion = _MOTION.search(raw)
    if motion is None:
        raise FormatError(path, "no MOTION section: the file is truncated or is not a BVH file")
    header = _decode(path, raw[: motion.start()])
    joints = _parse_hierarchy(path, header)
    columns = _channel_columns(path, joints)
    frame_count, frame_time, body = _parse_timing(path, raw[motion.end() :])
    values = _parse_values(path, body, frame_count, columns.num_channels)
    offsets = np.array([joint.offset for joint in joints], dtype=np.float64)
    if not np.isfinite(offsets).all():
        raise FormatError(path, "a joint OFFSET is not a finite number")
    return BvhClip(
        path=path,
        names=tuple(joint.name for joint in joints),
        parents=tuple(joint.parent for joint in joints),
        offsets=offsets,
        position_columns=columns.positions,
        rotation_columns=columns.rotations,
        rotation_axes=columns.axes,
        frame_time=frame_time,
        values=values,
    )


def joint_positions(clip: BvhClip, joints: Sequence[int]) -> np.ndarray:
    """World positions (T, len(joints), 3), in file units, of the requested joints.

    Forward kinematics runs only over the requested joints and their ancestors: a 100-joint rig with
    fingers and face bones needs about a quarter of its joints for the SMPL skeleton.
    """
    needed = _with_ancestors(clip.parents, joints)
    local = {joint: i for i, joint in enumerate(needed)}
    parents = [local.get(clip.parents[joint], -1) for joint in needed]
    rotations = _local_rotations(clip, needed)
    translations = _local_translations(clip, needed)
    positions = forward_kinematics(parents, rotations, translations)
    return positions[:, [local[joint] for joint in joints]]


def _read_bytes(path: Path) -> bytes:
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise FormatError(path, "file not found") from None
    except IsADirectoryError:
        raise FormatError(path, "is a folder, not a BVH file") from None
    except OSError as error:
        raise FormatError(path, f"cannot read the file: {error.strerror or error}") from None
    if not raw.strip():
        raise FormatError(path, "the file is empty")
    return raw


def _decode(path: Path, header: bytes) -> str:
    if b"\x00" in header:
        raise FormatError(path, "binary data where a BVH text hierarchy was expected")
    try:
        return header.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            # Older exporters write joint names in a local 8-bit code page; the structure is ASCII.
            return header.decode("latin-1")
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any byte
            raise FormatError(path, "the hierarchy is not text") from None


def _parse_hierarchy(path: Path, header: str) -> list[_Joint]:
    """Joints of the HIERARCHY block, in file order; End Sites are skipped (they carry no channels)."""
    lines = [line.strip() for line in header.splitlines()]
    lines = [line for line in lines if line]
    if not lines or lines[0].split()[0] != "HIERARCHY":
        raise FormatError(path, "not a BVH file: it does not start with HIERARCHY")
    joints: list[_Joint] = []
    stack: list[int] = []  # open blocks: joint index, or -2 for an End Site
    pending: _Joint | int | None = None
    for number, line in enumerate(lines[1:], start=2):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword in ("ROOT", "JOINT"):
            name = rest.strip()
            if not name:
                raise FormatError(path, f"hierarchy line {number}: {keyword} without a name")
            if keyword == "JOINT" and not stack:
                raise FormatError(path, f"hierarchy line {number}: JOINT {name} outside any joint")
            parent = stack[-1] if stack and stack[-1] >= 0 else -1
            pending = _Joint(name=name, parent=parent)
        elif keyword == "END":
            pending = -2
        elif keyword == "{":
            if pending is None:
                raise FormatError(path, f"hierarchy line {number}: '{{' without a joint")
            if isinstance(pending, _Joint):
                joints.append(pending)
                stack.append(len(joints) - 1)
            else:
                stack.append(-2)
            pending = None
        elif keyword == "}":
            if not stack:
                raise FormatError(path, f"hierarchy line {number}: unbalanced '}}'")
            stack.pop()
        elif keyword == "OFFSET":
            _set_offset(path, number, joints, stack, rest)
        elif keyword == "CHANNELS":
            _set_channels(path, number, joints, stack, rest)
        else:
            raise FormatError(path, f"hierarchy line {number}: unexpected {line[:40]!r}")
    if stack or pending is not None:
        raise FormatError(path, "the hierarchy ends inside a joint: the file is truncated or malformed")
    if not joints:
        raise FormatError(path, "the hierarchy has no joints")
    for joint in joints:
        if joint.offset is None:
            raise FormatError(path, f"joint {joint.name} has no OFFSET")
    return joints


def _set_offset(path: Path, number: int, joints: list[_Joint], stack: list[int], rest: str) -> None:
    fields = rest.split()
    try:
        offset = tuple(float(field) for field in fields)
    except ValueError:
        offset = ()
    if len(offset) != 3:
        raise FormatError(path, f"hierarchy line {number}: OFFSET needs three numbers, got {rest.strip()!r}")
    if not stack:
        raise FormatError(path, f"hierarchy line {number}: OFFSET outside any joint")
    if stack[-1] >= 0:
        joints[stack[-1]].offset = offset  # type: ignore[assignment]


def _set_channels(path: Path, number: int, joints: list[_Joint], stack: list[int], rest: str) -> None:
    fields = rest.split()
    if not stack or stack[-1] < 0:
        raise FormatError(path, f"hierarchy line {number}: CHANNELS outside a joint")
    if not fields or not fields[0].isdigit() or int(fields[0]) != len(fields) - 1:
        raise FormatError(path, f"hierarchy line {number}: the CHANNELS count does not match the channel names")
    names = tuple(field.lower() for field in fields[1:])
    for name in names:
        if len(name) != 9 or name[0] not in _AXES or name[1:] not in ("position", "rotation"):
            raise FormatError(path, f"hierarchy line {number}: unknown channel {name!r}")
    if len(set(names)) != len(names):
        raise FormatError(path, f"hierarchy line {number}: a channel is listed twice")
    joints[stack[-1]].channels = names


@dataclass(frozen=True)
class _Columns:
    positions: np.ndarray
    rotations: np.ndarray
    axes: np.ndarray
    num_channels: int


def _channel_columns(path: Path, joints: list[_Joint]) -> _Columns:
    """Where each joint's channels sit in a MOTION row (rows list joints' channels in file order)."""
    positions = np.full((len(joints), 3), -1, dtype=np.intp)
    rotations = np.full((len(joints), 3), -1, dtype=np.intp)
    axes = np.zeros((len(joints), 3), dtype=np.intp)
    column = 0
    for j, joint in enumerate(joints):
        count = 0
        for channel in joint.channels or ():
            axis = _AXES[channel[0]]
            if channel.endswith("position"):
                positions[j, axis] = column
            else:
                rotations[j, count], axes[j, count] = column, axis
                count += 1
            column += 1
    if column == 0:
        raise FormatError(path, "the hierarchy declares no channels")
    return _Columns(positions, rotations, axes, column)


def _parse_timing(path: Path, motion: bytes) -> tuple[int, float, bytes]:
    match = _TIMING.match(motion)
    if match is None:
        raise FormatError(path, "MOTION must be followed by 'Frames: N' and 'Frame Time: SECONDS'")
    try:
        frame_count = int(match.group(1))
        frame_time = float(match.group(2))
    except ValueError:
        raise FormatError(path, "the frame count or frame time is not a number") from None
    if frame_count <= 0:
        raise FormatError(path, f"the file has no frames (Frames: {frame_count})")
    if not np.isfinite(frame_time) or frame_time <= 0:
        raise FormatError(path, f"the frame time must be a positive number of seconds, got {match.group(2).decode()}")
    return frame_count, frame_time, motion[match.end() :]


def _parse_values(path: Path, body: bytes, frame_count: int, num_channels: int) -> np.ndarray:
    """The MOTION rows as a (T, C) array; one frame per line, as BVH requires."""
    if b"\x00" in body:
        raise FormatError(path, "binary data in the MOTION block")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an empty block warns; it is reported below instead
            values = np.loadtxt(io.BytesIO(body), dtype=np.float64, ndmin=2)
    except ValueError as error:
        raise FormatError(path, f"the MOTION block is malformed (truncated file?): {error}") from None
    if values.shape[0] != frame_count:
        raise FormatError(path, f"the header says {frame_count} frames but the MOTION block holds {values.shape[0]}")
    if values.shape[1] != num_channels:
        raise FormatError(
            path, f"the hierarchy declares {num_channels} channels but MOTION rows hold {values.shape[1]} values"
        )
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        raise FormatError(path, f"frame {int(np.argmax(bad))} holds a value that is NaN or infinite")
    return values


def _with_ancestors(parents: Sequence[int], joints: Sequence[int]) -> list[int]:
    needed: set[int] = set()
    for joint in joints:
        while joint >= 0 and joint not in needed:
            needed.add(joint)
            joint = parents[joint]
    return sorted(needed)  # file order puts parents first


def _local_rotations(clip: BvhClip, joints: list[int]) -> np.ndarray:
    columns = clip.rotation_columns[joints]  # (J, 3)
    angles = np.where(columns >= 0, clip.values[:, np.maximum(columns, 0)], 0.0)  # (T, J, 3)
    return euler_to_matrix(np.radians(angles), clip.rotation_axes[joints])


def _local_translations(clip: BvhClip, joints: list[int]) -> np.ndarray:
    """OFFSETs, replaced axis by axis by position channels where a joint has them (Bandai-Namco puts
    them on every joint; for the root they carry the translation)."""
    columns = clip.position_columns[joints]
    channel_values = clip.values[:, np.maximum(columns, 0)]  # (T, J, 3)
    return np.where(columns >= 0, channel_values, clip.offsets[joints])
