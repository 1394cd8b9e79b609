"""ASF/AMC and DeepMimic motions: what the readers compute on real clips, how an AMC finds its
skeleton, and every kind of bad file (made here from real ones) giving one line naming it and why."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from formats import JOINT_INDEX, FormatError, TmrError, load_motion, scan_motions, skip_summary
from formats.amc import amc_joint_positions, read_amc
from formats.deepmimic import HUMANOID3D, read_character
from tmrcli.app import app

ACTOR = "hdm05/bd"
ASF = "HDM_bd.asf"
AMC = "HDM_bd_kickLFront1Reps_001_120.amc"
DEEPMIMIC_WALK = "deepmimic/motions/humanoid3d_walk.txt"
CHARACTER = "deepmimic/characters/humanoid3d.txt"


@pytest.fixture
def actor(data_dir: Path, tmp_path: Path) -> Path:
    """A user's folder with HDM05 actor bd's skeleton and one of its motions (copies: tests edit them)."""
    folder = tmp_path / "bd"
    folder.mkdir()
    for name in (ASF, AMC):
        shutil.copy(data_dir / ACTOR / name, folder / name)
    return folder


def _reason(path: Path, blamed: Path | None = None, **options: object) -> str:
    """Why `path` does not load; the error names `blamed` (default: `path` itself)."""
    with pytest.raises(TmrError) as caught:
        load_motion(path, **options)
    blamed = path if blamed is None else blamed
    assert caught.value.path == str(blamed) and str(caught.value).startswith(f"{blamed}: ")
    return caught.value.reason


def test_an_amc_frame_poses_the_asf_bones_from_the_root(actor: Path) -> None:
    """With every angle zero the skeleton stands in its ASF rest pose: each bone starts where its
    parent ends, along the parent's direction times its length (0.45 units an inch)."""
    clip = read_amc(actor / AMC)
    skeleton = clip.skeleton
    rest = type(clip)(clip.path, skeleton, tuple(np.zeros_like(v) for v in clip.values), clip.num_frames)
    points = amc_joint_positions(rest, range(len(skeleton.names)))[0]
    femur, tibia = skeleton.names.index("lfemur"), skeleton.names.index("ltibia")
    np.testing.assert_allclose(points[tibia] - points[femur], 7.34031 / 0.45 * 0.0254 * np.array([0.34202, -0.939693, 0]), atol=1e-6)
    assert skeleton.metres_per_unit == pytest.approx(0.0254 / 0.45)
    moving = amc_joint_positions(clip, range(len(skeleton.names)))
    bone_lengths = np.linalg.norm(moving[:, tibia] - moving[:, femur], axis=-1)
    np.testing.assert_allclose(bone_lengths, 7.34031 / 0.45 * 0.0254, rtol=1e-6)  # rigid through the motion


def test_a_kick_lifts_the_left_foot(actor: Path) -> None:
    """Laterality through the ASF axes and the name map: the left foot rises, the right stays down."""
    joints = load_motion(actor / AMC).joints
    rise = {side: np.ptp(joints[:, JOINT_INDEX[f"{side}_ankle"], 1]) for side in ("left", "right")}
    assert rise["left"] > 0.3 and rise["right"] < 0.1


def test_the_asf_is_found_by_name_else_alone_else_given(actor: Path, tmp_path: Path) -> None:
    reference = load_motion(actor / AMC).joints
    (actor / ASF).rename(actor / "skeleton.asf")  # the only .asf in the folder
    np.testing.assert_array_equal(load_motion(actor / AMC).joints, reference)
    shutil.copy(actor / "skeleton.asf", actor / "other.asf")  # two, neither named for the motion
    assert "no ASF skeleton found: its folder holds 2 .asf files" in _reason(actor / AMC)
    assert "--asf FILE" in _reason(actor / AMC)
    np.testing.assert_array_equal(load_motion(actor / AMC, asf=actor / "other.asf").joints, reference)
    cmu = tmp_path / "cmu"  # CMU's naming: 01.asf for 01_01.amc, beside 010.asf
    cmu.mkdir()
    shutil.copy(actor / AMC, cmu / "01_01.amc")
    shutil.copy(actor / "other.asf", cmu / "01.asf")
    (cmu / "010.asf").write_text("not a skeleton")
    np.testing.assert_array_equal(load_motion(cmu / "01_01.amc").joints, reference)
    assert "no ASF skeleton found: its folder holds no .asf file" in _reason(_alone(actor / AMC, tmp_path))


def _alone(path: Path, tmp_path: Path) -> Path:
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    return Path(shutil.copy(path, lonely / path.name))


def test_the_amc_frame_rate_is_120_unless_given(actor: Path) -> None:
    assert load_motion(actor / AMC).source_fps == 120.0
    at_60 = load_motion(actor / AMC, fps=60.0)
    assert at_60.source_fps == 60.0 and at_60.num_frames == pytest.approx(2 * load_motion(actor / AMC).num_frames, abs=1)


