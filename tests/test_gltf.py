"""glTF 2.0 / GLB: a real BVH written as a skinned glTF (tests/gltf_files.py) reads back as the same
joints; samplers, key rates, several animations per file, and broken files."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from formats import FormatError, find_motion_files, load_motion
from formats.gltf import read_gltf
from formats.scene_nodes import IRREGULAR_KEYS_FPS, Channel, sample_channel
from gltf_files import write_gltf

WALK = "cmu-mocap/iclone_cc_rig/007_01.bvh"  # 60 fps, the 100-joint Reallusion rig


@pytest.fixture(scope="module")
def walk(data_dir: Path) -> Path:
    return data_dir / WALK


@pytest.mark.parametrize(("name", "interpolation"), [("walk.glb", "LINEAR"), ("walk.gltf", "STEP"), ("walk.glb", "CUBICSPLINE")])
def test_a_gltf_reads_as_the_bvh_it_was_made_from(walk: Path, tmp_path: Path, name: str, interpolation: str) -> None:
    # Keys on every frame: each sampler must return its keys themselves; float32 storage costs ~1 um.
    motion = load_motion(write_gltf(tmp_path / name, walk, interpolation=interpolation))
    reference = load_motion(walk)
    assert motion.source_fps == pytest.approx(reference.source_fps, rel=1e-4)
    assert motion.joints.shape == reference.joints.shape
    assert np.abs(motion.joints - reference.joints).max() < 1e-4  # 0.1 mm


def test_keys_on_every_other_frame_give_half_the_rate(walk: Path, tmp_path: Path) -> None:
    scene = read_gltf(write_gltf(tmp_path / "half.glb", walk, step=2))
    assert scene.fps == pytest.approx(load_motion(walk).source_fps / 2, rel=1e-4)


def test_keys_off_any_grid_are_sampled_at_30_fps(walk: Path, tmp_path: Path) -> None:
    path = write_gltf(tmp_path / "odd.gltf", walk, frames=40)
    document = json.loads(path.read_text())
    times = np.cumsum(np.r_[0.0, np.random.default_rng(0).uniform(0.01, 0.05, 39)])  # irregular keys
    _replace_accessor(document, document["animations"][0]["samplers"][0]["input"], times)
    path.write_text(json.dumps(document))
    scene = read_gltf(path)
    assert scene.fps == IRREGULAR_KEYS_FPS and scene.num_frames == round(times[-1] * 30) + 1


def test_linear_rotations_follow_the_sphere() -> None:
    # A quarter turn about Y between two keys: halfway is an eighth turn (component lerp would not
    # keep a unit quaternion, and its angle drifts elsewhere on the arc).
    half = np.sin(np.pi / 4), np.cos(np.pi / 4)
    channel = Channel(np.array([0.0, 1.0]), np.array([[0, 0, 0, 1.0], [0, half[0], 0, half[1]]]), "LINEAR")
    quarter_way = sample_channel(channel, np.array([0.25]), is_rotation=True)[0]
    np.testing.assert_allclose(quarter_way, [0, np.sin(np.pi / 16), 0, np.cos(np.pi / 16)], atol=1e-12)


def test_cubicspline_follows_its_tangents() -> None:
    # p(t) = t^3 on [0, 1] has value 0 and 1, out-tangent 0 at t=0 and in-tangent 3 at t=1.
    values = np.array([[[0.0], [0.0], [0.0]], [[3.0], [1.0], [0.0]]])
    got = sample_channel(Channel(np.array([0.0, 1.0]), values, "CUBICSPLINE"), np.array([0.5]), is_rotation=False)
    assert got[0, 0] == pytest.approx(0.125)


def test_each_animation_of_a_file_is_a_motion(walk: Path, tmp_path: Path) -> None:
    path = write_gltf(tmp_path / "takes.glb", walk, animations=("Walk", "Walk later"))
    found = find_motion_files([tmp_path])
    assert [p.name for p in found] == ["takes.glb#Walk", "takes.glb#Walk later"]
    first, later = (load_motion(p) for p in found)
    reference = load_motion(walk).joints
    np.testing.assert_allclose(first.joints, reference, atol=1e-4)
    assert not np.allclose(first.joints[: len(later.joints)], later.joints, atol=1e-3)
    assert load_motion(path).joints.shape == first.joints.shape  # the file alone: its first animation
    with pytest.raises(FormatError, match="has no animation 'Run'; it holds 'Walk', 'Walk later'"):
        load_motion(tmp_path / "takes.glb#Run")


def _replace_accessor(document: dict, index: int, values: np.ndarray) -> None:
    """Point accessor `index` at a new data-URI buffer holding `values` (float32)."""
    import base64

    data = np.asarray(values, "<f4").tobytes()
    document["buffers"].append({"byteLength": len(data), "uri": "data:application/octet-stream;base64," + base64.b64encode(data).decode()})
    document["bufferViews"].append({"buffer": len(document["buffers"]) - 1, "byteLength": len(data)})
    document["accessors"][index].update(bufferView=len(document["bufferViews"]) - 1, byteOffset=0, count=len(values))


def _no_skin(path: Path, walk: Path) -> None:
    write_gltf(path, walk, frames=10, skin=False)


def _no_animation(path: Path, walk: Path) -> None:
    write_gltf(path, walk, frames=10)
    document = json.loads(path.read_text())
    del document["animations"]
    path.write_text(json.dumps(document))


def _nan(path: Path, walk: Path) -> None:
    write_gltf(path, walk, frames=10)
    document = json.loads(path.read_text())
    sampler = document["animations"][0]["samplers"][1]  # the root's rotation
    _replace_accessor(document, sampler["output"], np.full((10, 4), np.nan))
    document["accessors"][sampler["output"]]["type"] = "VEC4"
    path.write_text(json.dumps(document))


def _zero_frames(path: Path, walk: Path) -> None:
    write_gltf(path, walk, frames=10)
    document = json.loads(path.read_text())
    for accessor in {s["input"] for s in document["animations"][0]["samplers"]}:
        _replace_accessor(document, accessor, np.zeros(0))
    path.write_text(json.dumps(document))


def _truncated(path: Path, walk: Path) -> None:
    write_gltf(path, walk, frames=10)
    path.write_bytes(path.read_bytes()[:-200])


def _junk(path: Path, walk: Path) -> None:
    path.write_bytes(b"glTF" + struct.pack("<II", 2, 40) + bytes(range(28)))


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("noskin.gltf", _no_skin, "holds no skin"),
        ("still.gltf", _no_animation, "holds no animation"),
        ("nan.gltf", _nan, "NaN or infinite"),
        ("empty.gltf", _zero_frames, "empty"),
        ("cut.glb", _truncated, "truncated"),
        ("junk.glb", _junk, "not a glTF file|truncated|no JSON chunk"),
        ("text.gltf", lambda path, walk: path.write_text("HIERARCHY\nROOT Hips"), "JSON does not parse"),
    ],
)
def test_a_broken_gltf_gives_one_reason(walk: Path, tmp_path: Path, name: str, make, reason: str) -> None:
    path = tmp_path / name
    make(path, walk)
    with pytest.raises(FormatError, match=reason) as error:
        load_motion(path)
    assert str(error.value).startswith(str(path)) and "\n" not in str(error.value)


def test_the_cli_takes_each_animation_and_passes_over_a_broken_file(walk: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tmrcli.app import app

    library = tmp_path / "library"
    library.mkdir()
    write_gltf(library / "takes.glb", walk, animations=("Walk", "Later"), frames=120)
    _no_skin(library / "prop.gltf", walk)
    result = CliRunner().invoke(app, ["convert", str(library), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["takes#Later.npy", "takes#Walk.npy"]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "prop.gltf" in errors[0] and "holds no skin" in errors[0]
    exported = tmp_path / "later.bvh"
    result = CliRunner().invoke(app, ["export", f"{library / 'takes.glb'}#Later", "-o", str(exported)])
    assert result.exit_code == 0, result.output
    assert load_motion(exported).num_frames == load_motion(library / "takes.glb#Later").num_frames
    result = CliRunner().invoke(app, ["export", f"{library / 'gone.glb'}#Later", "-o", str(exported)])
    assert result.exit_code == 2 and "does not exist" in result.output
