"""Rotation matrices and forward kinematics, vectorised over frames.

Motion libraries hold thousands of files, so nothing here loops over frames in Python: every function
takes a leading frame axis and loops, at most, over joints.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from formats.rotations import qmul, quat_to_matrix

__all__ = ["euler_to_matrix", "matrix_to_zxy_euler", "axis_angle_to_matrix", "forward_kinematics", "with_ancestors"]


def euler_to_matrix(angles: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Compose Euler rotations in the listed order, as BVH does: R = R(axes[0]) @ R(axes[1]) @ ...

    `angles` is (..., K) in radians and `axes` (..., K) of 0=x, 1=y, 2=z, broadcastable to it, so
    every joint may have its own order (CMU files mix ZYX and ZXY). Returns (..., 3, 3). The product is
    taken on quaternions (4 numbers rather than 9) and turned into a matrix once.
    """
    half = angles / 2.0
    quats = np.zeros(angles.shape + (4,))  # (w, x, y, z): a turn about one axis has one non-zero x, y or z
    quats[..., 0] = np.cos(half)
    vector_slot = np.broadcast_to(np.asarray(axes)[..., None] + 1, angles.shape + (1,))
    np.put_along_axis(quats, vector_slot, np.sin(half)[..., None], axis=-1)
    result = quats[..., 0, :]
    for k in range(1, angles.shape[-1]):
        result = qmul(result, quats[..., k, :])
    return quat_to_matrix(result)


def matrix_to_zxy_euler(matrices: np.ndarray) -> np.ndarray:
    """Euler angles (..., 3) in radians, in the order Z, X, Y, with R = Rz @ Rx @ Ry: the inverse of
    `euler_to_matrix(angles, [2, 0, 1])`.

    The X angle lies in [-pi/2, pi/2]. At gimbal lock (X = +-pi/2) only Z + Y or Z - Y is defined;
    Z is then set to 0 and the whole turn goes to Y.
    """
    r = matrices
    x = np.arctan2(r[..., 2, 1], np.hypot(r[..., 2, 0], r[..., 2, 2]))
    is_locked = np.hypot(r[..., 0, 1], r[..., 1, 1]) < 1e-9
    z = np.where(is_locked, 0.0, np.arctan2(-r[..., 0, 1], r[..., 1, 1]))
    y = np.where(is_locked, np.arctan2(r[..., 0, 2], r[..., 0, 0]), np.arctan2(-r[..., 2, 0], r[..., 2, 2]))
    return np.stack([z, x, y], axis=-1)


def axis_angle_to_matrix(rotvec: np.ndarray) -> np.ndarray:
    """Axis-angle vectors (..., 3), angle = norm in radians, to rotation matrices (..., 3, 3)."""
    angle = np.linalg.norm(rotvec, axis=-1, keepdims=True)
    # sin(angle/2) / angle, written with sinc so a zero rotation needs no special case.
    scale = 0.5 * np.sinc(angle / (2.0 * np.pi))
    return quat_to_matrix(np.concatenate([np.cos(angle / 2.0), rotvec * scale], axis=-1))


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


def with_ancestors(parents: Sequence[int], joints: Sequence[int]) -> list[int]:
    """`joints` and all their ancestors, sorted: the joints forward kinematics must run over to place
    them (`parents[j]` precedes j, -1 for a root)."""
    needed: set[int] = set()
    for joint in joints:
        while joint >= 0 and joint not in needed:
            needed.add(joint)
            joint = parents[joint]
    return sorted(needed)