def _amc_lines(actor: Path) -> list[str]:
    return (actor / AMC).read_text(encoding="latin-1").splitlines()


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="latin-1")
    return path


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("truncated", "the file is truncated inside it"),
        ("junk", "binary data, not an AMC text file"),
        ("nan", "frame 3 holds a value that is NaN, infinite"),
        ("not_a_number", "a frame holds a value that is not a number"),
        ("zero_frames", "no frames"),
        ("empty", "the file is empty"),
        ("missing_bone", "frame 5 lists other bones than the first frame"),
        ("unknown_bone", "frame 1 moves bone 'tail', which its skeleton HDM_bd.asf lacks"),
        ("extra_value", "bone 'lfemur' has 4 values in frame 1 but 3 degrees of freedom"),
    ],
)
def test_a_bad_amc_gives_its_reason(actor: Path, damage: str, reason: str) -> None:
    lines = _amc_lines(actor)
    start = lines.index("1")
    frame = lines.index("2") - start  # lines per frame
    path = actor / AMC
    if damage == "truncated":
        _write(path, lines[: start + 7 * frame + 12])
    elif damage == "junk":
        path.write_bytes(bytes(range(256)) * 40)
    elif damage in ("nan", "not_a_number"):
        row = start + 2 * frame + 2
        lines[row] = lines[row].split()[0] + (" nan 0 0" if damage == "nan" else " 1.5 abc 0")
        _write(path, lines)
    elif damage == "zero_frames":
        _write(path, lines[:start])
    elif damage == "empty":
        path.write_text("\n \n")
    elif damage == "missing_bone":
        del lines[start + 4 * frame + 3]
        _write(path, lines)
    elif damage == "unknown_bone":
        lines.insert(start + 1, "tail 0 0 0")
        _write(path, lines)
    elif damage == "extra_value":
        row = next(i for i in range(start, start + frame) if lines[i].startswith("lfemur"))
        lines[row] += " 0"
        _write(path, lines)
    assert reason in _reason(path)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("unknown_bone", "the :hierarchy names bone 'tail', which :bonedata does not define"),
        ("two_parents", "the :hierarchy gives bone 'ltibia' two parents"),
        ("unattached", "the :hierarchy does not connect lfemur, lfoot, lhipjoint, ltibia, ltoes to the root"),
        ("no_hierarchy", "no :bonedata or :hierarchy section"),
        ("no_length", "bone 'ltibia' has no direction or no length"),
        ("bad_axis_order", "the axis order of 'lfemur' is 'XXY'"),
        ("bad_units", ":units length is not a number"),
    ],
)
def test_a_bad_asf_gives_its_reason(actor: Path, damage: str, reason: str) -> None:
    text = (actor / ASF).read_text(encoding="latin-1")
    edits = {
        "unknown_bone": ("lfemur ltibia", "lfemur ltibia tail"),
        "two_parents": ("rfemur rtibia", "rfemur rtibia ltibia"),
        "unattached": ("root lhipjoint rhipjoint lowerback", "root rhipjoint lowerback"),
        "no_hierarchy": (":hierarchy", ":hierarchyx"),
        "no_length": ("length 6.9833", ""),
        "bad_axis_order": ("axis 0 0 20  XYZ", "axis 0 0 20  XXY"),
        "bad_units": ("length 0.45", "length inches"),
    }
    old, new = edits[damage]
    assert old in text
    (actor / ASF).write_text(text.replace(old, new, 1), encoding="latin-1")
    assert reason in _reason(actor / AMC, blamed=actor / ASF)


def test_deepmimic_humanoid3d_is_built_in_and_matches_its_character_file(data_dir: Path) -> None:
    built_in, shared = read_character(), read_character(data_dir / CHARACTER)
    assert built_in.names == shared.names and built_in.parents == shared.parents
    np.testing.assert_array_equal(built_in.offsets, shared.offsets)
    assert built_in.frame_width == 44 and "DeepMimic" in json.loads(HUMANOID3D.read_text())["Source"]
    walk = data_dir / DEEPMIMIC_WALK
    np.testing.assert_array_equal(load_motion(walk).joints, load_motion(walk, character=data_dir / CHARACTER).joints)


def test_a_deepmimic_walk_is_a_person_walking_forward(data_dir: Path) -> None:
    """Metres and Y up as DeepMimic states them: legs of 0.83 m, the walk moves 1.2 m in 1.25 s,
    its first frame stands on the feet (toes from the foot box) with the head above the hips."""
    motion = load_motion(data_dir / DEEPMIMIC_WALK)
    joints = motion.joints
    leg = np.linalg.norm(joints[0, JOINT_INDEX["left_hip"]] - joints[0, JOINT_INDEX["left_knee"]])
    leg += np.linalg.norm(joints[0, JOINT_INDEX["left_knee"]] - joints[0, JOINT_INDEX["left_ankle"]])
    assert leg == pytest.approx(0.421546 + 0.40987, abs=1e-5)
    assert motion.duration == pytest.approx(38 * 0.033332, abs=0.05)  # 39 frames, the last one's dt 0
    pelvis = joints[:, JOINT_INDEX["pelvis"]]
    assert np.linalg.norm((pelvis[-1] - pelvis[0])[[0, 2]]) > 1.0
    assert joints[0, JOINT_INDEX["head"], 1] - joints[0, JOINT_INDEX["pelvis"], 1] > 0.5
    toe = joints[0, JOINT_INDEX["left_foot"]] - joints[0, JOINT_INDEX["left_ankle"]]
    assert 0.12 < np.linalg.norm(toe) < 0.15


