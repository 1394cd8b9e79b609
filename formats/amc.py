"""Acclaim AMC motions: the frames of an ASF skeleton, posed vectorised over frames.

Each AMC frame is a frame number followed by one line per moving bone (`lfemur rx ry rz`). The
values are read by splitting the whole file into tokens once and reshaping them into a (frames,
tokens per frame) table, so the frame count never costs a Python loop. A bone's world rotation is its
parent's times C M C^-1 (C: the ASF axis, M: the AMC rotation in the bone's dof order); its end sits
at its start plus that rotation applied to its rest vector.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from formats.asf import AsfSkeleton, read_asf
from formats.checks import check_frames_finite, read_text_file
from formats.errors import FormatError
from formats.kinematics import euler_to_matrix, forward_kinematics, with_ancestors

__all__ = ["AMC_FPS", "AmcClip", "find_asf", "read_amc", "amc_joint_positions"]

# CMU's and HDM05's capture rate; AMC files do not state theirs.
AMC_FPS = 120.0
_AXES = {"x": 0, "y": 1, "z": 2}
_SEPARATORS = "_-. "
# A bone name opens an AMC line; numbers never start with a letter (exponents follow a digit).
_BONE_NAME = re.compile(rb"(?m)^[ \t]*([A-Za-z_][^ \t\r\n]*)")
_FRAME_NUMBER = re.compile(rb"(?m)^[ \t]*[0-9]+[ \t]*\r?$")


@dataclass(frozen=True)
class AmcClip:
    """An AMC motion on its skeleton: `values[j]` is (T, len(skeleton.dofs[j])) for bone j, in radians
    for rotations and metres for the root's translations; bones the file never lists stay at rest."""

    path: Path
    skeleton: AsfSkeleton
    values: tuple[np.ndarray, ...]
    num_frames: int


def find_asf(amc: Path, given: Path | None = None) -> Path:
    """The skeleton of an AMC file: `given` (--asf) if any, else the .asf beside it whose name starts
    its name (`HDM_bd.asf` for `HDM_bd_kick_001_120.amc`, `01.asf` for `01_01.amc`; the longest
    wins), else the only .asf in its folder. Raises FormatError saying what was looked for."""
    if given is not None:
        return Path(given)
    folder = amc.parent
    try:
        with os.scandir(folder) as entries:
            candidates = sorted(
                folder / entry.name for entry in entries if entry.name.lower().endswith(".asf") and entry.is_file()
            )
    except OSError as error:
        raise FormatError(amc, f"cannot list its folder to find its .asf skeleton: {error.strerror or error}") from None
    stem = amc.stem.lower()
    prefixes = [
        p for p in candidates if stem.startswith(p.stem.lower()) and stem[len(p.stem) : len(p.stem) + 1] in ("", *_SEPARATORS)
    ]
    if prefixes:
        return max(prefixes, key=lambda p: len(p.stem))
    if len(candidates) == 1:
        return candidates[0]
    found = f"{len(candidates)} .asf files, none named as a prefix of it" if candidates else "no .asf file"
    raise FormatError(amc, f"no ASF skeleton found: its folder holds {found}; give the skeleton with --asf FILE")


def read_amc(path: Path, asf: Path | None = None) -> AmcClip:
    """Read an AMC file and the ASF skeleton `find_asf` picks for it.

    Raises FormatError for a missing or bad skeleton, an empty, truncated or junk file, frames that
    list their bones differently, values that are not finite numbers, or no frames at all.
    """
    skeleton = _cached_asf(find_asf(path, asf))
    raw = read_text_file(path, "AMC")
    first = _FRAME_NUMBER.search(raw)
    if first is None:
        raise FormatError(path, "no frames: no line holds a frame number (not an AMC file, or empty)")
    header = raw[: first.start()].upper()
    is_degrees = skeleton.is_degrees if b":RADIANS" not in header and b":DEGREES" not in header else b":DEGREES" in header
    second = _FRAME_NUMBER.search(raw, first.end())
    layout = _frame_layout(path, raw[first.end() : second.start() if second else len(raw)].split(b"\n"), skeleton)
    table = _value_table(path, raw[first.start() :], layout)
    return AmcClip(path, skeleton, _bone_values(table, layout, skeleton, is_degrees), len(table))


def amc_joint_positions(clip: AmcClip, joints: Sequence[int]) -> np.ndarray:
    """World positions (T, len(joints), 3), in metres, of the requested skeleton points. Point j is
    where bone j starts (the end of its parent bone; the root's translation for the root), as a BVH
    converted from the ASF places its joint j."""
    skeleton = clip.skeleton
    ends = with_ancestors(skeleton.parents, [max(skeleton.parents[j], 0) for j in joints])
    local = {bone: i for i, bone in enumerate(ends)}
    parents = [local.get(skeleton.parents[bone], -1) for bone in ends]
    angles, axes = _rotation_angles(clip, ends)
    rotations = euler_to_matrix(angles, axes)  # (T, B, 3, 3), in each bone's axis frame
    frames = skeleton.axes[ends]
    is_turned = ~np.isclose(frames, np.eye(3), atol=1e-12).all(axis=(1, 2))  # bones whose axis is not the world's
    turned = frames[is_turned]
    rotations[:, is_turned] = turned @ rotations[:, is_turned] @ np.swapaxes(turned, -1, -2)
    translations = np.einsum("tbij,bj->tbi", rotations, skeleton.vectors[ends])
    translations[:, 0] = _root_translation(clip)
    positions = forward_kinematics(parents, rotations, translations)
    return positions[:, [local[skeleton.parents[j]] if j > 0 else 0 for j in joints]]


