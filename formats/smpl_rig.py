"""A rotation rig for the 22 SMPL joints: rest offsets and per-frame joint rotations solved from positions.

Animation tools import rotations of a rest skeleton, not joint positions. The rest pose is a T-pose
(legs and spine straight, arms out along X, feet forward along +Z; Y up, left toward +X) whose bone
lengths are the motion's own, so forward kinematics of the solved rotations puts every joint back where
it was. A joint whose bone stretches (positions from markers or video rather than a rigid body) also
gets its translation per frame, as BVH position channels, so it comes back exactly too. Each joint's
rotation turns its one child bone onto the motion's bone by the shortest arc
(no twist relative to its parent); the pelvis and spine3, which carry three bones each, are turned
by the frame their bones span (up along the middle bone, X from the right bone to the left one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from formats.kinematics import forward_kinematics
from formats.rotations import qbetween, quat_to_matrix
from formats.skeleton import CHILDREN, NUM_JOINTS, PARENTS, SMPL_JOINTS

__all__ = ["SmplRig", "solve_rig", "T_POSE_DIRECTIONS", "STRETCH_TOLERANCE", "END_SITE_LENGTH"]

# Direction, in the rest pose, of the bone from each joint's parent to the joint; bones that leave the
# pelvis or spine3 take their rest direction from the motion instead (see `_branch_offsets`).
T_POSE_DIRECTIONS: dict[str, tuple[float, float, float]] = {
    "pelvis": (0, 1, 0),
    "left_hip": (1, 0, 0), "right_hip": (-1, 0, 0), "spine1": (0, 1, 0),
    "left_knee": (0, -1, 0), "right_knee": (0, -1, 0), "spine2": (0, 1, 0),
    "left_ankle": (0, -1, 0), "right_ankle": (0, -1, 0), "spine3": (0, 1, 0),
    "left_foot": (0, 0, 1), "right_foot": (0, 0, 1), "neck": (0, 1, 0),
    "left_collar": (1, 0, 0), "right_collar": (-1, 0, 0), "head": (0, 1, 0),
    "left_shoulder": (1, 0, 0), "right_shoulder": (-1, 0, 0),
    "left_elbow": (1, 0, 0), "right_elbow": (-1, 0, 0),
    "left_wrist": (1, 0, 0), "right_wrist": (-1, 0, 0),
}  # fmt: skip
# Metres: a bone that stretches more than this over the motion gets its translation per frame.
STRETCH_TOLERANCE = 1e-4
# Metres: the End Site past each leaf joint (head, toes, wrists) continues its rest direction this far.
# Tools draw the last bone with it; positions never depend on it.
END_SITE_LENGTH = 0.1

_REST = np.array([T_POSE_DIRECTIONS[name] for name in SMPL_JOINTS], dtype=np.float64)


@dataclass(frozen=True)
class SmplRig:
    """The 22 SMPL joints as a rest skeleton plus rotations, in metres; joint order is SMPL_JOINTS.

    offsets[j]: joint j's position relative to its parent in the rest pose (the pelvis: zero).
    rotations[t, j]: joint j's rotation relative to its parent's frame (the pelvis: to the world).
    translations[t, j]: joint j's position in its parent's frame (the pelvis: in the world); it equals
    offsets[j] on every frame unless is_moving[j], which is always set for the pelvis.
    """

    offsets: np.ndarray  # (22, 3)
    rotations: np.ndarray  # (T, 22, 3, 3)
    translations: np.ndarray  # (T, 22, 3)
    is_moving: np.ndarray  # (22,) bool: the joint needs its translation per frame

    def joint_positions(self) -> np.ndarray:
        """Forward kinematics, as a BVH reader does it: world positions (T, 22, 3) of the joints."""
        translations = np.where(self.is_moving[:, None], self.translations, self.offsets)
        return forward_kinematics(PARENTS, self.rotations, translations)


def solve_rig(joints: np.ndarray) -> SmplRig:
    """Rest offsets and joint rotations (T, 22, 3, 3) that reproduce `joints` (T, 22, 3, metres).

    Rest bone lengths are the median over frames. Joints come back exactly: by rotations alone when
    bones keep their length (anything from HumanML3D features or a SMPL body), else with the
    translations of the joints whose bones stretch.
    """
    joints = np.asarray(joints, dtype=np.float64)
    bones = joints - joints[:, list(PARENTS)]  # (T, 22, 3); row 0 is meaningless, never used
    branch_frames = {joint: _branch_frame(bones, children) for joint, children in enumerate(CHILDREN) if len(children) > 1}
    offsets = _rest_offsets(bones, branch_frames)
    num_frames = len(joints)
    world = np.empty((num_frames, NUM_JOINTS, 3, 3))
    for joint in range(NUM_JOINTS):  # parents come first in SMPL order
        parent = world[:, PARENTS[joint]] if joint > 0 else np.broadcast_to(np.eye(3), (num_frames, 3, 3))
        children = CHILDREN[joint]
        if joint in branch_frames:
            world[:, joint] = branch_frames[joint]
        elif children:
            world[:, joint] = parent @ _shortest_arc(offsets[children[0]], _in_frame(parent, bones[:, children[0]]))
        else:
            world[:, joint] = parent  # a leaf: nothing to turn
    parent_world = world[:, list(PARENTS[1:])]
    local = world.copy()
    local[:, 1:] = np.swapaxes(parent_world, -1, -2) @ world[:, 1:]
    translations = joints.copy()
    translations[:, 1:] = np.einsum("tjba,tjb->tja", parent_world, bones[:, 1:])
    is_moving = np.abs(translations - offsets).max(axis=(0, 2)) > STRETCH_TOLERANCE
    is_moving[0] = True
    return SmplRig(offsets=offsets, rotations=local, translations=translations, is_moving=is_moving)


def _side(joint: int) -> str:
    return SMPL_JOINTS[joint].split("_", 1)[0] if "_" in SMPL_JOINTS[joint] else "middle"


def _branch_frame(bones: np.ndarray, children: tuple[int, ...]) -> np.ndarray:
    """World rotations (T, 3, 3) of a joint with a middle, a left and a right child bone: columns are
    X (from the right bone's end to the left one's, made perpendicular to Y), Y (the middle bone) and Z."""
    sides = {_side(child): child for child in children}
    up = _unit(bones[:, sides["middle"]])
    across = bones[:, sides["left"]] - bones[:, sides["right"]]
    across = _unit(across - (across * up).sum(-1, keepdims=True) * up)
    return np.stack([across, up, np.cross(across, up)], axis=-1)


def _rest_offsets(bones: np.ndarray, branch_frames: dict[int, np.ndarray]) -> np.ndarray:
    """Rest offsets (22, 3): the T-pose direction times the median bone length, except that bones
    leaving a branch joint keep their mean direction in that joint's frame (the hips sit below the
    pelvis, the collars in front of spine3), so the branch's shape is the motion's own."""
    lengths = np.median(np.linalg.norm(bones, axis=-1), axis=0)
    offsets = _REST * lengths[:, None]
    for joint, frame in branch_frames.items():
        for child in CHILDREN[joint]:
            offsets[child] = _in_frame(frame, bones[:, child]).mean(axis=0)
    offsets[0] = 0.0
    return offsets


def _in_frame(frame: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """World vectors (T, 3) expressed in the rotated frames (T, 3, 3): frame^T @ v."""
    return np.einsum("tji,tj->ti", frame, vectors)


def _shortest_arc(rest: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Rotations (T, 3, 3) turning the direction `rest` (3,) onto each `target` (T, 3) by the shortest
    arc; a zero-length target (two joints on one spot) keeps the rest direction."""
    is_degenerate = np.linalg.norm(target, axis=-1) < 1e-9
    target = np.where(is_degenerate[:, None], rest, target)
    return quat_to_matrix(qbetween(np.broadcast_to(rest, target.shape), target))


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)
