"""Length units and axes: bring SMPL joints to metres, Y up, in a right-handed frame.

Files state neither their unit nor their up axis, so both are read off the body: the leg length (hip to
knee to ankle, the same in every pose) picks the unit, the feet-to-head direction picks the up axis, and
the toes and knees, which point forward, tell whether left and right are where a right-handed frame puts
them (left side toward +X when facing +Z, as in HumanML3D).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from formats.skeleton import JOINT_INDEX

__all__ = ["UNIT_SCALES", "UP_AXES", "Placement", "detect_placement", "up_rotation"]

# Metres per file unit. "cmu" is the unit of the CMU ASF skeleton kept by its cgspeed BVH conversion.
UNIT_SCALES: dict[str, float] = {
    "m": 1.0,
    "cm": 0.01,
    "mm": 0.001,
    "in": 0.0254,
    "ft": 0.3048,
    "cmu": 0.056444,
}
# Leg length (hip-knee-ankle) of the HumanML3D target skeleton, in metres; adults measure 0.75-0.95 m.
_REFERENCE_LEG = 0.83
# Leg lengths (metres) from a small child's to a tall adult's.
_HUMAN_LEGS = (0.3, 1.1)
UP_AXES = ("+y", "-y", "+z", "-z", "+x", "-x")
# Proper rotations taking each up axis to +Y. "+z" is HumanML3D's AMASS conversion, (x, y, z) -> (-x, z, y).
_UP_ROTATIONS = {
    "+y": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "-y": ((-1, 0, 0), (0, -1, 0), (0, 0, 1)),
    "+z": ((-1, 0, 0), (0, 0, 1), (0, 1, 0)),
    "-z": ((1, 0, 0), (0, 0, -1), (0, 1, 0)),
    "+x": ((0, -1, 0), (1, 0, 0), (0, 0, 1)),
    "-x": ((0, 1, 0), (-1, 0, 0), (0, 0, 1)),
}
_MIRROR_X = np.diag([-1.0, 1.0, 1.0])
_SAMPLED_FRAMES = 256


@dataclass(frozen=True)
class Placement:
    """How a file's coordinates relate to metres, Y up: canonical = scale * rotation @ file.

    `rotation` is a proper rotation, or a rotation followed by a mirror of X for files whose left and
    right are swapped (a left-handed export).
    """

    unit: str
    up: str
    is_mirrored: bool

    @property
    def scale(self) -> float:
        """Metres per file unit."""
        return UNIT_SCALES[self.unit]

    @property
    def rotation(self) -> np.ndarray:
        """(3, 3) from file axes to Y up (orthogonal; a mirror of X included for a left-handed file)."""
        rotation = up_rotation(self.up)
        return _MIRROR_X @ rotation if self.is_mirrored else rotation

    def apply(self, points: np.ndarray) -> np.ndarray:
        """File coordinates (..., 3) -> metres, Y up."""
        return self.scale * points @ self.rotation.T

    def undo(self, points: np.ndarray) -> np.ndarray:
        """Metres, Y up (..., 3) -> file coordinates: the inverse of `apply`."""
        return points @ self.rotation / self.scale


def up_rotation(up: str) -> np.ndarray:
    """The proper rotation (3, 3) that takes the axis `up` (one of UP_AXES) to +Y."""
    return np.array(_UP_ROTATIONS[up], dtype=np.float64)


def detect_placement(joints: np.ndarray) -> Placement:
    """Guess the unit, up axis and handedness of SMPL joints (T, 22, 3) in file coordinates.

    The cues are averages over the clip; a few hundred frames spread over it give the same answer as
    every frame, for less work on long clips.
    """
    joints = joints[:: max(1, len(joints) // _SAMPLED_FRAMES)]
    up = _detect_up(joints)
    upright = joints @ up_rotation(up).T
    return Placement(unit=_detect_unit(joints), up=up, is_mirrored=_is_mirrored(upright))


def _detect_unit(joints: np.ndarray) -> str:
    """The unit whose leg length is closest, by ratio, to an adult's, among those that give a human leg
    (a child's too: a 5-year-old's, 20 inches, must not become a 1.15 m leg in CMU units)."""
    leg = np.median(
        _distance(joints, "left_hip", "left_knee")
        + _distance(joints, "left_knee", "left_ankle")
        + _distance(joints, "right_hip", "right_knee")
        + _distance(joints, "right_knee", "right_ankle")
    ) / 2
    if not leg > 0:
        return "m"  # a degenerate skeleton; rejected later by its shape, not here
    human = [unit for unit, scale in UNIT_SCALES.items() if _HUMAN_LEGS[0] <= leg * scale <= _HUMAN_LEGS[1]]
    return min(human or UNIT_SCALES, key=lambda unit: abs(np.log(leg * UNIT_SCALES[unit] / _REFERENCE_LEG)))


def _detect_up(joints: np.ndarray) -> str:
    """The axis the ankles-to-head direction follows, on average over the frames."""
    ankles = (joints[:, JOINT_INDEX["left_ankle"]] + joints[:, JOINT_INDEX["right_ankle"]]) / 2
    body = joints[:, JOINT_INDEX["head"]] - ankles
    direction = (body / np.maximum(np.linalg.norm(body, axis=-1, keepdims=True), 1e-12)).mean(axis=0)
    axis = int(np.argmax(np.abs(direction)))
    return ("+" if direction[axis] >= 0 else "-") + "xyz"[axis]


def _is_mirrored(upright: np.ndarray) -> bool:
    """True when the body points backward in a right-handed frame (Y up, forward = left x up).

    Two cues of the body's front, averaged over frames in metres: the toes point forward from the
    ankles (clear while standing, near vertical while running), and bent knees sit in front of the
    hip-ankle line (clear while running, weak while standing). Their sum is 0.2 m or more on every clip
    of the shared corpus; either alone fails on some.
    """
    left = upright[:, JOINT_INDEX["left_hip"]] - upright[:, JOINT_INDEX["right_hip"]]
    forward = np.cross(left, np.array([0.0, 1.0, 0.0]))
    forward /= np.maximum(np.linalg.norm(forward, axis=-1, keepdims=True), 1e-12)
    front = np.zeros_like(forward)
    for side in ("left", "right"):
        hip, knee, ankle, toes = (
            upright[:, JOINT_INDEX[f"{side}_{part}"]] for part in ("hip", "knee", "ankle", "foot")
        )
        front += (toes - ankle) + (knee - (hip + ankle) / 2)
    return bool(np.einsum("tc,tc->t", forward, front).mean() < 0)


def _distance(joints: np.ndarray, a: str, b: str) -> np.ndarray:
    return np.linalg.norm(joints[:, JOINT_INDEX[a]] - joints[:, JOINT_INDEX[b]], axis=-1)
