"""NPY and NPZ motions: joint arrays, HumanML3D features, and AMASS poses through a body model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from formats import PARENTS, FormatError, load_motion
from formats.units import Placement, up_rotation

GOLDEN_JOINTS = "humanml3d-ref/HumanML3D/new_joints/012314.npy"  # (170, 22, 3) float32, metres, Y up, 20 fps
GOLDEN_FEATS = "humanml3d-ref/HumanML3D/new_joint_vecs/012314.npy"  # (170, 263) float32
GOLDEN_FEATS_F64 = "humanml3d-ref/HumanML3D_ICT_000000/new_joint_vecs/000000.npy"  # (116, 263) float64
TARGET_SKELETON = "humanml3d-ref/tmr/skeleton_example_h3d.npy"  # (52, 3) SMPL-H joints, Y up


@pytest.fixture(scope="module")
def golden(data_dir: Path) -> np.ndarray:
    return np.load(data_dir / GOLDEN_JOINTS)


def test_humanml3d_joints_load_unchanged(data_dir: Path, golden: np.ndarray) -> None:
    motion = load_motion(data_dir / GOLDEN_JOINTS)
    assert motion.joints.dtype == np.float32 and motion.feats is None
    np.testing.assert_array_equal(motion.joints, golden)
    assert (motion.source_fps, motion.num_frames, motion.duration) == (20.0, 170, 8.5)


@pytest.mark.parametrize("num_joints", [24, 52, 55])
def test_smpl_family_arrays_use_their_first_22_joints(tmp_path: Path, golden: np.ndarray, num_joints: int) -> None:
    extra = np.repeat(golden[:, -1:], num_joints - 22, axis=1) + 0.05
    path = tmp_path / "joints.npy"
    np.save(path, np.concatenate([golden, extra], axis=1))
    np.testing.assert_array_equal(load_motion(path).joints, golden)


def test_a_bare_array_takes_the_fps_it_is_given(tmp_path: Path, golden: np.ndarray) -> None:
    path = tmp_path / "joints.npy"
    np.save(path, golden)
    motion = load_motion(path, fps=60.0)
    assert (motion.source_fps, motion.num_frames) == (60.0, round(170 / 3))
    np.testing.assert_allclose(motion.joints, golden[::3], atol=1e-6)


@pytest.mark.parametrize(("key", "rate_key"), [("joints", "fps"), ("positions", "mocap_framerate")])
def test_npz_joints_with_their_frame_rate(tmp_path: Path, golden: np.ndarray, key: str, rate_key: str) -> None:
    path = tmp_path / "motion.npz"
    np.savez(path, **{key: golden, rate_key: np.array(40.0)})
    motion = load_motion(path, fps=100.0)  # the file's own rate wins over the fallback
    assert (motion.source_fps, motion.num_frames) == (40.0, 85)
    np.testing.assert_allclose(motion.joints, golden[::2], atol=1e-6)


def test_z_up_centimetre_joints_come_back_to_metres_y_up(tmp_path: Path, golden: np.ndarray) -> None:
    path = tmp_path / "zup.npy"
    np.save(path, Placement("cm", "+z", is_mirrored=False).undo(golden.astype(np.float64)))
    np.testing.assert_allclose(load_motion(path).joints, golden, atol=1e-5)


@pytest.mark.parametrize("name", [GOLDEN_FEATS, GOLDEN_FEATS_F64])
def test_feature_arrays_pass_through(data_dir: Path, name: str) -> None:
    feats = np.load(data_dir / name)
    motion = load_motion(data_dir / name, fps=60.0)
    assert motion.joints is None and motion.feats.dtype == np.float32
    np.testing.assert_array_equal(motion.feats, feats.astype(np.float32))
    assert motion.num_frames == len(feats) and motion.source_fps == 20.0


# --- AMASS --------------------------------------------------------------------------------------------
# A body model built from the HumanML3D target skeleton: one vertex per joint, so J_regressor is the
# identity, and a random shape basis. It follows the SMPL-H npz layout (J_regressor, v_template,
# shapedirs, kintree_table) in AMASS's Z-up frame.
_ZUP = up_rotation("+z")


def _body_model(data_dir: Path, scale: float = 1.0, seed: int = 0) -> dict[str, np.ndarray]:
    joints_y_up = np.load(data_dir / TARGET_SKELETON) * scale
    parents = list(PARENTS) + [20] * 15 + [21] * 15  # hand joints hang from the wrists
    return {
        "J_regressor": np.eye(52),
        "v_template": joints_y_up @ _ZUP,  # row vectors: the inverse of the Z-up -> Y-up rotation
        "shapedirs": np.random.default_rng(seed).normal(scale=0.01, size=(52, 3, 10)),
        "kintree_table": np.array([[2**32 - 1] + parents[1:], list(range(52))], dtype=np.int64),
        "posedirs": np.zeros((52, 3, 9)),
    }


def _amass(path: Path, poses: np.ndarray, trans: np.ndarray, **extra: object) -> Path:
    np.savez(path, poses=poses, trans=trans, mocap_framerate=np.array(20.0), **extra)
    return path


@pytest.fixture
def body_models(data_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "smplh"
    for gender, scale in (("neutral", 1.0), ("male", 1.1)):
        (folder / gender).mkdir(parents=True)
        np.savez(folder / gender / "model.npz", **_body_model(data_dir, scale))
    return folder


def test_amass_rest_pose_is_the_template_in_y_up(data_dir: Path, tmp_path: Path, body_models: Path) -> None:
    path = _amass(tmp_path / "rest.npz", np.zeros((4, 156)), np.zeros((4, 3)))
    expected = np.load(data_dir / TARGET_SKELETON)[:22]
    motion = load_motion(path, body_model=body_models)
    np.testing.assert_allclose(motion.joints, np.broadcast_to(expected, (4, 22, 3)), atol=1e-6)


def test_amass_translation_betas_and_gender(data_dir: Path, tmp_path: Path, body_models: Path) -> None:
    betas = np.linspace(-2.0, 2.0, 16)  # AMASS stores 16; the model has 10 shape directions
    trans = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    path = _amass(tmp_path / "shaped.npz", np.zeros((2, 156)), trans, betas=betas, gender=np.array("male"))
    model = _body_model(data_dir, scale=1.1)
    rest = (model["v_template"] + model["shapedirs"] @ betas[:10])[:22] @ _ZUP.T
    joints = load_motion(path, body_model=body_models).joints
    np.testing.assert_allclose(joints[0], rest, atol=1e-6)
    np.testing.assert_allclose(joints[1] - joints[0], np.broadcast_to([-1.0, 3.0, 2.0], (22, 3)), atol=1e-6)


def test_amass_poses_rotate_rigid_bones(data_dir: Path, tmp_path: Path, body_models: Path) -> None:
    rng = np.random.default_rng(3)
    poses = rng.normal(scale=0.6, size=(6, 156))
    path = _amass(tmp_path / "posed.npz", poses, rng.normal(size=(6, 3)))
    joints = load_motion(path, body_model=body_models).joints
    rest = np.load(data_dir / TARGET_SKELETON)[:22]
    parents = list(PARENTS[1:])
    bone_lengths = np.linalg.norm(joints[:, 1:] - joints[:, parents], axis=-1)
    rest_lengths = np.linalg.norm(rest[1:] - rest[parents], axis=-1)
    np.testing.assert_allclose(bone_lengths, np.broadcast_to(rest_lengths, (6, 21)), atol=1e-5)


def test_amass_root_turn_about_z_turns_the_body_about_y(data_dir: Path, tmp_path: Path, body_models: Path) -> None:
    poses = np.zeros((2, 156))
    poses[:, 2] = np.pi / 2  # root orientation: a quarter turn about AMASS's up axis
    joints = load_motion(_amass(tmp_path / "turn.npz", poses, np.zeros((2, 3))), body_model=body_models).joints[0]
    rest = np.load(data_dir / TARGET_SKELETON)[:22]
    turn = _ZUP @ np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]) @ _ZUP.T
    np.testing.assert_allclose(turn[1], [0.0, 1.0, 0.0], atol=1e-12)  # a turn about Y once converted
    np.testing.assert_allclose(joints - joints[0], (rest - rest[0]) @ turn.T, atol=1e-6)


def test_amass_finds_flat_model_files(data_dir: Path, tmp_path: Path) -> None:
    np.savez(tmp_path / "SMPLH_NEUTRAL.npz", **_body_model(data_dir))
    path = _amass(tmp_path / "flat.npz", np.zeros((2, 156)), np.zeros((2, 3)), gender=np.array("female"))
    assert load_motion(path, body_model=tmp_path).num_frames == 2


def test_amass_with_a_broken_body_model_names_it(data_dir: Path, tmp_path: Path) -> None:
    model = _body_model(data_dir)
    del model["kintree_table"]
    np.savez(tmp_path / "SMPLH_NEUTRAL.npz", **model)
    path = _amass(tmp_path / "motion.npz", np.zeros((2, 156)), np.zeros((2, 3)))
    with pytest.raises(FormatError, match="lacks kintree_table") as caught:
        load_motion(path, body_model=tmp_path)
    assert caught.value.path.endswith("SMPLH_NEUTRAL.npz")
    with pytest.raises(FormatError, match="no SMPL-family body model here"):
        load_motion(path, body_model=tmp_path / "missing")
