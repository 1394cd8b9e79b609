"""HumanML3D 263-d motion features ("guoh3dfeats") from SMPL-22 joints, their inverse, and mirroring.

Follows the HumanML3D processing (Guo et al. 2022, `motion_representation.ipynb` and
`common/skeleton.py`; see REFERENCE.md): retarget to the t2m skeleton, put the feet on the floor, move
frame 0 to the origin facing +Z, then per frame

    [0]        root angular velocity about Y (half-angle, as HumanML3D stores it)
    [1:3]      root linear velocity on XZ, in the root frame
    [3]        root height
    [4:67]     positions of joints 1..21 relative to the root, in the root frame ("ric")
    [67:193]   6D rotations of joints 1..21
    [193:259]  velocities of the 22 joints, in the root frame
    [259:263]  foot contacts (left ankle, left foot, right ankle, right foot)

T frames of joints give T-1 rows of features. The HumanML3D quirks that change the numbers are kept on
purpose, so features match those TMR models were trained on; each is marked "quirk".
"""

from __future__ import annotations

import numpy as np

from formats.errors import FormatError
from formats.rotations import (
    cont6d_to_matrix,
    gaussian_smooth,
    matrix_to_cont6d,
    qbetween,
    qinv,
    qmul,
    qrot,
    quat_to_matrix,
    yaw_quat,
)
from formats.skeleton import JOINT_INDEX, KINEMATIC_CHAINS, MIRROR_PERMUTATION, NUM_JOINTS, PARENTS, SMPL_JOINTS

__all__ = [
    "FEATURE_DIM",
    "FEATURE_FPS",
    "FEATURE_GROUPS",
    "canonicalize_joints",
    "features_from_canonical",
    "extract_features",
    "features_to_joints",
    "mirror_joints",
    "mirror_features",
]

FEATURE_DIM = 263
FEATURE_FPS = 20.0
# Column ranges of each feature group, in layout order.
FEATURE_GROUPS: dict[str, slice] = {
    "root_rot_velocity": slice(0, 1),
    "root_linear_velocity": slice(1, 3),
    "root_height": slice(3, 4),
    "ric": slice(4, 67),
    "rot6d": slice(67, 193),
    "local_velocity": slice(193, 259),
    "foot_contact": slice(259, 263),
}

_J = JOINT_INDEX
_UP = np.array([0.0, 1.0, 0.0])
_FORWARD = np.array([0.0, 0.0, 1.0])

# Rest direction of the bone ending at each joint (HumanML3D's t2m_raw_offsets).
_REST_DIRECTIONS: dict[str, tuple[float, float, float]] = {
    "pelvis": (0, 0, 0),
    "left_hip": (1, 0, 0), "right_hip": (-1, 0, 0), "spine1": (0, 1, 0),
    "left_knee": (0, -1, 0), "right_knee": (0, -1, 0), "spine2": (0, 1, 0),
    "left_ankle": (0, -1, 0), "right_ankle": (0, -1, 0), "spine3": (0, 1, 0),
    "left_foot": (0, 0, 1), "right_foot": (0, 0, 1), "neck": (0, 1, 0),
    "left_collar": (1, 0, 0), "right_collar": (-1, 0, 0), "head": (0, 0, 1),
    "left_shoulder": (0, -1, 0), "right_shoulder": (0, -1, 0),
    "left_elbow": (0, -1, 0), "right_elbow": (0, -1, 0),
    "left_wrist": (0, -1, 0), "right_wrist": (0, -1, 0),
}  # fmt: skip
_REST = np.array([_REST_DIRECTIONS[name] for name in SMPL_JOINTS], dtype=np.float64)

# Bone lengths (metres) of the target skeleton: frame 0 of HumanML3D motion 000021
# (TMR's skeleton_example_h3d.npy); a test recomputes them from that file.
TARGET_BONE_LENGTHS: dict[str, float] = {
    "left_hip": 0.10307396801404012, "right_hip": 0.10988336793155128,
    "spine1": 0.13156824272391562, "left_knee": 0.39362320104637244,
    "right_knee": 0.39018822635676281, "spine2": 0.14319021469648505,
    "left_ankle": 0.43243308125288354, "right_ankle": 0.42564334455151343,
    "spine3": 0.057364735143330216, "left_foot": 0.14338181866410357,
    "right_foot": 0.14941907282089259, "neck": 0.2193600528916467,
    "left_collar": 0.13748676761700901, "right_collar": 0.1433828328285533,
    "head": 0.10303921946937832, "left_shoulder": 0.13161404584007272,
    "right_shoulder": 0.12298437803931866, "left_elbow": 0.25684000480980329,
    "right_elbow": 0.2630917441711329, "left_wrist": 0.26601172162521469,
    "right_wrist": 0.2698764031509594,
}  # fmt: skip
_TARGET_LENGTHS = np.array([0.0] + [TARGET_BONE_LENGTHS[n] for n in SMPL_JOINTS[1:]])

