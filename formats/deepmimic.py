"""DeepMimic motion files: JSON frames of a character's root and joint rotations, posed over frames.

A frame is [dt, root position (3), root rotation (w, x, y, z), then per joint of the character, in
its order: 4 numbers (a quaternion) for a spherical joint, 1 (an angle about the joint's Z axis, in
radians) for a revolute one, none for a fixed one]. Positions are metres, Y up. The skeleton lives in
a separate character file; DeepMimic's own humanoid3d is built in (`deepmimic_humanoid3d.json`).
Motions are recognised by content, since they are saved as .txt as often as .json.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from formats.checks import check_frames_finite, open_motion_file
from formats.errors import FormatError
from formats.kinematics import euler_to_matrix, forward_kinematics
from formats.resample import retime
from formats.rotations import quat_to_matrix
from formats.regular_files import open_regular

__all__ = [
    "DEEPMIMIC_SUFFIXES",
    "DeepMimicCharacter",
    "DeepMimicClip",
    "HUMANOID3D",
    "is_deepmimic",
    "read_character",
    "read_deepmimic",
    "deepmimic_joint_positions",
]

DEEPMIMIC_SUFFIXES = (".json", ".txt")
HUMANOID3D = Path(__file__).with_name("deepmimic_humanoid3d.json")
# Values per joint type; the root is read from its own columns.
_VALUES = {"spherical": 4, "revolute": 1, "fixed": 0}
_ROOT_VALUES = 1 + 3 + 4  # dt, position, rotation
# Enough of the file to see the "Frames" key: DeepMimic writes a few settings before it.
_SNIFF_BYTES = 4096
# The frames list: rows of numbers only, so the list ends at the first "]" after a "]".
_FRAMES = re.compile(rb'"Frames"\s*:\s*\[')
_FRAMES_END = re.compile(rb"\]\s*\]")
_PUNCTUATION_TO_SPACES = bytes.maketrans(b"[],", b"   ")


@dataclass(frozen=True)
class DeepMimicCharacter:
    """A character's joints, parents first, then one end point per leaf joint whose body shape shows
    where the limb ends (`<joint>_end`: the toes past the ankle, the head past the neck).

    offsets[j]: node j's position in its parent's frame at rest. value_counts[j]: its rotation values
    per frame (root and end points: 0; they are not read from the joint columns).
    """

    path: Path
    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray  # (N, 3) metres
    types: tuple[str, ...]
    value_counts: tuple[int, ...]

    @property
    def frame_width(self) -> int:
        """Numbers per frame of a motion of this character."""
        return _ROOT_VALUES + sum(self.value_counts)


@dataclass(frozen=True)
class DeepMimicClip:
    """A motion's frames (T, frame_width), when each was shown (seconds from the first, or None when
    evenly spaced), and its frame rate (frames / duration)."""

    path: Path
    character: DeepMimicCharacter
    frames: np.ndarray
    times: np.ndarray | None
    fps: float


def is_deepmimic(path: Path) -> bool:
    """Whether a .json or .txt file holds a DeepMimic motion: a JSON object with a "Frames" key near
    its start. Cheap (reads a few kilobytes), for telling motions from other text files."""
    if path.suffix.lower() not in DEEPMIMIC_SUFFIXES:
        return False
    try:
        with open_regular(path) as file:  # a FIFO named x.json must not block the sniff
            start = file.read(_SNIFF_BYTES)
    except OSError:
        return False
    return start.lstrip().startswith(b"{") and b'"Frames"' in start


def read_character(path: Path | None = None) -> DeepMimicCharacter:
    """A DeepMimic character file (`characters/humanoid3d.txt`); None: the built-in humanoid3d.

    Raises FormatError for a file that is not one, or joints of a type or attachment not read here.
    """
    path = HUMANOID3D if path is None else Path(path)
    try:
        stat = os.stat(path)
    except OSError as error:
        raise FormatError(path, f"cannot read the character file: {error.strerror or error}") from None
    return _cached_character(str(path), stat.st_mtime_ns, stat.st_size)


def read_deepmimic(path: Path, character: DeepMimicCharacter) -> DeepMimicClip:
    """Read a DeepMimic motion of `character`. Raises FormatError for a file that is not JSON or not a
    DeepMimic motion, frames of the wrong width, values that are not finite numbers, no frames, or
    frame durations that are negative or sum to zero."""
    values = _read_frames(path, character)
    check_frames_finite(path, values)
    durations = values[:, 0]
    total = float(durations.sum())
    if (durations < 0).any() or not total > 0:
        raise FormatError(path, "frame durations (the first value of each frame) must be 0 or more and not all 0")
    times = np.concatenate([[0.0], np.cumsum(durations[:-1])])
    steps = np.diff(times)
    is_even = len(steps) == 0 or np.ptp(steps) <= 1e-3 * steps.mean()
    return DeepMimicClip(path, character, values, None if is_even else times, len(values) / total)


def deepmimic_joint_positions(clip: DeepMimicClip, joints: Sequence[int]) -> np.ndarray:
    """World positions (T, len(joints), 3), in metres, of the requested character nodes, on evenly
    spaced frames (a clip with uneven frame durations is interpolated onto them)."""
    character = clip.character
    frames = clip.frames
    rotations = np.broadcast_to(np.eye(3), (len(frames), len(character.names), 3, 3)).copy()
    translations = np.broadcast_to(character.offsets, (len(frames), len(character.names), 3)).copy()
    translations[:, 0] = frames[:, 1:4]
    rotations[:, 0] = _rotation(clip.path, frames[:, 4:8], "the root")
    column = _ROOT_VALUES
    for node, count in enumerate(character.value_counts):
        if count == 4:
            rotations[:, node] = _rotation(clip.path, frames[:, column : column + 4], character.names[node])
        elif count == 1:  # a revolute joint turns about its Z axis
            rotations[:, node] = euler_to_matrix(frames[:, column : column + 1], np.array([2]))
        column += count
    positions = forward_kinematics(character.parents, rotations, translations)[:, list(joints)]
    return positions if clip.times is None else retime(positions, clip.times)


@lru_cache(maxsize=8)
def _cached_character(path: str, _mtime_ns: int, _size: int) -> DeepMimicCharacter:
    data = _load_json(Path(path), "character")
    joints = data.get("Skeleton", {}).get("Joints") if isinstance(data, dict) else None
    if not isinstance(joints, list) or not joints:
        raise FormatError(path, 'not a DeepMimic character file: no "Skeleton" with "Joints"')
    try:
        return _character(Path(path), joints, data.get("BodyDefs") or [])
    except (KeyError, TypeError, ValueError) as error:
        raise FormatError(path, f"a joint or body of the character is malformed ({error})") from None


def _character(path: Path, joints: list[dict], bodies: list[dict]) -> DeepMimicCharacter:
    """The character's nodes: its joints in ID order, then an end point per leaf joint with a body."""
    joints = sorted(joints, key=lambda joint: int(joint["ID"]))
    if [int(joint["ID"]) for joint in joints] != list(range(len(joints))):
        raise FormatError(path, "joint IDs must run 0, 1, 2, ... without gaps")
    names, parents, offsets, types, counts = [], [], [], [], []
    for index, joint in enumerate(joints):
        parent, kind = int(joint["Parent"]), str(joint["Type"]).lower()
        if (index == 0) != (parent == -1) or parent >= index:
            raise FormatError(path, f"joint {joint['Name']!r}: the root must come first and parents before children")
        if index > 0 and kind not in _VALUES:
            raise FormatError(path, f"joint {joint['Name']!r} is {kind}; only spherical, revolute and fixed are read")
        if any(float(joint.get(f"AttachTheta{axis}", 0)) for axis in "XYZ"):
            raise FormatError(path, f"joint {joint['Name']!r} has a rotated attachment (AttachTheta), not read here")
        names.append(str(joint["Name"]))
        parents.append(parent)
        offsets.append([float(joint[f"Attach{axis}"]) for axis in "XYZ"])
        types.append(kind)
        counts.append(0 if index == 0 else _VALUES[kind])
    leaves = set(range(len(joints))) - set(parents)
    for body in bodies:
        joint = int(body["ID"])
        if joint in leaves and not any(float(body.get(f"AttachTheta{axis}", 0)) for axis in "XYZ"):
            names.append(f"{names[joint]}_end")
            parents.append(joint)
            offsets.append(_body_end(body))
            types.append("end")
            counts.append(0)
    return DeepMimicCharacter(path, tuple(names), tuple(parents), np.array(offsets), tuple(types), tuple(counts))


