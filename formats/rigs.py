"""Mapping a file's skeleton onto the 22 SMPL joints by joint names.

The built-in maps are data (`rigs.tsv` beside this module: one row per SMPL joint, one column per rig);
a user's own map (TOML or JSON, SMPL joint name -> rig joint name) covers any other rig. Joints a rig
lacks, such as a second spine joint, are interpolated along the kinematic chain.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from formats.errors import SkeletonError
from formats.regular_files import open_regular
from formats.skeleton import JOINT_INDEX, KINEMATIC_CHAINS, NUM_JOINTS, SMPL_JOINTS

__all__ = ["RigMap", "JointMapping", "INTERPOLABLE_JOINTS", "builtin_rigs", "map_skeleton", "read_skeleton_map"]

# Joints that may be missing from a rig: they lie between two joints every rig has, so a point on the
# chain between those neighbours stands in for them (REFERENCE.md: the features only use bone directions).
INTERPOLABLE_JOINTS = frozenset({"spine1", "spine2", "spine3", "neck", "left_collar", "right_collar"})
_RIGS_TABLE = Path(__file__).with_name("rigs.tsv")
_NO_JOINT = "-"
_SEPARATORS = "_.- "


@dataclass(frozen=True)
class RigMap:
    """A named map from SMPL joint names to a rig's joint names; SMPL joints left out are interpolated."""

    name: str
    joints: Mapping[str, str]


@dataclass(frozen=True)
class JointMapping:
    """How to build the 22 SMPL joints from a file's joints: SMPL = weights @ file joints[sources]."""

    rig: str
    sources: tuple[int, ...]  # indices of the file joints used, in file order
    weights: np.ndarray  # (22, len(sources)): a one-hot row per mapped joint, a blend per interpolated one

    def apply(self, positions: np.ndarray) -> np.ndarray:
        """(T, len(sources), 3) positions of the source joints -> (T, 22, 3) SMPL joints."""
        return np.einsum("sj,tjc->tsc", self.weights, positions)


@lru_cache(maxsize=1)
def builtin_rigs() -> tuple[RigMap, ...]:
    """The rigs of `rigs.tsv`, in table order."""
    lines = [line.split("\t") for line in _RIGS_TABLE.read_text().splitlines() if line and not line.startswith("#")]
    header, rows = lines[0], lines[1:]
    assert [row[0] for row in rows] == list(SMPL_JOINTS), "rigs.tsv rows must follow SMPL_JOINTS"
    return tuple(
        RigMap(name, {row[0]: row[column] for row in rows if row[column] != _NO_JOINT})
        for column, name in enumerate(header[1:], start=1)
    )


def map_skeleton(names: Sequence[str], path: Path, skeleton_map: Mapping[str, str] | None = None) -> JointMapping:
    """Map a file's joint names onto the SMPL joints, with `skeleton_map` or the best-fitting built-in rig.

    Raises SkeletonError listing the SMPL joints that could not be found.
    """
    rigs = (RigMap("user skeleton map", skeleton_map),) if skeleton_map is not None else builtin_rigs()
    index = _name_index(names)
    candidates = [(rig, _resolve(rig, index)) for rig in rigs]
    # Best name coverage among the rigs that find every joint they cannot interpolate.
    complete = [(rig, found) for rig, found in candidates if not _missing(found)]
    if complete:
        rig, found = max(complete, key=lambda candidate: _coverage(*candidate))
        return _mapping(rig.name, found)
    rig, found = max(candidates, key=lambda candidate: _coverage(*candidate))
    missing = ", ".join(_missing(found))
    if skeleton_map is not None:
        raise SkeletonError(path, f"the skeleton map finds no joint for {missing} in this file")
    raise SkeletonError(
        path,
        f"unknown skeleton: no built-in map fits (closest: {rig.name}, which finds no joint for {missing}); "
        "describe this rig with --skeleton-map FILE (SMPL joint name = joint name in the file)",
    )


