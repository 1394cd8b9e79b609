"""`tmr export`: segments of real clips as BVH, read back with `tmr`'s own reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from formats import FEATURE_FPS, features_to_joints, load_motion
from formats.bvh import read_bvh
from tmrcli.app import app

MILLIMETRE = 1e-3


def _export(*args: object):
    return CliRunner().invoke(app, ["export", *map(str, args)])


def _joints(path: Path) -> np.ndarray:
    motion = load_motion(path)
    return motion.joints if motion.joints is not None else features_to_joints(motion.feats)


@pytest.mark.parametrize(
    "relative",
    [
        "bandai-namco/dataset-1/data/dataset-1_kick_normal_001.bvh",
        "cmu-mocap/iclone_cc_rig/007_03.bvh",
    ],
)
def test_bvh_source_is_cut_on_its_own_rig(data_dir: Path, tmp_path: Path, relative: str) -> None:
    source, out = data_dir / relative, tmp_path / "cut.bvh"
    result = _export(source, "--start", "0.5", "--end", "2.5", "-o", out)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    original, cut = read_bvh(source), read_bvh(out)
    assert cut.names == original.names and cut.num_channels == original.num_channels
    assert cut.num_frames == round(2.0 * original.fps)
    # Read back through tmr: the same joints as the source's segment (0.5-2.5 s = frames 10-50 at 20 fps).
    back, segment = _joints(out), _joints(source)[10:50]
    assert back.shape == segment.shape
    assert np.linalg.norm(back - segment, axis=-1).max() < MILLIMETRE


@pytest.mark.parametrize("relative", ["humanml3d-ref/HumanML3D/new_joints/012314.npy", "humanml3d-ref/HumanML3D/new_joint_vecs/012314.npy"])
def test_joints_and_features_become_an_smpl_bvh_that_round_trips(data_dir: Path, tmp_path: Path, relative: str) -> None:
    source, out = data_dir / relative, tmp_path / "segment.bvh"
    result = _export(source, "--start", "2", "--end", "5.5", "-o", out)
    assert result.exit_code == 0, result.output
    assert "rotations solved from the joints" in result.stderr
    bvh = read_bvh(out)
    assert bvh.names[0] == "pelvis" and len(bvh.names) == 22
    assert bvh.frame_time == pytest.approx(1 / FEATURE_FPS)
    back, segment = _joints(out), _joints(source)[40:110]
    assert back.shape == segment.shape == (70, 22, 3)
    assert np.linalg.norm(back - segment, axis=-1).max() < MILLIMETRE


def test_whole_motion_by_default(data_dir: Path, tmp_path: Path) -> None:
    source, out = data_dir / "humanml3d-ref/HumanML3D_ICT_000000/new_joints/000000.npy", tmp_path / "kick.bvh"
    assert _export(source, "-o", out).exit_code == 0
    assert np.linalg.norm(_joints(out) - _joints(source), axis=-1).max() < MILLIMETRE


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "x.fbx"], "must end in .bvh"),
        (["--start", "2", "--end", "1", "-o", "x.bvh"], "must be after --start"),
        ([], "Missing option"),
    ],
)
def test_usage_errors_exit_2(data_dir: Path, args: list[str], message: str) -> None:
    result = _export(data_dir / "cmu-mocap/cgspeed_subject131/131_01.bvh", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_unwritable_output_is_one_line_and_exit_1(data_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    source = data_dir / "humanml3d-ref/HumanML3D/new_joints/012314.npy"
    result = _export(source, "-o", blocker / "out.bvh")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {blocker / 'out.bvh'}: cannot write") and "Traceback" not in result.output


def test_segment_outside_a_bvh_is_one_line_and_exit_1(data_dir: Path, tmp_path: Path) -> None:
    source = data_dir / "cmu-mocap/cgspeed_subject131/131_01.bvh"
    result = _export(source, "--start", "500", "-o", tmp_path / "x.bvh")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {source}: the segment starts at 500 s") and not (tmp_path / "x.bvh").exists()
