"""Writing BVH: Euler angles, the SMPL rotation rig, SMPL BVH files and cuts of BVH files, read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from formats import JOINT_INDEX, PARENTS, SegmentError, features_to_joints, load_motion
from formats.bvh import joint_positions, read_bvh
from formats.bvh_write import cut_bvh, smpl_bvh_text
from formats.kinematics import euler_to_matrix, matrix_to_zxy_euler
from formats.segment import frame_range
from formats.smpl_rig import solve_rig

ZXY = np.array([2, 0, 1])
MILLIMETRE = 1e-3
HUMANML3D = Path("humanml3d-ref/HumanML3D")
BANDAI = Path("bandai-namco/dataset-2/data")


def _largest_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, float) - np.asarray(b, float), axis=-1).max())


@pytest.mark.parametrize("x_angle", [None, np.pi / 2, -np.pi / 2, np.pi / 2 - 1e-7])
def test_zxy_euler_inverts_euler_to_matrix(x_angle: float | None) -> None:
    angles = np.random.default_rng(0).uniform(-np.pi, np.pi, (500, 3))
    if x_angle is not None:  # gimbal lock and its neighbourhood
        angles[:, 1] = x_angle
    matrices = euler_to_matrix(angles, ZXY)
    recovered = matrix_to_zxy_euler(matrices)
    assert np.abs(euler_to_matrix(recovered, ZXY) - matrices).max() < 1e-7
    assert np.all(np.abs(recovered[:, 1]) <= np.pi / 2 + 1e-12)


def test_rig_reproduces_rigid_joints_with_rotations_only(data_dir: Path) -> None:
    joints = np.load(data_dir / HUMANML3D / "new_joints/012314.npy")
    rig = solve_rig(joints)
    assert _largest_error(rig.joint_positions(), joints) < 1e-5
    assert rig.is_moving.tolist() == [True] + [False] * 21  # only the pelvis needs translations
    rotations = rig.rotations.reshape(-1, 3, 3)
    assert np.allclose(rotations @ np.swapaxes(rotations, -1, -2), np.eye(3), atol=1e-9)


def test_rig_keeps_stretching_bones_exact(data_dir: Path) -> None:
    """Joints whose bones change length (markers, video) come back through translation channels."""
    joints = np.load(data_dir / HUMANML3D / "new_joints/012314.npy").astype(np.float64)
    rng = np.random.default_rng(1)
    joints = joints + rng.normal(scale=0.01, size=joints.shape)
    rig = solve_rig(joints)
    assert rig.is_moving.sum() > 10
    assert _largest_error(rig.joint_positions(), joints) < 0.2 * MILLIMETRE


def test_rest_pose_is_a_t_pose(data_dir: Path) -> None:
    rig = solve_rig(np.load(data_dir / HUMANML3D / "new_joints/012314.npy"))
    rest = np.zeros((1, 22, 3))
    for joint, parent in enumerate(PARENTS[1:], start=1):
        rest[0, joint] = rest[0, parent] + rig.offsets[joint]
    head, left_wrist, right_wrist, left_foot = (rest[0, JOINT_INDEX[name]] for name in ("head", "left_wrist", "right_wrist", "left_foot"))
    assert head[1] > 0.5 and left_wrist[0] > 0.5 and right_wrist[0] < -0.5 and left_foot[1] < -0.7


@pytest.mark.parametrize("source", ["new_joints/012314.npy", "new_joint_vecs/012314.npy"])
def test_smpl_bvh_reads_back_as_the_same_joints(data_dir: Path, tmp_path: Path, source: str) -> None:
    motion = load_motion(data_dir / HUMANML3D / source)
    joints = motion.joints if motion.joints is not None else features_to_joints(motion.feats)
    segment = joints[25:95]
    path = tmp_path / "segment.bvh"
    path.write_text(smpl_bvh_text(segment, 20.0))
    back = load_motion(path)
    assert back.source_fps == pytest.approx(20.0)
    assert back.joints.shape == segment.shape
    assert _largest_error(back.joints, segment) < MILLIMETRE


def test_smpl_bvh_layout(data_dir: Path) -> None:
    text = smpl_bvh_text(np.load(data_dir / HUMANML3D / "new_joints/012314.npy")[:10], 20.0)
    lines = text.splitlines()
    assert lines[:2] == ["HIERARCHY", "ROOT pelvis"]
    assert "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" in lines[4]
    assert text.count("CHANNELS 3 Zrotation Xrotation Yrotation") == 21
    assert text.count("End Site") == 5  # head, two feet, two wrists
    motion = lines.index("MOTION")
    assert lines[motion + 1 : motion + 3] == ["Frames: 10", "Frame Time: 0.05"]
    assert all(len(row.split()) == 6 + 21 * 3 for row in lines[motion + 3 :])


@pytest.mark.parametrize(
    "relative",
    [
        BANDAI / "dataset-2_wave-left-hand_normal_001.bvh",  # 30 fps, 6 channels on every joint
        Path("cmu-mocap/cgspeed_subject131/131_03.bvh"),  # 120 fps, mixed Euler orders
        Path("cmu-mocap/iclone_cc_rig/002_06.bvh"),  # 60 fps, 100 joints
    ],
)
def test_cut_bvh_is_the_source_frames_byte_for_byte(data_dir: Path, tmp_path: Path, relative: Path) -> None:
    source = data_dir / relative
    cut = cut_bvh(source, 1.0, 2.5)
    path = tmp_path / "cut.bvh"
    path.write_bytes(cut.data)
    original, trimmed = read_bvh(source), read_bvh(path)
    assert (cut.first, cut.stop) == (round(original.fps), round(2.5 * original.fps))
    assert trimmed.num_frames == cut.stop - cut.first and trimmed.frame_time == original.frame_time
    source_lines, cut_lines = source.read_bytes().splitlines(), cut.data.splitlines()
    header = source_lines.index(b"MOTION") + 3
    changed = [i for i in range(header) if source_lines[i] != cut_lines[i]]
    assert [source_lines[i].split(b":")[0].strip() for i in changed] == [b"Frames"]
    assert cut_lines[header:] == source_lines[header + cut.first : header + cut.stop]
    every_joint = range(len(original.names))
    assert np.array_equal(joint_positions(trimmed, every_joint), joint_positions(original, every_joint)[cut.first : cut.stop])


def test_cut_bvh_reads_back_as_the_segment_of_the_source(data_dir: Path, tmp_path: Path) -> None:
    source = data_dir / BANDAI / "dataset-2_walk-turn-left_normal_001.bvh"
    path = tmp_path / "cut.bvh"
    path.write_bytes(cut_bvh(source, 1.0, 3.0).data)
    segment = load_motion(source).joints[20:60]  # 1.0-3.0 s at 20 fps
    assert _largest_error(load_motion(path).joints, segment) < MILLIMETRE


def test_frame_range() -> None:
    assert frame_range("m.bvh", 1.0, 2.5, 30.0, 300) == (30, 75)
    assert frame_range("m.bvh", 0.0, None, 20.0, 170) == (0, 170)
    assert frame_range("m.bvh", 8.0, 99.0, 20.0, 170) == (160, 170)  # an end past the motion is cut to it
    with pytest.raises(SegmentError, match="starts at 9 s but the motion lasts 8.50 s"):
        frame_range("m.bvh", 9.0, None, 20.0, 170)
    with pytest.raises(SegmentError, match="shorter than one frame"):
        frame_range("m.bvh", 1.0, 1.01, 20.0, 170)


@pytest.mark.filterwarnings("ignore:Importing PyGLM:PendingDeprecationWarning")  # inside bvhio
@pytest.mark.parametrize("noise", [0.0, 0.01], ids=["rigid", "stretching"])
def test_an_independent_reader_sees_the_same_joints(data_dir: Path, tmp_path: Path, noise: float) -> None:
    """bvhio, a BVH library of its own (a test dependency), computes the same world positions."""
    import bvhio

    joints = np.load(data_dir / HUMANML3D / "new_joints/012314.npy")[:20].astype(np.float64)
    joints += np.random.default_rng(2).normal(scale=noise, size=joints.shape)
    path = tmp_path / "smpl.bvh"
    path.write_text(smpl_bvh_text(joints, 20.0))
    root = bvhio.readAsHierarchy(str(path))
    order = [JOINT_INDEX[joint.Name] for joint, _, _ in root.layout()]
    positions = []
    for frame in range(len(joints)):
        root.loadPose(frame)
        positions.append([np.array(joint.PositionWorld) for joint, _, _ in root.layout()])
    assert sorted(order) == list(range(22))
    assert _largest_error(np.array(positions) / 100.0, joints[:, order]) < MILLIMETRE