@lru_cache(maxsize=16)
def _cached_asf_at(path: str, _mtime_ns: int, _size: int) -> AsfSkeleton:
    return read_asf(Path(path))


def _cached_asf(path: Path) -> AsfSkeleton:
    """The skeleton, read once per file version: a library holds many motions of one actor."""
    try:
        stat = os.stat(path)
    except OSError:
        return read_asf(path)  # which reports why it cannot be read
    return _cached_asf_at(str(path), stat.st_mtime_ns, stat.st_size)


def _frame_layout(path: Path, lines: list[bytes], skeleton: AsfSkeleton) -> list[tuple[bytes, int]]:
    """(bone name, value count) per line of the first frame, checked against the skeleton."""
    index = {name: i for i, name in enumerate(skeleton.names)}
    layout = []
    for line in lines:
        tokens = line.split()
        if not tokens:
            continue
        if line.strip().isdigit():
            break
        name = tokens[0].decode("latin-1")
        if name not in index:
            raise FormatError(path, f"frame 1 moves bone {name!r}, which its skeleton {skeleton.path.name} lacks")
        bone = index[name]
        if len(tokens) - 1 != len(skeleton.dofs[bone]):
            reason = (
                f"bone {name!r} has {len(tokens) - 1} values in frame 1 but {len(skeleton.dofs[bone])} "
                f"degrees of freedom in {skeleton.path.name}"
            )
            raise FormatError(path, reason)
        layout.append((tokens[0], len(tokens) - 1))
    if not layout:
        raise FormatError(path, "the first frame lists no bones")
    return layout


def _value_table(path: Path, body: bytes, layout: list[tuple[int, int]]) -> np.ndarray:
    """The frames as a (T, 1 + values per frame) array: the frame number, then each line's values in
    the first frame's order. Every frame must list the same bones in that order (a file cut short
    ends inside a frame): the names are checked, then removed, and the numbers parsed in one call."""
    expected = [name for name, _ in layout]
    parts = _BONE_NAME.split(body)  # numbers, name, numbers, name, ...: one pass over the text
    names = parts[1::2]
    frames = len(names) // len(layout)
    if names != expected * frames or len(names) % len(layout):
        frame = next((i for i in range(frames + 1) if names[i * len(layout) : (i + 1) * len(layout)] != expected), frames)
        reason = f"frame {frame + 1} lists other bones than the first frame, or the file is truncated inside it"
        raise FormatError(path, reason)
    width = 1 + sum(count for _, count in layout)
    try:
        numbers = np.array(b" ".join(parts[0::2]).split(), dtype=np.float64)
    except ValueError:
        raise FormatError(path, "a frame holds a value that is not a number") from None
    if numbers.size != frames * width:
        count = "few" if numbers.size < frames * width else "many"
        raise FormatError(path, f"the {frames} frames hold {numbers.size} numbers, not {frames * width}: a bone line has too {count} values")
    table = numbers.reshape(frames, width)
    check_frames_finite(path, table, first_frame=int(table[0, 0]) if np.isfinite(table[0, 0]) else 1)
    return table


def _bone_values(
    table: np.ndarray, layout: list[tuple[bytes, int]], skeleton: AsfSkeleton, is_degrees: bool
) -> tuple[np.ndarray, ...]:
    """Each bone's values (T, dofs) in radians and metres, from the table's value columns."""
    index = {name.encode("latin-1"): i for i, name in enumerate(skeleton.names)}
    values = [np.zeros((len(table), len(dofs))) for dofs in skeleton.dofs]
    column = 1  # after the frame number
    for name, count in layout:
        bone = index[name]
        is_angle = np.array([dof.startswith("r") for dof in skeleton.dofs[bone]])
        scale = np.where(is_angle, np.pi / 180 if is_degrees else 1.0, skeleton.metres_per_unit)
        values[bone] = table[:, column : column + count] * scale
        column += count
    return tuple(values)


def _rotation_angles(clip: AmcClip, bones: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Angles (T, B, 3) and axes (B, 3) for `euler_to_matrix`, which composes its first axis outermost:
    the dofs reversed, so the first listed is applied first, padded with zero turns."""
    angles = np.zeros((clip.num_frames, len(bones), 3))
    axes = np.zeros((len(bones), 3), dtype=np.intp)
    for i, bone in enumerate(bones):
        rotations = [k for k, dof in enumerate(clip.skeleton.dofs[bone]) if dof.startswith("r")][::-1]
        for slot, k in enumerate(rotations):
            angles[:, i, slot] = clip.values[bone][:, k]
            axes[i, slot] = _AXES[clip.skeleton.dofs[bone][k][1]]
    return angles, axes


def _root_translation(clip: AmcClip) -> np.ndarray:
    """(T, 3) metres: the root's translation channels, its ASF rest position on axes it has none for."""
    translation = np.broadcast_to(clip.skeleton.root_position, (clip.num_frames, 3)).copy()
    for k, dof in enumerate(clip.skeleton.dofs[0]):
        if dof.startswith("t"):
            translation[:, _AXES[dof[1]]] = clip.values[0][:, k]
    return translation

