"""HumanML3D 263-d features: golden samples, inverse, invariances, mirroring, bad shapes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from formats.errors import FormatError
from formats.features import (
    FEATURE_DIM,
    FEATURE_GROUPS,
    TARGET_BONE_LENGTHS,
    canonicalize_joints,
    extract_features,
    features_from_canonical,
    features_to_joints,
    mirror_features,
    mirror_joints,
)
from formats.rotations import gaussian_smooth, qbetween, qinv, qrot, yaw_quat
from formats.skeleton import JOINT_INDEX, PARENTS, SMPL_JOINTS

GOLDEN = {  # folder under humanml3d-ref, sample id
    "012314": "HumanML3D",
    "000000": "HumanML3D_ICT_000000",
}


def _golden(data_dir: Path, sample: str) -> tuple[np.ndarray, np.ndarray]:
    root = data_dir / "humanml3d-ref" / GOLDEN[sample]
    joints = np.load(root / "new_joints" / f"{sample}.npy").astype(np.float64)
    feats = np.load(root / "new_joint_vecs" / f"{sample}.npy").astype(np.float64)
    return joints, feats


def _max_error_per_group(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    return {name: float(np.abs(a[:, cols] - b[:, cols]).max()) for name, cols in FEATURE_GROUPS.items()}


def test_target_skeleton_matches_reference_file(data_dir: Path) -> None:
    example = np.load(data_dir / "humanml3d-ref" / "tmr" / "skeleton_example_h3d.npy")[:22]
    for joint in range(1, 22):
        length = np.linalg.norm(example[joint] - example[PARENTS[joint]])
        assert TARGET_BONE_LENGTHS[SMPL_JOINTS[joint]] == pytest.approx(length, abs=1e-12)


@pytest.mark.parametrize("sample", sorted(GOLDEN))
def test_recover_from_features_matches_reference_joints(data_dir: Path, sample: str) -> None:
    joints, feats = _golden(data_dir, sample)
    assert np.abs(features_to_joints(feats) - joints).max() < 1e-5


def test_golden_features_from_reference_joints(data_dir: Path) -> None:
    """new_joints has one frame fewer than the clip the features were made from (T rows need T+1
    frames), and the facing is smoothed with sigma 20 frames: only the last frames may differ."""
    joints, feats = _golden(data_dir, "012314")
    ours = extract_features(joints)
    assert ours.shape == (len(feats) - 1, FEATURE_DIM)
    head = len(ours) - 66
    errors = _max_error_per_group(ours[:head], feats[:-1][:head])
    assert max(errors.values()) < 1e-5, errors
    np.testing.assert_array_equal(ours[:, FEATURE_GROUPS["foot_contact"]], feats[:-1, FEATURE_GROUPS["foot_contact"]])


def _with_recovered_last_frame(joints: np.ndarray, feats: np.ndarray) -> np.ndarray:
    """Append the clip's final frame, rebuilt from the last row's joint velocities and heading."""
    heading = yaw_quat(np.sum(feats[:-1, 0]))
    velocity = feats[-1, FEATURE_GROUPS["local_velocity"]].reshape(22, 3)
    last = joints[-1] + qrot(qinv(heading)[None], velocity)
    return np.concatenate([joints, last[None]])


@pytest.mark.parametrize("sample", sorted(GOLDEN))
def test_golden_features_on_the_whole_clip(data_dir: Path, sample: str) -> None:
    """With the missing final frame restored, every row of every group matches the reference."""
    joints, feats = _golden(data_dir, sample)
    ours = extract_features(_with_recovered_last_frame(joints, feats))
    errors = _max_error_per_group(ours, feats)
    assert max(errors.values()) < 1e-5, errors


@pytest.mark.parametrize("sample", sorted(GOLDEN))
def test_joints_features_joints_round_trip_within_a_millimetre(data_dir: Path, sample: str) -> None:
    joints, _ = _golden(data_dir, sample)
    canonical = canonicalize_joints(joints)
    recovered = features_to_joints(features_from_canonical(canonical))
    assert np.abs(recovered - canonical[:-1]).max() < 1e-3


def _yaw_matrix(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


@pytest.mark.parametrize("seed", range(4))
def test_features_ignore_placement_heading_and_body_size(data_dir: Path, seed: int) -> None:
    joints, _ = _golden(data_dir, "012314")
    rng = np.random.default_rng(seed)
    moved = joints @ _yaw_matrix(rng.uniform(-np.pi, np.pi)).T * rng.uniform(0.8, 1.2)
    moved += rng.uniform(-5, 5, size=3)
    np.testing.assert_allclose(extract_features(moved), extract_features(joints), atol=2e-4)


def test_canonical_joints_stand_on_the_floor_at_the_origin_facing_z(data_dir: Path) -> None:
    joints, _ = _golden(data_dir, "012314")
    rng = np.random.default_rng(0)
    canonical = canonicalize_joints(joints @ _yaw_matrix(2.0).T + rng.uniform(-3, 3, size=3))
    assert canonical[..., 1].min() == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(canonical[0, 0, [0, 2]], 0.0, atol=1e-6)
    left_minus_right = canonical[0, JOINT_INDEX["left_shoulder"]] - canonical[0, JOINT_INDEX["right_shoulder"]]
    assert left_minus_right[0] > 0.2  # the left side toward +X means facing +Z (right-handed, Y up)


def test_mirroring_features_is_an_involution_and_mirrors_the_joints(data_dir: Path) -> None:
    _, feats = _golden(data_dir, "012314")
    mirrored = mirror_features(feats)
    np.testing.assert_allclose(mirror_features(mirrored), feats, atol=1e-5)
    np.testing.assert_allclose(features_to_joints(mirrored), mirror_joints(features_to_joints(feats)), atol=1e-5)
    assert not np.allclose(mirrored, feats, atol=1e-2)


def test_mirroring_features_agrees_with_mirroring_the_joints(data_dir: Path) -> None:
    """Equal up to the t2m skeleton's own left/right asymmetry (a few millimetres per bone), which
    retargeting applies to the mirrored motion."""
    joints, _ = _golden(data_dir, "012314")
    direct = extract_features(mirror_joints(joints))
    analytic = mirror_features(extract_features(joints))
    for name, cols in FEATURE_GROUPS.items():
        if name != "foot_contact":
            assert np.median(np.abs(direct[:, cols] - analytic[:, cols])) < 5e-3, name
    contacts = FEATURE_GROUPS["foot_contact"]
    assert np.mean(direct[:, contacts] == analytic[:, contacts]) > 0.9


def test_a_bone_pointing_against_its_rest_direction_stays_finite(data_dir: Path) -> None:
    joints, _ = _golden(data_dir, "012314")
    flipped = joints[:20].copy()
    knee, ankle = JOINT_INDEX["left_knee"], JOINT_INDEX["left_ankle"]
    flipped[:, ankle] = flipped[:, knee] + np.array([0.0, 0.4, 0.0])  # shin straight up
    feats = extract_features(flipped)
    assert np.all(np.isfinite(feats))


def test_qbetween_turns_one_direction_onto_the_other() -> None:
    rng = np.random.default_rng(1)
    u = rng.normal(size=(100, 3))
    v = np.concatenate([rng.normal(size=(98, 3)), -u[98:]])  # last two are exactly opposite
    q = qbetween(u, v)
    turned = qrot(q, u / np.linalg.norm(u, axis=1, keepdims=True))
    np.testing.assert_allclose(turned, v / np.linalg.norm(v, axis=1, keepdims=True), atol=1e-9)


def test_gaussian_smooth_equals_a_direct_convolution_with_edge_padding() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 3))
    sigma, radius = 3.0, 12
    weights = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    weights /= weights.sum()
    expected = np.array(
        [sum(w * x[min(max(t + k, 0), len(x) - 1)] for k, w in zip(range(-radius, radius + 1), weights)) for t in range(len(x))]
    )
    np.testing.assert_allclose(gaussian_smooth(x, sigma), expected, atol=1e-12)


@pytest.mark.parametrize(
    "shape",
    [(10, 21, 3), (10, 22), (22, 3), (10, 22, 4)],
)
def test_wrong_joint_shapes_raise_format_error(shape: tuple[int, ...]) -> None:
    with pytest.raises(FormatError, match="shape"):
        extract_features(np.zeros(shape))


def test_too_short_or_non_finite_motions_raise_format_error(data_dir: Path) -> None:
    joints, feats = _golden(data_dir, "012314")
    with pytest.raises(FormatError, match="frames"):
        extract_features(joints[:1])
    broken = joints.copy()
    broken[5, 3, 1] = np.nan
    with pytest.raises(FormatError, match="NaN"):
        extract_features(broken)
    with pytest.raises(FormatError, match="shape"):
        features_to_joints(feats[:, :250])
