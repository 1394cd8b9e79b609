"""Acclaim ASF skeletons (the CMU mocap database's and HDM05's): bones, their axes, degrees of freedom.

An ASF describes the rest pose in world coordinates: each bone has a direction and a length, and an
`axis` (three angles and their order) that orients the frame its AMC rotations are expressed in. The
`:hierarchy` says which bone hangs from which; the `root` carries the translation. Limits, masses and
the documentation are not needed to pose a skeleton and are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from formats.checks import read_text_file
from formats.errors import FormatError
from formats.kinematics import euler_to_matrix

__all__ = ["AsfSkeleton", "read_asf", "ROOT", "INCHES_PER_METRE"]

ROOT = "root"
INCHES_PER_METRE = 1 / 0.0254
_AXES = {"x": 0, "y": 1, "z": 2}
_ROTATION_DOFS = ("rx", "ry", "rz")
_TRANSLATION_DOFS = ("tx", "ty", "tz")


@dataclass(frozen=True)
class AsfSkeleton:
    """An ASF's bones, parents first; bone 0 is the root.

    `vectors[j]` is bone j's rest vector (direction times length, in metres; zero for the root),
    `axes[j]` the rotation (3, 3) from bone j's frame to the world, `dofs[j]` the AMC channels of
    bone j in file order ('rx', 'ry', 'rz', and for the root also 'tx', 'ty', 'tz').
    """

    path: Path
    names: tuple[str, ...]
    parents: tuple[int, ...]
    vectors: np.ndarray  # (J, 3) metres
    axes: np.ndarray  # (J, 3, 3)
    dofs: tuple[tuple[str, ...], ...]
    root_position: np.ndarray  # (3,) metres
    metres_per_unit: float
    is_degrees: bool


@dataclass
class _Bone:
    name: str
    direction: np.ndarray | None = None
    length: float | None = None
    axis: tuple[tuple[float, float, float], str] = ((0.0, 0.0, 0.0), "XYZ")
    dofs: tuple[str, ...] = ()


def read_asf(path: Path) -> AsfSkeleton:
    """Read an ASF file. Raises FormatError for a file that is not ASF, a bone without a direction or
    length, an unknown degree of freedom, or a hierarchy that names unknown bones, gives a bone two
    parents or leaves bones unattached to the root."""
    sections = _sections(path, read_text_file(path, "ASF").decode("latin-1"))
    units = _units(path, sections.get("units", []))
    is_degrees = units.get("angle", "deg").lower().startswith("deg")
    metres_per_unit = _metres_per_unit(path, units.get("length", "1"))
    root = _root(path, sections.get("root"), is_degrees)
    bones = _bones(path, sections.get("bonedata"))
    order, parent_of = _hierarchy(path, sections.get("hierarchy"), bones)
    names = (ROOT, *order)
    index = {name: i for i, name in enumerate(names)}
    parents = (-1, *(index[parent_of[name]] for name in order))
    vectors = np.zeros((len(names), 3))
    axes = np.empty((len(names), 3, 3))
    axes[0] = root[1]
    for j, name in enumerate(order, start=1):
        bone = bones[name]
        vectors[j] = bone.direction * bone.length * metres_per_unit  # type: ignore[operator]
        axes[j] = _axis_matrix(path, name, *bone.axis, is_degrees)
    return AsfSkeleton(
        path=path,
        names=names,
        parents=parents,
        vectors=vectors,
        axes=axes,
        dofs=(root[0], *(bones[name].dofs for name in order)),
        root_position=root[2] * metres_per_unit,
        metres_per_unit=metres_per_unit,
        is_degrees=is_degrees,
    )


def _sections(path: Path, text: str) -> dict[str, list[list[str]]]:
    """Keyword sections (':units', ':root', ...) as lists of token lines, comments dropped."""
    sections: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    for line in text.splitlines():
        tokens = line.split("#", 1)[0].split()
        if not tokens:
            continue
        if tokens[0].startswith(":"):
            current = sections.setdefault(tokens[0][1:].lower(), [])
            if len(tokens) > 1:
                current.append(tokens[1:])
        elif current is not None:
            current.append(tokens)
    if "bonedata" not in sections or "hierarchy" not in sections:
        raise FormatError(path, "no :bonedata or :hierarchy section: not an ASF skeleton, or truncated")
    return sections


def _units(path: Path, lines: list[list[str]]) -> dict[str, str]:
    return {line[0].lower(): line[1] for line in lines if len(line) >= 2}


def _metres_per_unit(path: Path, length: str) -> float:
    """Acclaim lengths are inches divided by the `:units length` factor (CMU's 0.45: 5.644 cm a unit)."""
    factor = _number(path, length, ":units length")
    if not factor > 0:
        raise FormatError(path, f":units length must be a positive number, got {length}")
    return 1.0 / (factor * INCHES_PER_METRE)


def _root(
    path: Path, lines: list[list[str]] | None, is_degrees: bool
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """The root's AMC channels, its orientation (3, 3) and its rest position (file units)."""
    fields = {line[0].lower(): line[1:] for line in lines or [] if line}
    channels = tuple(channel.lower() for channel in fields.get("order", ["TX", "TY", "TZ", "RX", "RY", "RZ"]))
    for channel in channels:
        if channel not in _ROTATION_DOFS + _TRANSLATION_DOFS:
            raise FormatError(path, f"the root order names {channel.upper()}, not one of TX TY TZ RX RY RZ")
    order = (fields.get("axis") or ["XYZ"])[0]
    orientation = _numbers(path, fields.get("orientation", ["0", "0", "0"]), 3, "the root orientation")
    position = _numbers(path, fields.get("position", ["0", "0", "0"]), 3, "the root position")
    return channels, _axis_matrix(path, ROOT, tuple(orientation), order, is_degrees), position


def _bones(path: Path, lines: list[list[str]] | None) -> dict[str, _Bone]:
    """Every `begin ... end` block of :bonedata, by bone name."""
    bones: dict[str, _Bone] = {}
    bone: _Bone | None = None
    for line in lines or []:
        key = line[0].lower()
        if key == "begin":
            bone = _Bone("")
        elif key == "end" and bone is not None:
            _check_bone(path, bone)
            if bone.name in bones or bone.name == ROOT:
                raise FormatError(path, f"bone {bone.name!r} is defined twice")
            bones[bone.name] = bone
            bone = None
        elif bone is not None:
            _read_bone_field(path, bone, key, line[1:])
    if bone is not None:
        raise FormatError(path, f"bone {bone.name or '(unnamed)'} has no 'end': the file is truncated")
    if not bones:
        raise FormatError(path, ":bonedata holds no bones")
    return bones


def _read_bone_field(path: Path, bone: _Bone, key: str, values: list[str]) -> None:
    if key == "name" and values:
        bone.name = values[0]
    elif key == "direction":
        bone.direction = _numbers(path, values, 3, f"the direction of bone {bone.name!r}")
    elif key == "length" and values:
        bone.length = _number(path, values[0], f"the length of bone {bone.name!r}")
    elif key == "axis":
        angles = _numbers(path, values[:3], 3, f"the axis of bone {bone.name!r}")
        bone.axis = (tuple(angles), values[3] if len(values) > 3 else "XYZ")  # type: ignore[assignment]
    elif key == "dof":
        bone.dofs = tuple(value.lower() for value in values)
        unknown = [dof for dof in bone.dofs if dof not in _ROTATION_DOFS]
        if unknown:
            reason = f"bone {bone.name!r} has degrees of freedom {' '.join(unknown)}; only rx, ry, rz are read"
            raise FormatError(path, reason)


def _check_bone(path: Path, bone: _Bone) -> None:
    if not bone.name:
        raise FormatError(path, "a bone in :bonedata has no name")
    if bone.direction is None or bone.length is None:
        raise FormatError(path, f"bone {bone.name!r} has no direction or no length")
    norm = np.linalg.norm(bone.direction)
    if not norm > 0 or not np.isfinite(bone.length):
        raise FormatError(path, f"bone {bone.name!r} has a zero direction or a length that is not a number")
    bone.direction = bone.direction / norm


def _hierarchy(
    path: Path, lines: list[list[str]] | None, bones: dict[str, _Bone]
) -> tuple[list[str], dict[str, str]]:
    """The bones in an order that puts every parent first, and each bone's parent, checked against
    :bonedata."""
    children: dict[str, list[str]] = {}
    parent_of: dict[str, str] = {}
    for line in lines or []:
        if line[0].lower() in ("begin", "end"):
            continue
        parent, kids = line[0], line[1:]
        for name in (parent, *kids):
            if name != ROOT and name not in bones:
                raise FormatError(path, f"the :hierarchy names bone {name!r}, which :bonedata does not define")
        for kid in kids:
            if kid in parent_of or kid == ROOT:
                raise FormatError(path, f"the :hierarchy gives bone {kid!r} two parents")
            parent_of[kid] = parent
            children.setdefault(parent, []).append(kid)
    order: list[str] = []
    pending = list(children.get(ROOT, []))
    while pending:
        name = pending.pop(0)
        order.append(name)
        pending.extend(children.get(name, []))
    unattached = sorted(set(bones) - set(order))
    if unattached:
        shown = ", ".join(unattached[:5]) + (" ..." if len(unattached) > 5 else "")
        raise FormatError(path, f"the :hierarchy does not connect {shown} to the root")
    return order, parent_of


def _axis_matrix(path: Path, name: str, angles: tuple[float, ...], order: str, is_degrees: bool) -> np.ndarray:
    """The rotation of angles applied about the axes in `order`, first listed first: for 'XYZ',
    R = Rz @ Ry @ Rx, as the Acclaim format defines it."""
    letters = order.lower()
    if sorted(letters) != ["x", "y", "z"]:
        raise FormatError(path, f"the axis order of {name!r} is {order!r}, not a permutation of XYZ")
    values = dict(zip("xyz", np.radians(angles) if is_degrees else np.asarray(angles, dtype=np.float64)))
    applied = [_AXES[letter] for letter in reversed(letters)]
    return euler_to_matrix(np.array([values[letter] for letter in reversed(letters)]), np.array(applied))


def _number(path: Path, text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise FormatError(path, f"{what} is not a number: {text!r}") from None


def _numbers(path: Path, values: list[str], count: int, what: str) -> np.ndarray:
    if len(values) < count:
        raise FormatError(path, f"{what} needs {count} numbers, got {len(values)}")
    numbers = np.array([_number(path, value, what) for value in values[:count]])
    if not np.isfinite(numbers).all():
        raise FormatError(path, f"{what} holds a value that is not finite")
    return numbers