def _body_end(body: dict) -> list[float]:
    """Where a limb's body ends, in its joint's frame: a box's far face along its longest side (the
    toes of a foot box), else the shape's centre (the middle of a head sphere)."""
    centre = np.array([float(body[f"Attach{axis}"]) for axis in "XYZ"])
    if str(body.get("Shape", "")).lower() == "box":
        size = np.array([float(body[f"Param{k}"]) for k in range(3)])
        axis = int(np.argmax(size))
        centre[axis] += np.copysign(size[axis] / 2, centre[axis] or 1.0)
    return centre.tolist()


def _load_json(path: Path, what: str) -> object:
    with open_motion_file(path) as file:
        raw = file.read()
    if not raw.strip():
        raise FormatError(path, "the file is empty")
    return _parse_json(path, raw, what)


def _parse_json(path: Path, raw: bytes, what: str) -> object:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FormatError(path, f"the DeepMimic {what} is not valid JSON (truncated?): {error}") from None
    except RecursionError:
        raise FormatError(path, f"the DeepMimic {what} nests too deeply to be JSON data") from None


def _read_frames(path: Path, character: DeepMimicCharacter) -> np.ndarray:
    """The "Frames" table (T, frame_width). Its rows are parsed by numpy in one call and the rest of
    the file by `json`; a layout the fast path does not recognise goes through `json` whole."""
    with open_motion_file(path) as file:
        raw = file.read()
    if not raw.strip():
        raise FormatError(path, "the file is empty")
    frames = _FRAMES.search(raw)
    end = _FRAMES_END.search(raw, frames.end()) if frames else None
    if frames is None or end is None:
        return _frame_table(path, _frames_of(path, _parse_json(path, raw, "motion")), character)
    _frames_of(path, _parse_json(path, raw[: frames.end()] + b"]" + raw[end.end() :], "motion"))  # the rest is JSON
    rows = raw[frames.end() : end.start() + 1]
    text = np.frombuffer(rows, dtype=np.uint8)
    opens, closes = np.flatnonzero(text == ord("[")), np.flatnonzero(text == ord("]"))
    if len(opens) != len(closes) or (closes < opens).any():
        raise FormatError(path, "the frames are not a list of lists of numbers (truncated?)")
    commas = np.flatnonzero(text == ord(","))
    widths = np.searchsorted(commas, closes) - np.searchsorted(commas, opens) + 1  # commas inside each row, plus one
    _check_widths(path, widths, character)
    try:
        numbers = np.array(rows.translate(_PUNCTUATION_TO_SPACES).split(), dtype=np.float64)
    except ValueError:
        raise FormatError(path, "a frame holds a value that is not a number") from None
    if numbers.size != len(widths) * character.frame_width:
        raise FormatError(path, "a frame holds a value that is not a number")
    return numbers.reshape(len(widths), character.frame_width)