# HumanML3D scales the root trajectory by the ratio of these two bones' lengths (thigh + shin).
_LEG_BONES = (_J["right_knee"], _J["right_ankle"])
_FOOT_JOINTS_LEFT = (_J["left_ankle"], _J["left_foot"])
_FOOT_JOINTS_RIGHT = (_J["right_ankle"], _J["right_foot"])
_FOOT_CONTACT_THRESHOLD = 0.002  # squared displacement per frame, m^2 (at 20 fps)
_FACING_SIGMA = 20.0  # frames; HumanML3D smooths the facing direction before taking root rotations

_PARENT_INDEX = np.array(PARENTS[1:])  # parent of each of joints 1..21
# Joints on the first link of a kinematic chain; their rotation is relative to the root's.
_PARENT_IS_CHAIN_START = np.array([j in {c[1] for c in KINEMATIC_CHAINS} for j in range(1, NUM_JOINTS)])


def _ancestor_bones() -> np.ndarray:
    """(22, 21) matrix: entry (j, b) is 1 when bone b (ending at joint b+1) lies between the root and j."""
    matrix = np.zeros((NUM_JOINTS, NUM_JOINTS - 1))
    for joint in range(1, NUM_JOINTS):
        node = joint
        while node > 0:
            matrix[joint, node - 1] = 1.0
            node = PARENTS[node]
    return matrix


_ANCESTOR_BONES = _ancestor_bones()


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _facing_direction(joints: np.ndarray, *, ik_quirk: bool) -> np.ndarray:
    """Horizontal forward direction (T, 3) from the hips and shoulders.

    quirk: HumanML3D's inverse kinematics unpacks its face-joint list in a different order than its
    canonicalisation does, so there the hip vector points the other way and is subtracted from the
    shoulder vector instead of added. Shoulders are wider than hips, so it still faces forward.
    """
    across_hips = joints[:, _J["right_hip"]] - joints[:, _J["left_hip"]]
    across_shoulders = joints[:, _J["right_shoulder"]] - joints[:, _J["left_shoulder"]]
    across = across_shoulders - across_hips if ik_quirk else across_shoulders + across_hips
    return np.cross(_UP, _unit(across))


def _bone_directions(joints: np.ndarray) -> np.ndarray:
    """Unit vectors (T, 21, 3) from each joint's parent to the joint, for joints 1..21.

    A zero-length bone (two markers on one spot) has no direction; it takes its rest direction.
    """
    bones = joints[:, 1:] - joints[:, _PARENT_INDEX]
    lengths = np.linalg.norm(bones, axis=-1, keepdims=True)
    return np.where(lengths > 1e-9, bones / np.maximum(lengths, 1e-12), _REST[1:])


def _root_rotation(joints: np.ndarray, *, smooth_facing: bool) -> np.ndarray:
    """Quaternions (T, 4) turning each frame's facing direction onto +Z.

    With `smooth_facing` (feature extraction) the facing is Gaussian-smoothed over time and, quirk:
    frame 0's root rotation is the identity, as in the code that produced the HumanML3D release (the
    canonical frame 0 faces +Z already, up to smoothing).
    """
    forward = _facing_direction(joints, ik_quirk=True)
    if smooth_facing:
        forward = gaussian_smooth(forward, _FACING_SIGMA)
    root = qbetween(_unit(forward), _FORWARD)
    if smooth_facing:
        root[0] = (1.0, 0.0, 0.0, 0.0)
    return root


