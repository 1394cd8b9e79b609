"""Units, up axes and handedness: conversions undone by their inverse, and detected on real clips."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from formats import JOINT_INDEX, load_motion
from formats.bvh import joint_positions, read_bvh
from formats.rigs import map_skeleton
from formats.units import UNIT_SCALES, UP_AXES, Placement, detect_placement, up_rotation

PLACEMENTS = [Placement(*choice) for choice in itertools.product(UNIT_SCALES, UP_AXES, (False, True))]
# One clip per rig in the corpus: Bandai-Namco (cm), cgspeed CMU (CMU units), Reallusion CC (cm).
CLIPS = [
    "bandai-namco/dataset-2/data/dataset-2_wave-left-hand_normal_001.bvh",
    "cmu-mocap/cgspeed_subject131/131_02.bvh",
    "cmu-mocap/iclone_cc_rig/006_02.bvh",
]


@pytest.mark.parametrize("up", UP_AXES)
def test_up_rotations_are_proper_and_bring_the_axis_up(up: str) -> None:
    rotation = up_rotation(up)
    axis = np.zeros(3)
    axis["xyz".index(up[1])] = 1.0 if up[0] == "+" else -1.0
    np.testing.assert_allclose(rotation @ axis, [0.0, 1.0, 0.0])
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(rotation) == pytest.approx(1.0)


def test_z_up_is_converted_as_humanml3d_converts_amass() -> None:
    x, y, z = 0.1, 0.2, 0.3  # HumanML3D: swap y and z, then negate x
    np.testing.assert_allclose(up_rotation("+z") @ [x, y, z], [-x, z, y])


@pytest.mark.parametrize("seed", range(3))
def test_every_placement_is_undone_by_its_inverse(seed: int) -> None:
    points = np.random.default_rng(seed).normal(scale=50.0, size=(7, 22, 3))
    for placement in PLACEMENTS:
        np.testing.assert_allclose(placement.undo(placement.apply(points)), points, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(placement.apply(placement.undo(points)), points, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("clip_path", CLIPS)
def test_the_corpus_rigs_are_read_as_right_handed_y_up(data_dir: Path, clip_path: str) -> None:
    clip = read_bvh(data_dir / clip_path)
    mapping = map_skeleton(clip.names, clip.path)
    placement = detect_placement(mapping.apply(joint_positions(clip, mapping.sources)))
    expected_unit = "cmu" if "cgspeed" in clip_path else "cm"  # as the SOURCE.md files state
    assert placement == Placement(expected_unit, "+y", is_mirrored=False)


@pytest.mark.parametrize("clip_path", CLIPS)
def test_any_unit_and_axes_are_detected_and_undone(data_dir: Path, clip_path: str) -> None:
    """A real clip (metres, Y up) re-expressed in every unit, up axis and handedness comes back."""
    joints = load_motion(data_dir / clip_path).joints.astype(np.float64)
    for placement in PLACEMENTS:
        in_file = placement.undo(joints)
        detected = detect_placement(in_file)
        assert detected == placement
        np.testing.assert_allclose(detected.apply(in_file), joints, atol=1e-9)


def test_children_are_measured_as_children(data_dir: Path) -> None:
    """AnimatedDrawings' 5- and 8-year-olds share a rig (and its inches) with its adults: a child's
    20-inch leg is a child's, not an adult's leg in CMU units."""
    feet = [JOINT_INDEX[f"{side}_{joint}"] for side in ("left", "right") for joint in ("ankle", "foot")]

    def head_height(clip: str) -> float:
        joints = load_motion(data_dir / "animated-drawings" / clip).joints
        return float(np.quantile(joints[:, JOINT_INDEX["head"], 1] - joints[:, feet, 1].min(axis=1), 0.95))

    five, eight = head_height("5yr_old/dab.bvh"), head_height("8yr_old/dab.bvh")
    adult = head_height("cmu_1006/catch.bvh")
    assert 0.8 < five < eight < 1.2 < 1.45 < adult < 1.75  # head joints of 1.0-1.4 m children, a 1.5-1.9 m adult
