"""Skeleton maps: built-in rigs by name, user maps, interpolation of missing joints."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from formats import JOINT_INDEX, SMPL_JOINTS, SkeletonError, load_motion, read_skeleton_map
from formats.rigs import INTERPOLABLE_JOINTS, builtin_rigs, map_skeleton

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
        "cmu_asf", "cmu_asf_bvh", "deepmimic",
    }  # fmt: skip
    for rig in RIGS.values():
        assert set(SMPL_JOINTS) - set(rig.joints) <= INTERPOLABLE_JOINTS, rig.name


@pytest.mark.parametrize("style", sorted(NAME_STYLES))
@pytest.mark.parametrize("rig_name", sorted(RIGS))
def test_each_builtin_rig_is_recognised_by_its_names(rig_name: str, style: str) -> None:
    rig = RIGS[rig_name]
    names = ["Reference"] + [NAME_STYLES[style](name) for name in rig.joints.values()] + ["Extra_Bone"]
    mapping = map_skeleton(names, Path("clip.bvh"))
    assert mapping.rig == rig_name
    for joint, name in rig.joints.items():
        row = mapping.weights[JOINT_INDEX[joint]]
        assert row[mapping.sources.index(names.index(NAME_STYLES[style](name)))] == 1.0
        assert row.sum() == 1.0


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


def _rename_joints(source: Path, target: Path, renames: dict[str, str]) -> Path:
    """A copy of a real BVH whose joints carry other names (the motion is untouched)."""
    text = source.read_text()
    for old, new in renames.items():
        text = re.sub(rf"^(\s*(?:JOINT|ROOT) ){re.escape(old)}\s*$", rf"\g<1>{new}", text, flags=re.MULTILINE)
    target.write_text(text)
    return target


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
    renamed = _rename_joints(data_dir / BANDAI_WALK, tmp_path / "renamed.bvh", _renames_to(rig_name, style))
    np.testing.assert_allclose(load_motion(renamed).joints, original, atol=1e-6)


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_a_user_map_covers_an_unknown_rig(data_dir: Path, tmp_path: Path, suffix: str) -> None:
    bandai = RIGS["bandai_namco"].joints
    renames = {name: f"bone_{i:02d}" for i, name in enumerate(bandai.values())}
    renamed = _rename_joints(data_dir / BANDAI_WALK, tmp_path / "rig.bvh", renames)
    with pytest.raises(SkeletonError, match="unknown skeleton"):
        load_motion(renamed)
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
