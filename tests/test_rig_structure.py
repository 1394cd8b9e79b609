"""Mapping by shape: real rigs with their names hidden map as their names say; non-humanoids do not map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from formats import JOINT_INDEX, SMPL_JOINTS, SkeletonError, load_motion
from formats.bvh import map_bvh_skeleton, read_bvh
from formats.features import canonicalize_joints
from formats.rig_structure import NotHumanoid, map_by_structure
from formats.rigs import STRUCTURE_RIG, JointMapping
from rig_helpers import hide_joint_names

LIMB_JOINTS = ("hip", "knee", "ankle", "foot", "shoulder", "elbow", "wrist")
LIMBS = [f"{side}_{joint}" for side in ("left", "right") for joint in LIMB_JOINTS]
FEET = [JOINT_INDEX[f"{side}_{joint}"] for side in ("left", "right") for joint in ("ankle", "foot")]
# Real rigs, one clip each, and the SMPL joints on which the shape must find the joint the names give:
# all of them where the rig has one joint per SMPL joint, the limbs and pelvis where the rig's spine or
# neck holds more joints than SMPL's and a name map picks among them by convention.
HIDDEN_NAME_RIGS = {
    "bandai_namco": ("bandai-namco/dataset-2/data/dataset-2_walk_normal_001.bvh", SMPL_JOINTS),
    "cmu": ("cmu-mocap/cgspeed_subject131/131_03.bvh", SMPL_JOINTS),
    "accad_mixamo": ("accad/Male1/Male1_B3_Walk.bvh", ["pelvis", *LIMBS]),
    "mixamo_names": ("animated-drawings/5yr_old/catch.bvh", ["pelvis", *LIMBS]),
    "berkeley_roll_joints": ("berkeley-mhad/skl_s01_a01_r01.bvh", ["pelvis", *LIMBS]),
    "daz_no_toes": ("cmu-mocap/daz_cgspeed/60_03_salsa.bvh", ["pelvis", *LIMBS]),
    "reallusion_twist_bones": ("cmu-mocap/iclone_cc_rig/001_01.bvh", LIMBS),
    "rokoko": ("animated-drawings/custom_avatar_animations/walking.bvh", ["pelvis", *LIMBS]),
    "mixamo_fingers": ("animated-drawings/tcd/NaturalTalking_1000.bvh", ["pelvis", *LIMBS]),
    "cmu_asf_bvh": ("animated-drawings/sst/walk_circle.bvh", ["pelvis", *LIMBS]),
}


def _source_of(mapping: JointMapping, clip_names: tuple[str, ...]) -> dict[str, str | None]:
    """The file joint each SMPL joint copies ('tip of X' for an End Site), None where it is a blend."""
    columns = [clip_names[source] for source in mapping.sources] + [f"tip of {clip_names[j]}" for j in mapping.tips]
    return {
        joint: columns[int(np.argmax(row))] if np.isclose(row.max(), 1.0) else None
        for joint, row in zip(SMPL_JOINTS, mapping.weights)
    }


@pytest.mark.parametrize("rig", sorted(HIDDEN_NAME_RIGS))
def test_a_real_rig_with_its_names_hidden_maps_as_its_names_say(data_dir: Path, tmp_path: Path, rig: str) -> None:
    clip_path, compared = HIDDEN_NAME_RIGS[rig]
    named = read_bvh(data_dir / clip_path)
    hidden = read_bvh(hide_joint_names(data_dir / clip_path, tmp_path / "hidden.bvh"))
    by_shape = map_bvh_skeleton(hidden)
    assert by_shape.rig == STRUCTURE_RIG
    # Joint i of the hidden copy is joint i of the named file, so the names can be put back.
    expected, found = _source_of(map_bvh_skeleton(named), named.names), _source_of(by_shape, named.names)
    assert {joint: found[joint] for joint in compared} == {joint: expected[joint] for joint in compared}


@pytest.mark.parametrize(
    "clip_path", ["berkeley-mhad/skl_s01_a01_r01.bvh", "bandai-namco/dataset-2/data/dataset-2_walk_normal_001.bvh"]
)
def test_left_and_right_come_from_the_body_not_the_file_order(data_dir: Path, tmp_path: Path, clip_path: str) -> None:
    """Berkeley lists the right limbs first, Bandai-Namco the left: either way, once canonical (facing
    +Z), the left joints are on the left (+X) side."""
    joints = canonicalize_joints(load_motion(hide_joint_names(data_dir / clip_path, tmp_path / "hidden.bvh")).joints)
    for joint in ("hip", "knee", "shoulder", "elbow"):
        left, right = joints[0, JOINT_INDEX[f"left_{joint}"], 0], joints[0, JOINT_INDEX[f"right_{joint}"], 0]
        assert left > right, joint


def test_a_walk_mapped_by_shape_walks_forward_as_a_standing_adult(data_dir: Path, tmp_path: Path) -> None:
    """AnimatedDrawings' 20-joint rig (root, pelvis, thorax, rfemur...), its names hidden."""
    path = hide_joint_names(data_dir / "animated-drawings/sst/walk_circle.bvh", tmp_path / "hidden.bvh")
    assert map_bvh_skeleton(read_bvh(path)).rig == STRUCTURE_RIG
    joints = load_motion(path).joints.astype(np.float64)  # the file's own size
    head = joints[:, JOINT_INDEX["head"], 1] - joints[:, FEET, 1].min(axis=1)
    assert 1.35 < np.quantile(head, 0.95) < 1.75  # the head joint of a 1.5-1.9 m adult
    joints = canonicalize_joints(joints).astype(np.float64)
    assert np.median(joints[:, FEET, 1].min(axis=1)) < 0.05  # feet on the floor
    across = joints[:, JOINT_INDEX["left_hip"]] - joints[:, JOINT_INDEX["right_hip"]]
    facing = np.cross(across, [0.0, 1.0, 0.0])
    facing /= np.linalg.norm(facing, axis=1, keepdims=True)
    progress = np.einsum("tc,tc->", facing[:-1], np.diff(joints[:, JOINT_INDEX["pelvis"]], axis=0))
    assert progress > 2.0  # metres walked the way the body faces