def read_skeleton_map(path: Path) -> dict[str, str]:
    """Read a user skeleton map: a TOML or JSON table of SMPL joint name -> joint name in the file.

    Raises SkeletonError naming the map file when it cannot be read or names an unknown SMPL joint.
    """
    path = Path(path)
    try:
        with open_regular(path) as file:
            data = file.read(_MAX_MAP_BYTES + 1)
        if len(data) > _MAX_MAP_BYTES:
            raise SkeletonError(path, f"the skeleton map is larger than {_MAX_MAP_BYTES:,} bytes; a map is a short table")
        text = data.decode("utf-8")
    except OSError as error:
        raise SkeletonError(path, f"cannot read the skeleton map: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise SkeletonError(path, f"cannot read the skeleton map: {error}") from None
    language = "JSON" if path.suffix.lower() == ".json" else "TOML"
    try:
        table = json.loads(text) if language == "JSON" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as error:
        raise SkeletonError(path, f"the skeleton map is not valid {language}: {error}") from None
    except RecursionError:
        raise SkeletonError(path, f"the skeleton map nests too deeply to be a {language} table of joint names") from None
    if not isinstance(table, dict) or not table:
        raise SkeletonError(path, "the skeleton map must be a non-empty table of SMPL joint name -> joint name")
    joints: dict[str, str] = {}
    for key, value in table.items():
        name = str(key).lower()
        if name not in JOINT_INDEX:
            raise SkeletonError(path, f"{key!r} is not an SMPL joint; use one of: {', '.join(SMPL_JOINTS)}")
        if not isinstance(value, str) or not value.strip():
            raise SkeletonError(path, f"the joint name for {key!r} must be a non-empty string")
        joints[name] = value.strip()
    return joints


_MAX_MAP_BYTES = 1 << 20


@lru_cache(maxsize=4096)
def _normalise(name: str) -> str:
    """Case-folded name without a namespace ('mixamorig:Hips', 'Armature|Hips' -> 'hips')."""
    return name.replace("|", ":").rsplit(":", 1)[-1].strip().lower()


def _name_index(names: Sequence[str]) -> dict[str, int]:
    """Lookup from a wanted (normalised) name to the file joint it denotes: every joint under its own
    name first, then under each suffix that follows a separator ('character1_hips' also answers
    'hips'); the first joint in file order wins."""
    keys = [_normalise(name) for name in names]
    index = {}
    for i, key in enumerate(keys):
        index.setdefault(key, i)
    for i, key in enumerate(keys):
        for position, char in enumerate(key[:-1]):
            if char in _SEPARATORS:
                index.setdefault(key[position + 1 :], i)
    return index


def _resolve(rig: RigMap, index: Mapping[str, int]) -> dict[str, int | None]:
    return {joint: index.get(_normalise(rig.joints[joint])) if joint in rig.joints else None for joint in SMPL_JOINTS}


def _missing(found: Mapping[str, int | None]) -> list[str]:
    return [joint for joint, index in found.items() if index is None and joint not in INTERPOLABLE_JOINTS]


def _coverage(rig: RigMap, found: Mapping[str, int | None]) -> float:
    return sum(index is not None for index in found.values()) / max(len(rig.joints), 1)


def _mapping(rig: str, found: Mapping[str, int | None]) -> JointMapping:
    """Blend weights: a found joint copies its file joint; a missing one lies on its chain between the
    nearest found (or already interpolated) joints, spaced evenly by chain position."""
    sources = tuple(sorted({index for index in found.values() if index is not None}))
    column = {source: i for i, source in enumerate(sources)}
    weights = np.zeros((NUM_JOINTS, len(sources)))
    known = set()
    for joint, index in found.items():
        if index is not None:
            weights[JOINT_INDEX[joint], column[index]] = 1.0
            known.add(JOINT_INDEX[joint])
    for chain in KINEMATIC_CHAINS:  # the spine chain comes before the arm chains that start on spine3
        for position, joint in enumerate(chain):
            if joint in known:
                continue
            before = max(i for i in range(position) if chain[i] in known)
            after = min(i for i in range(position + 1, len(chain)) if chain[i] in known)
            share = (position - before) / (after - before)
            weights[joint] = (1 - share) * weights[chain[before]] + share * weights[chain[after]]
            known.add(joint)
    return JointMapping(rig, sources, weights)
