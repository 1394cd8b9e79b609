"""Blender, the client most users open motion files in, as the reference: it reads what tmr writes,
and what it writes tmr reads back.

Blender runs as the `bpy` module in its own interpreter (bpy 4.5 needs numpy < 2, tmr's environment
has 2.x): TMR_BLENDER_PYTHON, else .venv-blender/bin/python (made by .ci/run). One subprocess runs
every job of tests/blender_client.py, with a timeout, so a Blender crash fails these tests and not
pytest. Without that interpreter they are skipped, unless TMR_REQUIRE_BLENDER=1 (CI) makes that a
failure.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from formats import load_motion
from formats.bvh import joint_positions, read_bvh
from formats.rigs import map_skeleton
from formats.units import detect_placement
from tmrcli.app import app

REPO = Path(__file__).resolve().parents[1]
BLENDER_PYTHON = Path(os.environ.get("TMR_BLENDER_PYTHON", REPO / ".venv-blender" / "bin" / "python"))
CLIENT = Path(__file__).with_name("blender_client.py")
WALK = "cmu-mocap/cgspeed_subject131/131_01.bvh"  # 120 fps, CMU's 31-joint skeleton
CUT_FRAMES = [0, 60, 240, 600]  # source frames of the exported cut: 0, 0.5, 2 and 5 s
SMPL_FRAMES = [0, 10, 40, 100]  # frames of the 20 fps SMPL export
# Blender's BVH importer turns Y-up files to its Z-up world: (x, y, z) -> (x, -z, y).
BLENDER_TO_BVH = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])


@pytest.fixture(scope="module")
def blender(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Export with tmr, then let Blender import, re-export and report; returns paths and results."""
    if not BLENDER_PYTHON.is_file():
        message = f"no Blender (bpy) interpreter at {BLENDER_PYTHON}; .ci/run makes one"
        if os.environ.get("TMR_REQUIRE_BLENDER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("blender")
    source = data_dir / WALK
    cut, joints_npy, smpl = folder / "cut.bvh", folder / "walk_joints.npy", folder / "smpl.bvh"
    np.save(joints_npy, load_motion(source).joints)
    for given, output in ((source, cut), (joints_npy, smpl)):
        result = CliRunner().invoke(app, ["export", str(given), "--start", "0", "--end", "6", "-o", str(output)])
        assert result.exit_code == 0, result.output
    paths = {"cut": cut, "smpl": smpl, "fbx": folder / "walk.fbx", "glb": folder / "walk.glb"}
    jobs = [
        {"import": str(cut), "frames": CUT_FRAMES},
        {"import": str(smpl), "frames": SMPL_FRAMES},
        {"convert": str(source), "fbx": str(paths["fbx"]), "glb": str(paths["glb"])},
    ]
    (folder / "jobs.json").write_text(json.dumps(jobs))
    run = subprocess.run(
        [str(BLENDER_PYTHON), str(CLIENT), str(folder / "jobs.json"), str(folder / "results.json")],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    return {"paths": paths, "results": json.loads((folder / "results.json").read_text()), "source": source}


def _blender_smpl_joints(bvh: Path, result: dict) -> np.ndarray:
    """The SMPL joints tmr would build from Blender's bone positions, placed as tmr places that file."""
    heads = np.asarray(result["heads"]) @ BLENDER_TO_BVH.T  # (F, bones, 3), file units and axes
    mapping = map_skeleton(result["names"], bvh)
    clip = read_bvh(bvh)
    own = map_skeleton(clip.names, bvh)
    placement = detect_placement(own.apply(joint_positions(clip, own.sources)))
    return placement.apply(mapping.apply(heads[:, list(mapping.sources)]))


@pytest.mark.parametrize(("which", "frames", "stride"), [("cut", CUT_FRAMES, 6), ("smpl", SMPL_FRAMES, 1)])
def test_blender_sees_the_joints_tmr_reads_in_what_tmr_exported(blender: dict, which: str, frames: list, stride: int) -> None:
    path = blender["paths"][which]
    result = blender["results"][0 if which == "cut" else 1]
    tmr = load_motion(path).joints  # 20 fps: the cut's frame 6k is tmr's frame k
    seen = _blender_smpl_joints(path, result)
    ours = tmr[[frame // stride for frame in frames]]
    assert np.linalg.norm(seen - ours, axis=-1).max() < 1e-3  # 1 mm


@pytest.mark.parametrize(("fmt", "tolerance"), [("glb", 1e-3), ("fbx", 8e-3)])
def test_what_blender_converts_reads_back_as_the_bvh(blender: dict, fmt: str, tolerance: float) -> None:
    """GLB: within 1 mm (measured 0.46 mm: float32 storage and Blender's per-frame sampling).
    FBX: within 8 mm (measured 5.7 mm, mean 0.8 mm): Blender's FBX exporter simplifies the baked
    curves by default (bake_anim_simplify_factor=1), and tmr interpolates between the keys it kept."""
    reference = load_motion(blender["source"])
    motion = load_motion(blender["paths"][fmt])
    assert motion.source_fps == pytest.approx(reference.source_fps, rel=1e-4)
    assert motion.joints.shape == reference.joints.shape
    assert np.linalg.norm(motion.joints - reference.joints, axis=-1).max() < tolerance