def _joint_rotations(joints: np.ndarray, root: np.ndarray) -> np.ndarray:
    """HumanML3D's inverse kinematics: a rotation (T, 21, 4) for each of joints 1..21.

    A joint's world rotation is the shortest turn from its rest direction onto its bone; its stored
    rotation is that relative to its parent's world rotation. quirk: each kinematic chain restarts
    from the root rotation, so the collars are relative to the root, not to spine3.
    """
    world = qbetween(_REST[1:], _bone_directions(joints))
    parent_world = np.where(_PARENT_IS_CHAIN_START[:, None], root[:, None], world[:, _PARENT_INDEX - 1])
    return qmul(qinv(parent_world), world)


def _retarget(joints: np.ndarray) -> np.ndarray:
    """Give the motion the t2m skeleton's bone lengths, keeping every bone's direction.

    HumanML3D does this by inverse then forward kinematics; the result is each bone's direction times
    the target length, summed down the tree. The root trajectory is scaled by the leg-length ratio
    so that steps still fit the new legs.
    """
    source_lengths = np.linalg.norm(joints[0, 1:] - joints[0, _PARENT_INDEX], axis=-1)
    source_leg = sum(source_lengths[j - 1] for j in _LEG_BONES)
    target_leg = sum(_TARGET_LENGTHS[j] for j in _LEG_BONES)
    bones = _bone_directions(joints) * _TARGET_LENGTHS[1:, None]
    root = joints[:, :1] * (target_leg / source_leg)
    return root + np.einsum("jb,tbc->tjc", _ANCESTOR_BONES, bones)


def _check_joints(joints: np.ndarray, min_frames: int) -> np.ndarray:
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3):
        raise FormatError(None, f"expected joints of shape (T, {NUM_JOINTS}, 3), got {joints.shape}")
    if len(joints) < min_frames:
        raise FormatError(None, f"expected at least {min_frames} frames, got {len(joints)}")
    if not np.all(np.isfinite(joints)):
        raise FormatError(None, "joints contain NaN or infinite values")
    return joints


def canonicalize_joints(joints: np.ndarray) -> np.ndarray:
    """Retarget to the t2m skeleton, put the lowest point on the floor, frame-0 pelvis at the XZ
    origin, and rotate about Y so frame 0 faces +Z. (T, 22, 3) metres, Y up -> the same, float32.
    """
    positions = _retarget(_check_joints(joints, min_frames=1))
    positions[..., 1] -= positions[..., 1].min()
    positions -= positions[0, 0] * np.array([1.0, 0.0, 1.0])
    facing = qbetween(_unit(_facing_direction(positions[:1], ik_quirk=False)), _FORWARD)
    return qrot(facing, positions).astype(np.float32)


def _foot_contacts(positions: np.ndarray, feet: tuple[int, int]) -> np.ndarray:
    """1 where a foot joint moves less than the threshold between consecutive frames."""
    step = positions[1:, list(feet)] - positions[:-1, list(feet)]
    return ((step**2).sum(-1) < _FOOT_CONTACT_THRESHOLD).astype(np.float64)


def features_from_canonical(positions: np.ndarray) -> np.ndarray:
    """The (T-1, 263) float32 features of canonical joints (T, 22, 3) from `canonicalize_joints`."""
    positions = _check_joints(positions, min_frames=2)
    root_rot = _root_rotation(positions, smooth_facing=True)  # (T, 4): world -> facing +Z
    num_frames = len(positions)

    # quirk: root velocity is expressed in the *next* frame's root frame, joint velocities in the current.
    root_velocity = qrot(root_rot[1:], positions[1:, 0] - positions[:-1, 0])
    root_turn = qmul(root_rot[1:], qinv(root_rot[:-1]))
    root_angular = np.arcsin(np.clip(root_turn[:, 2], -1.0, 1.0))

    local = positions.copy()
    local[..., [0, 2]] -= positions[:, :1, [0, 2]]
    local = qrot(root_rot[:, None], local)
    joint_velocity = qrot(root_rot[:-1, None], positions[1:] - positions[:-1])
    rot6d = matrix_to_cont6d(quat_to_matrix(_joint_rotations(positions, root_rot)))

    features = np.concatenate(
        [
            root_angular[:, None],
            root_velocity[:, [0, 2]],
            local[:-1, 0, 1:2],
            local[:-1, 1:].reshape(num_frames - 1, -1),
            rot6d[:-1].reshape(num_frames - 1, -1),
            joint_velocity.reshape(num_frames - 1, -1),
            _foot_contacts(positions, _FOOT_JOINTS_LEFT),
            _foot_contacts(positions, _FOOT_JOINTS_RIGHT),
        ],
        axis=-1,
    )
    return features.astype(np.float32)


