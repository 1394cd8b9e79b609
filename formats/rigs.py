"""Mapping a file's skeleton onto the 22 SMPL joints by joint names.

The built-in maps are data (`rigs.tsv` beside this module: one row per SMPL joint, one column per rig);
a user's own map (TOML or JSON, SMPL joint name -> rig joint name) covers any other rig. Joints a rig
lacks, such as a second spine joint, are interpolated along the kinematic chain; toes a rig lacks are
the tip of the foot bone (a BVH End Site), which turns with the ankle as a toe joint would.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from formats.errors import SkeletonError
from formats.regular_files import open_regular
from formats.rig_structure import NotHumanoid
from formats.skeleton import JOINT_INDEX, KINEMATIC_CHAINS, NUM_JOINTS, SMPL_JOINTS

__all__ = [
    "RigMap",
    "JointMapping",
    "INTERPOLABLE_JOINTS",
    "TIP_JOINTS",
    "STRUCTURE_RIG",
    "builtin_rigs",
    "map_skeleton",
    "read_skeleton_map",
]

# Joints that may be missing from a rig: they lie between two joints every rig has, so a point on the
# chain between those neighbours stands in for them (REFERENCE.md: the features only use bone directions).
INTERPOLABLE_JOINTS = frozenset({"spine1", "spine2", "spine3", "neck", "left_collar", "right_collar"})
# Joints at the end of a chain that may be missing: the tip of their parent's bone stands in for them.
# A toe must turn with the ankle (the features' foot contacts and floor use it), which no blend of the
# other joints' positions does; the tip of the foot bone, fixed in the ankle's frame, does.
TIP_JOINTS: dict[str, str] = {"left_foot": "left_ankle", "right_foot": "right_ankle"}
# The rig name of a mapping found from the skeleton's shape rather than its names.
STRUCTURE_RIG = "by structure"
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
    """How to build the 22 SMPL joints from a file's joints: SMPL = weights @ (file joints[sources], then
    the tips of the file joints in `tips`: the end of their last bone, such as a BVH End Site)."""

    rig: str
    sources: tuple[int, ...]  # indices of the file joints used, in file order
    weights: np.ndarray  # (22, len(sources) + len(tips)): one-hot per mapped joint, a blend per interpolated one
    tips: tuple[int, ...] = ()  # file joints whose bone tip stands in for a missing toe

    def apply(self, positions: np.ndarray) -> np.ndarray:
        """(T, len(sources) + len(tips), 3) positions of the source joints and tips -> (T, 22, 3) SMPL joints."""
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


def map_skeleton(
    names: Sequence[str],
    path: Path,
    skeleton_map: Mapping[str, str] | None = None,
    *,
    has_tip: Sequence[bool] = (),
    structure: Callable[[], Mapping[str, int | None]] | None = None,
) -> JointMapping:
    """Map a file's joints onto the SMPL joints: with `skeleton_map`, else the best-fitting built-in rig
    by names, else by the skeleton's shape (`structure`, see formats.rig_structure) when it is given.

    has_tip[j]: file joint j has a bone tip (a BVH End Site), which can stand in for a missing toe.
    Raises SkeletonError listing the SMPL joints that could not be found.
    """
    rigs = (RigMap("user skeleton map", skeleton_map),) if skeleton_map is not None else builtin_rigs()
    index = _name_index(names)
    candidates = [(rig, _resolve(rig, index)) for rig in rigs]
    # Best name coverage among the rigs that find every joint they cannot interpolate.
    complete = [(rig, found) for rig, found in candidates if not _missing(found, has_tip)]
    if complete:
        rig, found = max(complete, key=lambda candidate: _coverage(*candidate))
        return mapping_from_joints(rig.name, found)
    rig, found = max(candidates, key=lambda candidate: _coverage(*candidate))
    missing = ", ".join(_missing(found, has_tip))
    if skeleton_map is not None:
        raise SkeletonError(path, f"the skeleton map finds no joint for {missing} in this file")
    shape = ""
    if structure is not None:
        try:
            return mapping_from_joints(STRUCTURE_RIG, structure())
        except NotHumanoid as error:
            shape = f" and its shape is not a humanoid's ({error})"
    raise SkeletonError(
        path,
        f"unknown skeleton: no built-in map fits (closest: {rig.name}, which finds no joint for {missing}){shape}; "
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


def _missing(found: Mapping[str, int | None], has_tip: Sequence[bool]) -> list[str]:
    return [joint for joint, index in found.items() if index is None and not _can_fill(joint, found, has_tip)]


def _can_fill(joint: str, found: Mapping[str, int | None], has_tip: Sequence[bool]) -> bool:
    if joint in INTERPOLABLE_JOINTS:
        return True
    parent = found.get(TIP_JOINTS.get(joint, ""))
    return parent is not None and parent < len(has_tip) and has_tip[parent]


def _coverage(rig: RigMap, found: Mapping[str, int | None]) -> float:
    return sum(index is not None for index in found.values()) / max(len(rig.joints), 1)


def mapping_from_joints(rig: str, found: Mapping[str, int | None]) -> JointMapping:
    """Blend weights from the file joint found for each SMPL joint (None: not found).

    A found joint copies its file joint; a missing toe is the tip of its ankle's bone; any other
    missing joint lies on its chain between the nearest found (or already interpolated) joints, spaced
    evenly by chain position.
    """
    tips = tuple(found[TIP_JOINTS[joint]] for joint in TIP_JOINTS if found.get(joint) is None)
    sources = tuple(sorted({index for index in found.values() if index is not None}))
    column = {source: i for i, source in enumerate(sources)}
    weights = np.zeros((NUM_JOINTS, len(sources) + len(tips)))
    known = set()
    for joint, index in found.items():
        if index is not None:
            weights[JOINT_INDEX[joint], column[index]] = 1.0
            known.add(JOINT_INDEX[joint])
    for k, joint in enumerate(joint for joint in TIP_JOINTS if found.get(joint) is None):
        weights[JOINT_INDEX[joint], len(sources) + k] = 1.0
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
    return JointMapping(rig, sources, weights, tips)
