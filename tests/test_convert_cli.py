"""`tmr convert` through the real Typer app: outputs, exit codes, JSON, one line per failed file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from formats import extract_features, features_to_joints, load_motion
from formats.rigs import builtin_rigs
from tmrcli.app import app

CGSPEED = "cmu-mocap/cgspeed_subject131"
BANDAI_CLIP = "bandai-namco/dataset-2/data/dataset-2_run_normal_001.bvh"
CC_CLIP = "cmu-mocap/iclone_cc_rig/002_02.bvh"
GOLDEN_FEATS = "humanml3d-ref/HumanML3D/new_joint_vecs/012314.npy"
BAD = Path(__file__).parent / "data" / "bad"


def _run(*args: object):
    result = CliRunner().invoke(app, ["convert", *map(str, args)])
    assert "Traceback" not in result.output
    return result


def _error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


@pytest.fixture
def library(data_dir: Path, tmp_path: Path) -> Path:
    """A user's folder of real clips in subfolders (links to the shared corpus, nothing copied)."""
    root = tmp_path / "library"
    for relative, source in (("walks/cc/002_02.bvh", CC_CLIP), ("runs/run.bvh", BANDAI_CLIP), ("top.bvh", BANDAI_CLIP)):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).symlink_to(data_dir / source)
    return root


def test_a_folder_converts_into_the_same_layout(library: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _run(library, "-o", out, "--joints")
    assert result.exit_code == 0, result.output
    written = sorted(str(path.relative_to(out)) for path in out.rglob("*"))
    assert written == [
        "runs", "runs/run.joints.npy", "runs/run.npy", "top.joints.npy", "top.npy",
        "walks", "walks/cc", "walks/cc/002_02.joints.npy", "walks/cc/002_02.npy",
    ]  # fmt: skip
    for stem in ("runs/run", "walks/cc/002_02", "top"):
        joints = load_motion(library / f"{stem}.bvh").joints
        feats, canonical = np.load(out / f"{stem}.npy"), np.load(out / f"{stem}.joints.npy")
        assert feats.dtype == canonical.dtype == np.float32
        assert canonical.shape == (len(joints), 22, 3) and feats.shape == (len(joints) - 1, 263)
        np.testing.assert_array_equal(feats, extract_features(joints))
    assert "converted 3 of 3 files" in result.stderr and not _error_lines(result)


def test_results_inside_the_input_folder_are_not_read_again(library: Path) -> None:
    for _ in range(2):
        result = _run(library, "-o", library / "features")
        assert result.exit_code == 0 and "converted 3 of 3 files" in result.stderr
    assert not (library / "features" / "features").exists()


def test_json_lists_every_converted_file_and_nothing_else(data_dir: Path, tmp_path: Path) -> None:
    result = _run(data_dir / CGSPEED, data_dir / CC_CLIP, "-o", tmp_path / "out", "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["failed"] == []
    names = [Path(item["input"]).name for item in report["converted"]]
    assert names == ["131_01.bvh", "131_02.bvh", "131_03.bvh", "002_02.bvh"]
    first = report["converted"][0]
    assert first["output"] == str(tmp_path / "out" / "131_01.npy") and first["joints_output"] is None
    assert (first["frames"], first["seconds"], first["source_fps"]) == (165, round(994 / 120, 3), 120.0)  # 994 frames at 120 fps


def test_bad_files_fail_one_line_each_and_the_good_are_written(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _run(BAD, data_dir / CC_CLIP, "-o", out, "--json")
    assert result.exit_code == 1
    bad_files = sorted(BAD.iterdir())
    report = json.loads(result.stdout)
    assert [item["input"] for item in report["failed"]] == [str(path) for path in bad_files]
    assert [Path(item["input"]).name for item in report["converted"]] == ["002_02.bvh"]
    assert (out / "002_02.npy").is_file()
    lines = _error_lines(result)
    assert len(lines) == len(bad_files)
    for line, failure in zip(lines, report["failed"]):
        assert line == f"error: {failure['input']}: {failure['reason']}"
    assert not any(out.rglob("*.tmp")) and not (out / "nan_value.npy").exists()


def test_worker_processes_change_nothing_but_speed(data_dir: Path, tmp_path: Path) -> None:
    inputs = [BAD, data_dir / CGSPEED, data_dir / CC_CLIP]
    reports = {}
    for workers in (1, 2):
        result = _run(*inputs, "-o", tmp_path / f"out{workers}", "--jobs", workers, "--json")
        assert result.exit_code == 1
        reports[workers] = json.loads(result.stdout.replace(str(tmp_path / f"out{workers}"), "OUT"))
    assert reports[1] == reports[2] and len(reports[1]["converted"]) == 4
    for name in ("131_01.npy", "131_02.npy", "131_03.npy", "002_02.npy"):
        np.testing.assert_array_equal(np.load(tmp_path / "out1" / name), np.load(tmp_path / "out2" / name))


def test_an_output_that_cannot_be_written_fails_that_file(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "131_01.npy").mkdir(parents=True)  # a folder where the file should go
    result = _run(data_dir / CGSPEED, "-o", out)
    assert result.exit_code == 1
    source = data_dir / CGSPEED / "131_01.bvh"
    assert _error_lines(result) == [f"error: {source}: {out / '131_01.npy'}: cannot write the file: Is a directory"]
    assert (out / "131_02.npy").is_file() and (out / "131_03.npy").is_file()


def test_a_failed_conversion_leaves_the_previous_output_intact(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "nan_value.npy").write_bytes(b"previous result")
    result = _run(BAD / "nan_value.bvh", "-o", out)
    assert result.exit_code == 1
    reason = "frame 1 holds a value that is NaN, infinite or beyond ±1e+09"
    assert _error_lines(result) == [f"error: {BAD / 'nan_value.bvh'}: {reason}"]
    assert (out / "nan_value.npy").read_bytes() == b"previous result"


def test_features_pass_through_untouched(data_dir: Path, tmp_path: Path) -> None:
    result = _run(data_dir / GOLDEN_FEATS, "-o", tmp_path / "out", "--joints")
    assert result.exit_code == 0
    feats = np.load(data_dir / GOLDEN_FEATS)
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "012314.npy"), feats)
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "012314.joints.npy"), features_to_joints(feats))


