"""BVH reading and forward kinematics, on real files of the three rigs in the shared corpus."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pytest

from formats.bvh import joint_positions, read_bvh
from formats.bvh_hierarchy import parse_hierarchy
from formats.errors import FormatError

# One clip per rig: Bandai-Namco (position channels on every joint, ZXY), cgspeed CMU (ZYX and ZXY
# mixed per joint, 120 fps), Reallusion CC (100 joints, root rotated from Z up to Y up).
CLIPS = [
    "bandai-namco/dataset-1/data/dataset-1_bow_angry_001.bvh",
    "cmu-mocap/cgspeed_subject131/131_03.bvh",
    "cmu-mocap/iclone_cc_rig/002_03.bvh",
]


@pytest.mark.parametrize("clip_path", CLIPS)
def test_forward_kinematics_matches_bvhio(data_dir: Path, clip_path: str) -> None:
    """bvhio evaluates the hierarchy frame by frame with its own transform code: an independent check
    of our vectorised kinematics (bvhio computes in float32, hence the tolerance, in file units)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # bvhio's own import of glm
        import bvhio

    path = data_dir / clip_path
    clip = read_bvh(path)
    ours = joint_positions(clip, list(range(len(clip.names))))
    root = bvhio.readAsHierarchy(str(path))
    for frame in (0, clip.num_frames // 2, clip.num_frames - 1):
        root.loadPose(frame)
        for joint, _, _ in root.layout():
            expected = np.array(joint.PositionWorld)
            np.testing.assert_allclose(ours[frame, clip.names.index(joint.Name)], expected, atol=1e-3)


def test_each_joint_keeps_its_own_channel_order(data_dir: Path) -> None:
    clip = read_bvh(data_dir / CLIPS[1])
    orders = {tuple("xyz"[axis] for axis in clip.rotation_axes[j]) for j in range(len(clip.names))}
    assert {("z", "y", "x"), ("z", "x", "y")} <= orders  # the mix the kinematics test above covers
    assert clip.fps == pytest.approx(120, rel=1e-4)


def test_position_channels_replace_offsets(data_dir: Path) -> None:
    """Bandai-Namco carries position channels on every joint: its OFFSETs are then never used, while
    the CC rig (rotations only below the root) depends on them."""
    for clip_path, uses_offsets in ((CLIPS[0], False), (CLIPS[2], True)):
        clip = read_bvh(data_dir / clip_path)
        joints = list(range(len(clip.names)))
        moved = dataclasses.replace(clip, offsets=clip.offsets + 7.0)
        changed = not np.allclose(joint_positions(clip, joints), joint_positions(moved, joints))
        assert changed == uses_offsets, clip_path


def test_a_subset_of_joints_reads_the_same_positions(data_dir: Path) -> None:
    clip = read_bvh(data_dir / CLIPS[2])
    everything = joint_positions(clip, list(range(len(clip.names))))
    subset = [clip.names.index(name) for name in ("CC_Base_L_Hand", "CC_Base_Head", "CC_Base_R_ToeBase")]
    np.testing.assert_allclose(joint_positions(clip, subset), everything[:, subset])


@pytest.mark.parametrize("line_end", [b"\n", b"\r\n", b"\r"])
def test_line_ends_and_tabs_do_not_matter(data_dir: Path, tmp_path: Path, line_end: bytes) -> None:
    path = data_dir / CLIPS[0]
    expected = joint_positions(read_bvh(path), [0, 5, 10])
    variant = tmp_path / "variant.bvh"
    variant.write_bytes(path.read_bytes().replace(b"\r\n", b"\n").replace(b" ", b"\t").replace(b"\n", line_end))
    np.testing.assert_array_equal(joint_positions(read_bvh(variant), [0, 5, 10]), expected)


def test_joint_names_may_hold_spaces() -> None:
    text = "HIERARCHY\nROOT Bip01\n{\nOFFSET 0 0 0\nCHANNELS 3 Xposition Yposition Zposition\nJOINT Bip01 L Thigh\n{\n"
    text += "OFFSET 1 2 3\nCHANNELS 3 Zrotation Xrotation Yrotation\nEnd Site\n{\nOFFSET 0 -1 0\n}\n}\n}\n"
    joints = parse_hierarchy(Path("spaces.bvh"), text)
    assert [joint.name for joint in joints] == ["Bip01", "Bip01 L Thigh"]
    assert [joint.parent for joint in joints] == [-1, 0]
    assert joints[1].offset == (1.0, 2.0, 3.0)


def test_a_joint_in_an_end_site_is_rejected_with_its_line() -> None:
    text = "HIERARCHY\nROOT Hips\n{\nOFFSET 0 0 0\nCHANNELS 1 Xrotation\nEnd Site\n{\nJOINT Bad\n"
    with pytest.raises(FormatError, match="hierarchy line 8"):
        parse_hierarchy(Path("bad.bvh"), text)