def _deepmimic(tmp_path: Path, data_dir: Path, name: str, edit) -> Path:
    data = json.loads((data_dir / DEEPMIMIC_WALK).read_text())
    path = tmp_path / name
    text = edit(data)
    path.write_text(text if isinstance(text, str) else json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("wrong_width", "frame 5 holds 43 values; a motion of the character deepmimic_humanoid3d.json has 44"),
        ("truncated", "the DeepMimic motion is not valid JSON (truncated?)"),
        ("nan", "frame 2 holds a value that is NaN, infinite"),
        ("zero_frames", "the motion has no frames"),
        ("not_a_number", "a frame holds a value that is not a number"),
        ("zero_quaternion", "frame 0 gives the root a zero quaternion"),
        ("no_frames_key", 'not a DeepMimic motion: no "Frames" list'),
        ("zero_durations", "frame durations (the first value of each frame) must be 0 or more and not all 0"),
    ],
)
def test_a_bad_deepmimic_motion_gives_its_reason(data_dir: Path, tmp_path: Path, damage: str, reason: str) -> None:
    def edit(data: dict) -> str | None:
        frames = data["Frames"]
        if damage == "wrong_width":
            frames[5].pop()
        elif damage == "truncated":
            return json.dumps(data)[:5000]
        elif damage == "nan":
            frames[2][9] = float("nan")
        elif damage == "zero_frames":
            data["Frames"] = []
        elif damage == "not_a_number":
            frames[3][10] = "x"
        elif damage == "zero_quaternion":
            frames[0][4:8] = [0, 0, 0, 0]
        elif damage == "no_frames_key":
            data["frames"] = data.pop("Frames")
        elif damage == "zero_durations":
            for frame in frames:
                frame[0] = 0
        return None

    assert reason in _reason(_deepmimic(tmp_path, data_dir, f"{damage}.txt", edit))


def test_a_bad_character_file_is_named(data_dir: Path, tmp_path: Path) -> None:
    character = json.loads((data_dir / CHARACTER).read_text())
    character["Skeleton"]["Joints"][4]["Type"] = "prismatic"
    path = tmp_path / "robot.txt"
    path.write_text(json.dumps(character))
    with pytest.raises(FormatError, match="joint 'right_knee' is prismatic; only spherical, revolute and fixed") as caught:
        load_motion(data_dir / DEEPMIMIC_WALK, character=path)
    assert caught.value.path == str(path)


def test_a_folder_of_mixed_files_converts_its_motions_and_says_what_it_skipped(
    actor: Path, data_dir: Path, tmp_path: Path
) -> None:
    """One bad AMC fails with one line and the run goes on; the skeleton, notes, a JSON that is not a
    motion and feature statistics are counted as skipped, not reported as failures."""
    shutil.copy(data_dir / DEEPMIMIC_WALK, actor / "walk.txt")
    _write(actor / "HDM_bd_cut_120.amc", _amc_lines(actor)[:40])
    (actor / "notes.txt").write_text("recorded on tuesday\n")
    (actor / "settings.json").write_text('{"Frames per second": 120}')
    np.save(actor / "Mean.npy", np.zeros(263, np.float32))
    result = CliRunner().invoke(app, ["convert", str(actor), "-o", str(tmp_path / "out")])
    assert "Traceback" not in result.output and result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {actor / 'HDM_bd_cut_120.amc'}: ")
    assert "converted 2 of 3 files" in result.stderr
    assert "skipped 4 files: " in result.stderr
    for kind in (".asf skeleton 1", ".json 1", ".txt 1", "feature statistics 1"):
        assert kind in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [AMC.replace(".amc", ".npy"), "walk.npy"]


def test_exclude_leaves_files_out_and_an_empty_index_is_refused(actor: Path, tmp_path: Path) -> None:
    scan = scan_motions([actor], exclude=["*kick*"])
    assert scan.files == [] and skip_summary(scan.skipped) == "skipped 2 files: .asf skeleton 1, excluded 1"
    library = tmp_path / "library.h5"
    result = CliRunner().invoke(app, ["index", str(actor), "--exclude", "*kick*", "--store", str(library)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"error: {actor}: nothing to index: no motion files" in result.stderr
    assert "skipped 2 files: .asf skeleton 1, excluded 1" in " ".join(result.stderr.split())
    assert not library.exists()