def test_two_inputs_claiming_one_output_do_not_overwrite(data_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "131_01.bvh").symlink_to(data_dir / BANDAI_CLIP)
    result = _run(data_dir / CGSPEED / "131_01.bvh", tmp_path / "a" / "131_01.bvh", "-o", tmp_path / "out")
    assert result.exit_code == 1
    first, second = data_dir / CGSPEED / "131_01.bvh", tmp_path / "a" / "131_01.bvh"
    assert _error_lines(result) == [f"error: {second}: its output would overwrite the output of {first}"]
    assert np.load(tmp_path / "out" / "131_01.npy").shape == (165, 263)  # the first one's


def test_a_skeleton_map_and_fps_reach_the_reader(data_dir: Path, tmp_path: Path) -> None:
    source = (data_dir / BANDAI_CLIP).read_text().replace("JOINT Toes_L", "JOINT Tip_L")
    (tmp_path / "odd.bvh").write_text(source.replace("JOINT Toes_R", "JOINT Tip_R"))
    names = {"Toes_L": "Tip_L", "Toes_R": "Tip_R"}
    bandai = next(rig for rig in builtin_rigs() if rig.name == "bandai_namco")
    # The rig maps by its shape alone; a map that also puts spine2 on the chest is one no default makes.
    skeleton_map = {k: names.get(v, v) for k, v in bandai.joints.items()} | {"spine2": "Chest"}
    (tmp_path / "map.json").write_text(json.dumps(skeleton_map))
    np.save(tmp_path / "bare.npy", load_motion(data_dir / BANDAI_CLIP).joints)
    options = ["--skeleton-map", tmp_path / "map.json", "--fps", 40, "--json"]
    result = _run(tmp_path / "odd.bvh", tmp_path / "bare.npy", "-o", tmp_path / "out", *options)
    assert result.exit_code == 0, result.output
    converted = {Path(item["input"]).name: item for item in json.loads(result.stdout)["converted"]}
    assert converted["bare.npy"]["source_fps"] == 40.0 and converted["odd.bvh"]["source_fps"] == 30.0
    expected = extract_features(load_motion(tmp_path / "odd.bvh", skeleton_map=skeleton_map).joints)
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "odd.npy"), expected)
    assert not np.allclose(expected, extract_features(load_motion(tmp_path / "odd.bvh").joints))


def test_an_amass_file_needs_the_body_model(tmp_path: Path) -> None:
    amass = BAD / "amass_without_body_model.npz"
    result = _run(amass, "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert _error_lines(result)[0].startswith(f"error: {amass}: this is an AMASS file")
    (tmp_path / "models").mkdir()
    result = _run(amass, "-o", tmp_path / "out", "--body-model", tmp_path / "models")
    assert result.exit_code == 1
    reason = f"{tmp_path / 'models'}: no SMPL-family body model here; looked for neutral/model.npz"
    assert _error_lines(result) == [f"error: {amass}: {reason}, SMPLH_NEUTRAL.npz, SMPLX_NEUTRAL.npz, SMPL_NEUTRAL.npz"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing_input.bvh", "-o", "{out}"], "does not exist"),
        (["README.md", "-o", "{out}"], "is not a motion file (.bvh, .amc"),
        (["{empty}", "-o", "{out}"], "no motion files found (.bvh, .amc"),
        (["{good}", "-o", "{out}", "--fps", "0"], "must be a positive number"),
        (["{good}", "-o", "{out}", "--skeleton-map", "{badmap}"], "'belly' is not an SMPL joint"),
        (["{good}", "-o", "{good}"], "exists and is not a folder"),
        (["{good}"], "Missing option"),
        (["{good}", "-o", "{out}", "--jobs", "0"], "0 is not in the range x>=1"),
    ],
)
def test_usage_errors_exit_2(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(Path(__file__).parents[1])
    (tmp_path / "empty").mkdir()
    (tmp_path / "map.toml").write_text('belly = "Spine"\n')
    names = {"out": tmp_path / "out", "empty": tmp_path / "empty", "good": data_dir / CC_CLIP}
    names["badmap"] = tmp_path / "map.toml"
    result = _run(*(arg.format(**names) for arg in args))
    assert result.exit_code == 2
    assert message in " ".join(result.output.replace("│", " ").split())
    assert not (tmp_path / "out").exists()
