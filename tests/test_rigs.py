"""Skeleton maps: built-in rigs by name, user maps, interpolation of missing joints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from formats import JOINT_INDEX, SMPL_JOINTS, SkeletonError, load_motion, read_skeleton_map
from formats.bvh import map_bvh_skeleton, read_bvh
from formats.features import canonicalize_joints
from formats.rigs import INTERPOLABLE_JOINTS, STRUCTURE_RIG, TIP_JOINTS, builtin_rigs, map_skeleton
from rig_helpers import rename_joints

BANDAI_WALK = "bandai-namco/dataset-2/data/dataset-2_walk_normal_001.bvh"
RIGS = {rig.name: rig for rig in builtin_rigs()}
NAME_STYLES = {
    "as_listed": lambda name: name,
    "upper_case": str.upper,
    "namespace": lambda name: f"mixamorig1:{name}",
    "prefix": lambda name: f"Character1_{name}",
}


def test_the_table_lists_the_rigs_people_have() -> None:
    assert set(RIGS) == {
        "bandai_namco", "cmu", "reallusion_cc", "mixamo", "lafan1", "smpl", "smplx", "unreal",
        "cmu_asf", "cmu_asf_bvh", "deepmimic", "daz_poser", "rokoko", "cmu_motionbuilder",
    }  # fmt: skip
    for rig in RIGS.values():
        assert set(SMPL_JOINTS) - set(rig.joints) <= INTERPOLABLE_JOINTS | TIP_JOINTS.keys(), rig.name


@pytest.mark.parametrize("style", sorted(NAME_STYLES))
@pytest.mark.parametrize("rig_name", sorted(RIGS))
def test_each_builtin_rig_is_recognised_by_its_names(rig_name: str, style: str) -> None:
    rig = RIGS[rig_name]
    names = ["Reference"] + [NAME_STYLES[style](name) for name in rig.joints.values()] + ["Extra_Bone"]
    mapping = map_skeleton(names, Path("clip.bvh"), has_tip=[True] * len(names))
    assert mapping.rig == rig_name
    for joint, name in rig.joints.items():
        row = mapping.weights[JOINT_INDEX[joint]]
        assert row[mapping.sources.index(names.index(NAME_STYLES[style](name)))] == 1.0
        assert row.sum() == 1.0
    # A rig without toes takes them from the tips of its ankles' bones.
    ankles = [NAME_STYLES[style](rig.joints[TIP_JOINTS[toe]]) for toe in TIP_JOINTS if toe not in rig.joints]
    assert mapping.tips == tuple(names.index(ankle) for ankle in ankles)


def test_best_name_coverage_wins() -> None:
    """LaFAN1 and Mixamo differ only in the toe names; each file gets its own rig."""
    lafan = list(RIGS["lafan1"].joints.values())
    assert map_skeleton(lafan, Path("lafan.bvh")).rig == "lafan1"
    assert map_skeleton([*lafan, "LeftToeBase", "RightToeBase"], Path("mixamo.bvh")).rig == "mixamo"


def test_missing_joints_are_interpolated_on_the_chain(data_dir: Path) -> None:
    bandai = load_motion(data_dir / BANDAI_WALK).joints  # Bandai-Namco has no second spine joint
    spine = (bandai[:, JOINT_INDEX["spine1"]] + bandai[:, JOINT_INDEX["spine3"]]) / 2
    np.testing.assert_allclose(bandai[:, JOINT_INDEX["spine2"]], spine, atol=1e-6)
    cmu = load_motion(data_dir / "cmu-mocap/cgspeed_subject131/131_01.bvh").joints  # collars interpolated
    collar = (cmu[:, JOINT_INDEX["spine3"]] + cmu[:, JOINT_INDEX["left_shoulder"]]) / 2
    np.testing.assert_allclose(cmu[:, JOINT_INDEX["left_collar"]], collar, atol=1e-6)


def _renames_to(rig_name: str, style: str = "as_listed") -> dict[str, str]:
    bandai, rig = RIGS["bandai_namco"].joints, RIGS[rig_name].joints
    return {bandai[j]: NAME_STYLES[style](rig[j]) for j in bandai if j in rig}


@pytest.mark.parametrize(
    ("rig_name", "style"),
    [("mixamo", "namespace"), ("lafan1", "as_listed"), ("smpl", "upper_case"), ("smplx", "as_listed"),
     ("unreal", "prefix"), ("reallusion_cc", "as_listed")],
)  # fmt: skip
def test_a_real_clip_renamed_to_another_rig_gives_the_same_joints(
    data_dir: Path, tmp_path: Path, rig_name: str, style: str
) -> None:
    original = load_motion(data_dir / BANDAI_WALK).joints
    renamed = rename_joints(data_dir / BANDAI_WALK, tmp_path / "renamed.bvh", _renames_to(rig_name, style))
    np.testing.assert_allclose(load_motion(renamed).joints, original, atol=1e-6)


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_a_user_map_covers_an_unknown_rig(data_dir: Path, tmp_path: Path, suffix: str) -> None:
    bandai = RIGS["bandai_namco"].joints
    renames = {name: f"bone_{i:02d}" for i, name in enumerate(bandai.values())}
    renamed = rename_joints(data_dir / BANDAI_WALK, tmp_path / "rig.bvh", renames)
    assert map_bvh_skeleton(read_bvh(renamed)).rig == STRUCTURE_RIG  # its shape is a humanoid's; a map wins
    table = {joint: renames[name] for joint, name in bandai.items()}
    map_file = tmp_path / f"map{suffix}"
    if suffix == ".json":
        map_file.write_text(json.dumps(table))
    else:
        map_file.write_text("# my rig\n" + "".join(f'{joint} = "{name}"\n' for joint, name in table.items()))
    skeleton_map = read_skeleton_map(map_file)
    assert skeleton_map == table
    joints = load_motion(renamed, skeleton_map=skeleton_map).joints
    np.testing.assert_allclose(joints, load_motion(data_dir / BANDAI_WALK).joints, atol=1e-6)


def test_a_user_map_that_misses_joints_lists_them(data_dir: Path) -> None:
    skeleton_map = dict(RIGS["bandai_namco"].joints)
    skeleton_map["left_wrist"] = "NoSuchBone"
    del skeleton_map["right_foot"]
    with pytest.raises(SkeletonError, match="finds no joint for right_foot, left_wrist") as caught:
        load_motion(data_dir / BANDAI_WALK, skeleton_map=skeleton_map)
    assert caught.value.path == str(data_dir / BANDAI_WALK)


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("bad.toml", 'pelvis = "Hips"\nleft_hip = ', "not valid TOML"),
        ("bad.json", '{"pelvis": "Hips",', "not valid JSON"),
        ("unknown.toml", 'pelvis = "Hips"\nbelly = "Spine"\n', "'belly' is not an SMPL joint"),
        ("number.json", '{"pelvis": 3}', "must be a non-empty string"),
        ("empty.toml", "", "non-empty table"),
        ("list.json", '["Hips"]', "non-empty table"),
    ],
)
def test_bad_skeleton_maps_name_the_map_file(tmp_path: Path, name: str, text: str, reason: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SkeletonError, match=reason) as caught:
        read_skeleton_map(path)
    assert caught.value.path == str(path)


DAZ_SALSA = "cmu-mocap/daz_cgspeed/60_03_salsa.bvh"
ROKOKO_WAVE = "animated-drawings/custom_avatar_animations/walking.bvh"
FEET = [JOINT_INDEX[name] for name in ("left_ankle", "right_ankle", "left_foot", "right_foot")]


def _standing_head_height(joints: np.ndarray) -> float:
    """Metres from the lowest foot joint to the head joint, in the frames the body stands tallest."""
    return float(np.quantile(joints[:, JOINT_INDEX["head"], 1] - joints[:, FEET, 1].min(axis=1), 0.95))


@pytest.mark.parametrize(("clip_path", "rig_name"), [(DAZ_SALSA, "daz_poser"), (ROKOKO_WAVE, "rokoko")])
def test_the_rigs_of_the_corpus_map_by_name_to_a_standing_adult(data_dir: Path, clip_path: str, rig_name: str) -> None:
    assert map_bvh_skeleton(read_bvh(data_dir / clip_path)).rig == rig_name
    joints = load_motion(data_dir / clip_path).joints  # the file's own size (canonical joints have HumanML3D's)
    assert 1.35 < _standing_head_height(joints) < 1.75  # the head joint of a 1.5-1.9 m adult
    lowest_foot = canonicalize_joints(joints)[:, FEET, 1].min(axis=1)
    assert np.median(lowest_foot) < 0.05  # feet on the floor, not floating or sunk


def test_a_rig_without_toes_takes_them_from_the_foot_bones_tip(data_dir: Path) -> None:
    """The Daz rig's feet end at the ankle: its toes are the End Site, which turns with the foot."""
    clip = read_bvh(data_dir / DAZ_SALSA)
    mapping = map_bvh_skeleton(clip)
    assert [clip.names[ankle] for ankle in mapping.tips] == ["lFoot", "rFoot"]
    joints = load_motion(data_dir / DAZ_SALSA).joints
    for side in ("left", "right"):
        foot = joints[:, JOINT_INDEX[f"{side}_foot"]] - joints[:, JOINT_INDEX[f"{side}_ankle"]]
        end_site = clip.end_sites[clip.names.index(f"{side[0]}Foot")]  # centimetres
        # Rigid: the End Site's OFFSET, up to the resampling from 30 to 20 fps.
        np.testing.assert_allclose(np.linalg.norm(foot, axis=-1), np.linalg.norm(end_site) / 100, rtol=0.03)
        across = joints[:, JOINT_INDEX["left_hip"]] - joints[:, JOINT_INDEX["right_hip"]]
        forward = np.cross(across, [0.0, 1.0, 0.0])
        assert np.mean(np.einsum("tc,tc->t", foot, forward) > 0) > 0.9  # toes point forward


def test_a_user_map_without_toes_uses_the_end_sites(data_dir: Path) -> None:
    daz = {joint: name for joint, name in RIGS["daz_poser"].joints.items()}
    joints = load_motion(data_dir / DAZ_SALSA, skeleton_map=daz).joints
    np.testing.assert_allclose(joints, load_motion(data_dir / DAZ_SALSA).joints)


def test_a_leading_calibration_pose_neither_sinks_the_floor_nor_shortens_the_clip(data_dir: Path) -> None:
    """cgspeed's Daz release starts each clip with a T-pose, here 22 cm below the floor the motion uses."""
    path = data_dir / "cmu-mocap/daz_cgspeed/135_05_martial.bvh"
    motion = load_motion(path)
    assert motion.duration == pytest.approx(read_bvh(path).num_frames * read_bvh(path).frame_time, abs=0.05)
    lowest_foot = canonicalize_joints(motion.joints)[:, FEET, 1].min(axis=1)
    assert np.median(lowest_foot) < 0.05