def _frames_of(path: Path, data: object) -> list:
    frames = data.get("Frames") if isinstance(data, dict) else None
    if not isinstance(frames, list):
        raise FormatError(path, 'not a DeepMimic motion: no "Frames" list')
    return frames


def _frame_table(path: Path, frames: list, character: DeepMimicCharacter) -> np.ndarray:
    if not frames:
        raise FormatError(path, "the motion has no frames")
    _check_widths(path, np.array([len(frame) if isinstance(frame, list) else -1 for frame in frames]), character)
    try:
        return np.array(frames, dtype=np.float64)
    except (TypeError, ValueError):
        raise FormatError(path, "a frame holds a value that is not a number") from None


def _check_widths(path: Path, widths: np.ndarray, character: DeepMimicCharacter) -> None:
    wrong = widths != character.frame_width
    if wrong.any():
        index = int(np.argmax(wrong))
        count = "no list of" if widths[index] < 0 else str(widths[index])
        reason = (
            f"frame {index} holds {count} values; a motion of the character {character.path.name} has "
            f"{character.frame_width} (dt, root position and rotation, then its joints' rotations)"
        )
        raise FormatError(path, reason)


def _rotation(path: Path, quats: np.ndarray, joint: str) -> np.ndarray:
    """Rotation matrices from (w, x, y, z) quaternions, which need not be normalised; a zero one is an error."""
    norms = np.linalg.norm(quats, axis=-1)
    if (norms < 1e-6).any():
        raise FormatError(path, f"frame {int(np.argmax(norms < 1e-6))} gives {joint} a zero quaternion")
    return quat_to_matrix(quats)