def _chain(parents: list[int], points: list[np.ndarray], start: int, offsets: list[tuple[float, float, float]]) -> int:
    """Append a chain of joints under `start`, each at an offset from the previous; the last joint's index."""
    for offset in offsets:
        parents.append(start)
        points.append(points[start] + np.array(offset))
        start = len(points) - 1
    return start


def _quadruped() -> tuple[list[int], list[np.ndarray]]:
    """A dog: hind legs under the pelvis, a level spine, front legs under the chest, neck and head ahead."""
    parents, points = [-1], [np.array([0.0, 0.6, 0.0])]
    for side in (-0.1, 0.1):
        _chain(parents, points, 0, [(side, -0.05, 0), (0, -0.25, 0.05), (0, -0.25, -0.05), (0, -0.05, 0.08)])
    chest = _chain(parents, points, 0, [(0, 0, 0.25), (0, 0, 0.25)])
    for side in (-0.1, 0.1):
        _chain(parents, points, chest, [(side, -0.05, 0), (0, -0.25, 0), (0, -0.25, 0), (0, -0.05, 0.06)])
    _chain(parents, points, chest, [(0, 0.15, 0.1), (0, 0.05, 0.15)])
    _chain(parents, points, 0, [(0, 0.05, -0.2), (0, 0, -0.2)])  # tail
    return parents, points


def _hand() -> tuple[list[int], list[np.ndarray]]:
    """A hand-only rig: a wrist and five fingers of three bones."""
    parents, points = [-1], [np.zeros(3)]
    for finger in range(5):
        _chain(parents, points, 0, [(0.02 * finger - 0.04, -0.08, 0), (0, -0.04, 0), (0, -0.03, 0), (0, -0.02, 0)])
    return parents, points


def _single_chain() -> tuple[list[int], list[np.ndarray]]:
    """A rope or a tail: ten joints in a row."""
    parents, points = [-1], [np.zeros(3)]
    _chain(parents, points, 0, [(0, -0.1, 0.01)] * 9)
    return parents, points


@pytest.mark.parametrize(
    ("build", "missing"),
    [
        (_quadruped, r"legs with no body rising above them \(a quadruped\?\)"),
        (_hand, "no two leg chains branch from one joint"),
        (_single_chain, "no two leg chains branch from one joint"),
    ],
)
def test_what_is_not_a_humanoid_says_what_it_lacks(build, missing: str) -> None:  # type: ignore[no-untyped-def]
    parents, points = build()
    poses = np.stack([points] * 3)
    with pytest.raises(NotHumanoid, match=missing):
        map_by_structure(parents, poses, np.full_like(poses, np.nan))


def _bvh_text(parents: list[int], points: list[np.ndarray], frames: int = 3) -> str:
    """A BVH file of a skeleton in its rest pose, every joint rotating, nothing moving."""
    lines = ["HIERARCHY"]

    def joint(index: int, depth: int) -> None:
        pad = "  " * depth
        offset = points[index] - (points[parents[index]] if parents[index] >= 0 else 0)
        lines.append(f"{pad}{'ROOT' if depth == 0 else 'JOINT'} bone{index}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET {offset[0]:.4f} {offset[1]:.4f} {offset[2]:.4f}")
        channels = "Xposition Yposition Zposition " if depth == 0 else ""
        lines.append(f"{pad}  CHANNELS {6 if depth == 0 else 3} {channels}Zrotation Xrotation Yrotation")
        children = [child for child, parent in enumerate(parents) if parent == index]
        for child in children:
            joint(child, depth + 1)
        if not children:
            lines.extend([f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET 0 -0.02 0.03", pad + "  }"])
        lines.append(pad + "}")

    joint(0, 0)
    root = points[0]
    row = " ".join([f"{root[0]:.4f} {root[1]:.4f} {root[2]:.4f}"] + ["0 0 0"] * len(parents))
    lines += ["MOTION", f"Frames: {frames}", "Frame Time: 0.05"] + [row] * frames
    return "\n".join(lines) + "\n"


def test_a_quadruped_file_is_an_unknown_skeleton_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "dog.bvh"
    path.write_text(_bvh_text(*_quadruped()))
    with pytest.raises(SkeletonError, match="unknown skeleton") as caught:
        load_motion(path)
    message = str(caught.value)
    assert caught.value.path == str(path) and "\n" not in message
    assert "its shape is not a humanoid's (legs with no body rising above them (a quadruped?))" in message