def extract_features(joints: np.ndarray) -> np.ndarray:
    """HumanML3D features (T-1, 263) float32 of joints (T, 22, 3) in metres, Y up, 20 fps."""
    return features_from_canonical(canonicalize_joints(joints))


def _check_features(feats: np.ndarray) -> np.ndarray:
    feats = np.asarray(feats, dtype=np.float64)
    if feats.ndim != 2 or feats.shape[1] != FEATURE_DIM:
        raise FormatError(None, f"expected features of shape (T, {FEATURE_DIM}), got {feats.shape}")
    return feats


def features_to_joints(feats: np.ndarray) -> np.ndarray:
    """Joint positions (T, 22, 3) float32 from features (T, 263): HumanML3D's `recover_from_ric`.

    The root heading is integrated from the angular velocities and the root XZ from the linear
    velocities; every other joint comes from its root-relative position.
    """
    feats = _check_features(feats)
    half_angle = np.concatenate([[0.0], np.cumsum(feats[:-1, 0])])
    heading = yaw_quat(half_angle)  # (T, 4): world -> root frame
    steps = np.zeros((len(feats), 3))
    steps[1:, [0, 2]] = feats[:-1, 1:3]
    root = np.cumsum(qrot(qinv(heading), steps), axis=0)
    root[:, 1] = feats[:, 3]

    local = feats[:, FEATURE_GROUPS["ric"]].reshape(len(feats), NUM_JOINTS - 1, 3)
    others = qrot(qinv(heading)[:, None], local)
    others[..., [0, 2]] += root[:, None, [0, 2]]
    return np.concatenate([root[:, None], others], axis=1).astype(np.float32)


_MIRROR_X = np.array([-1.0, 1.0, 1.0])


def mirror_joints(joints: np.ndarray) -> np.ndarray:
    """Swap left and right (x -> -x and left/right joints exchanged), as HumanML3D's M* motions."""
    joints = np.asarray(joints)
    return (joints[:, list(MIRROR_PERMUTATION)] * _MIRROR_X).astype(joints.dtype)


def mirror_features(feats: np.ndarray) -> np.ndarray:
    """The features of the mirrored motion, computed directly on the features.

    Equals `extract_features(mirror_joints(joints))`: reflecting x reverses the turning direction,
    swaps left and right joints, and conjugates each rotation by the reflection (R -> M R M).
    """
    feats = _check_features(feats)
    num_frames = len(feats)
    mirrored = feats.copy()
    mirrored[:, 0] = -feats[:, 0]
    mirrored[:, 1] = -feats[:, 1]

    body = list(MIRROR_PERMUTATION[1:])  # joints 1..21, as indices into the full skeleton
    ric = feats[:, FEATURE_GROUPS["ric"]].reshape(num_frames, NUM_JOINTS - 1, 3)
    ric = np.concatenate([np.zeros((num_frames, 1, 3)), ric], axis=1)[:, body] * _MIRROR_X
    mirrored[:, FEATURE_GROUPS["ric"]] = ric.reshape(num_frames, -1)

    rot = cont6d_to_matrix(feats[:, FEATURE_GROUPS["rot6d"]].reshape(num_frames, NUM_JOINTS - 1, 6))
    rot = np.concatenate([np.tile(np.eye(3), (num_frames, 1, 1, 1)), rot], axis=1)[:, body]
    reflect = np.diag(_MIRROR_X)
    mirrored[:, FEATURE_GROUPS["rot6d"]] = matrix_to_cont6d(reflect @ rot @ reflect).reshape(num_frames, -1)

    velocity = feats[:, FEATURE_GROUPS["local_velocity"]].reshape(num_frames, NUM_JOINTS, 3)
    mirrored[:, FEATURE_GROUPS["local_velocity"]] = (velocity[:, list(MIRROR_PERMUTATION)] * _MIRROR_X).reshape(
        num_frames, -1
    )
    contacts = feats[:, FEATURE_GROUPS["foot_contact"]]
    mirrored[:, FEATURE_GROUPS["foot_contact"]] = contacts[:, [2, 3, 0, 1]]
    return mirrored.astype(np.float32)
