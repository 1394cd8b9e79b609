"""Rotation matrices and forward kinematics, vectorised over frames.

Motion libraries hold thousands of files, so nothing here loops over frames in Python: every function
takes a leading frame axis and loops, at most, over joints.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["axis_rotations", "euler_to_matrix", "axis_angle_to_matrix", "forward_kinematics"]

# Cross-product matrix of the unit vector along x, y and z: K[a] @ v == cross(e_a, v).
_CROSS = np.array(
    [
        [[0, 0, 0], [0, 0, -1], [0, 1, 0]],
        [[0, 0, 1], [0, 0, 0], [-1, 0, 0]],
        [[0, -1, 0], [1, 0, 0], [0, 0, 0]],
    ],
    dtype=np.float64,
)
_CROSS_SQUARED = _CROSS @ _CROSS


def axis_rotations(angles: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Rotations by `angles` (radians, shape S) about the coordinate axes `axes` (0=x, 1=y, 2=z, shape
    broadcastable to S); returns (*S, 3, 3), by Rodrigues' formula on a coordinate axis."""
    sin = np.sin(angles)[..., None, None]
    one_minus_cos = (1.0 - np.cos(angles))[..., None, None]
    return np.eye(3) + sin * _CROSS[axes] + one_minus_cos * _CROSS_SQUARED[axes]


def euler_to_matrix(angles: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Compose Euler rotations in the listed order, as BVH does: R = R(axes[0]) @ R(axes[1]) @ ...

    `angles` is (..., K) in radians and `axes` (..., K) or broadcastable; each of the K rotations is
    about its own axis, so every joint may have its own order (CMU files mix ZYX and ZXY).
    Returns (..., 3, 3).
    """
    rotations = axis_rotations(angles, axes)
    result = rotations[..., 0, :, :]
    for k in range(1, angles.shape[-1]):
        result = result @ rotations[..., k, :, :]
    return result


def axis_angle_to_matrix(rotvec: np.ndarray) -> np.ndarray:
    """Axis-angle vectors (..., 3), angle = norm in radians, to rotation matrices (..., 3, 3)."""
    angle = np.linalg.norm(rotvec, axis=-1)
    safe = np.where(angle < 1e-12, 1.0, angle)
    axis = rotvec / safe[..., None]
    cross = np.zeros(rotvec.shape[:-1] + (3, 3))
    cross[..., 0, 1], cross[..., 0, 2] = -axis[..., 2], axis[..., 1]
    cross[..., 1, 0], cross[..., 1, 2] = axis[..., 2], -axis[..., 0]
    cross[..., 2, 0], cross[..., 2, 1] = -axis[..., 1], axis[..., 0]
    sin = np.sin(angle)[..., None, None]
    one_minus_cos = (1.0 - np.cos(angle))[..., None, None]
    return np.eye(3) + sin * cross + one_minus_cos * (cross @ cross)


def forward_kinematics(parents: Sequence[int], rotations: np.ndarray, translations: np.ndarray) -> np.ndarray:
    """World joint positions (T, J, 3) from local rotations (T, J, 3, 3) and translations (T, J, 3).

    `parents[j]` is the index of joint j's parent (-1 for a root) and precedes j. A joint sits at its
    parent's position plus the parent's world rotation applied to the joint's local translation; a root
    sits at its own translation.
    """
    num_frames, num_joints = translations.shape[:2]
    world_rotations = np.empty((num_frames, num_joints, 3, 3))
    positions = np.empty((num_frames, num_joints, 3))
    for joint, parent in enumerate(parents):
        if parent < 0:
            world_rotations[:, joint] = rotations[:, joint]
            positions[:, joint] = translations[:, joint]
            continue
        parent_rotation = world_rotations[:, parent]
        world_rotations[:, joint] = parent_rotation @ rotations[:, joint]
        positions[:, joint] = positions[:, parent] + np.einsum("tij,tj->ti", parent_rotation, translations[:, joint])
    return positions
