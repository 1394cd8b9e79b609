"""The 22-joint SMPL skeleton that HumanML3D features are defined on (REFERENCE.md).

This module is the one table of joint names, order and kinematic chains; no other module uses bare
joint integers.
"""

from __future__ import annotations

__all__ = [
    "SMPL_JOINTS",
    "NUM_JOINTS",
    "JOINT_INDEX",
    "KINEMATIC_CHAINS",
    "PARENTS",
    "CHILDREN",
    "MIRROR_PERMUTATION",
]

SMPL_JOINTS: tuple[str, ...] = (
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
)
NUM_JOINTS = len(SMPL_JOINTS)
JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(SMPL_JOINTS)}


def _chain(*names: str) -> tuple[int, ...]:
    return tuple(JOINT_INDEX[n] for n in names)


# HumanML3D's t2m_kinematic_chain: right leg, left leg, spine, right arm, left arm.
KINEMATIC_CHAINS: tuple[tuple[int, ...], ...] = (
    _chain("pelvis", "right_hip", "right_knee", "right_ankle", "right_foot"),
    _chain("pelvis", "left_hip", "left_knee", "left_ankle", "left_foot"),
    _chain("pelvis", "spine1", "spine2", "spine3", "neck", "head"),
    _chain("spine3", "right_collar", "right_shoulder", "right_elbow", "right_wrist"),
    _chain("spine3", "left_collar", "left_shoulder", "left_elbow", "left_wrist"),
)


def _parents() -> tuple[int, ...]:
    parents = [-1] * NUM_JOINTS
    for chain in KINEMATIC_CHAINS:
        for parent, child in zip(chain[:-1], chain[1:]):
            parents[child] = parent
    return tuple(parents)


PARENTS: tuple[int, ...] = _parents()
# CHILDREN[j]: the joints whose parent is j, in SMPL order (three for the pelvis and spine3, none for
# the head, feet and wrists).
CHILDREN: tuple[tuple[int, ...], ...] = tuple(
    tuple(child for child, parent in enumerate(PARENTS) if parent == joint) for joint in range(NUM_JOINTS)
)


def _mirror_permutation() -> tuple[int, ...]:
    def swap(name: str) -> str:
        if name.startswith("left_"):
            return "right_" + name[5:]
        if name.startswith("right_"):
            return "left_" + name[6:]
        return name

    return tuple(JOINT_INDEX[swap(n)] for n in SMPL_JOINTS)


# Index i holds the joint that takes joint i's place when the body is mirrored left <-> right.
MIRROR_PERMUTATION: tuple[int, ...] = _mirror_permutation()
