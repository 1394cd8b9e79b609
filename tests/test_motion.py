"""`load_motion` on the whole shared BVH corpus, and what canonical real clips must look like."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from conftest import DATA, clip_table, corpus_cases, corpus_present
from formats import (
    JOINT_INDEX,
    Motion,
    canonicalize_joints,
    extract_features,
    find_motion_files,
    load_motion,
    mirror_joints,
)
from formats.resample import resample, resampled_length



def _labels(folder: str) -> dict[str, dict[str, str]]:
    """The labels.tsv rows a corpus folder ships (frames, fps, seconds per BVH), keyed by path; none
    without the corpus."""
    if not corpus_present():
        return {}
    with open(DATA / folder / "labels.tsv", newline="") as file:
        return {f"{folder}/{row['file']}": row for row in csv.DictReader(file, delimiter="\t")}


FEET = [JOINT_INDEX[name] for name in ("left_ankle", "right_ankle", "left_foot", "right_foot")]
LABELS = {**_labels("bandai-namco"), **_labels("cmu-mocap")}
# A walk per rig: Bandai-Namco, cgspeed CMU ("Start Walk Stop"), Reallusion CC.
WALKS = [
    "bandai-namco/dataset-2/data/dataset-2_walk_normal_001.bvh",
    "cmu-mocap/cgspeed_subject131/131_01.bvh",
    "cmu-mocap/iclone_cc_rig/002_01.bvh",
]
# A clip per rig that starts with the actor standing upright.
STANDING = [
    "bandai-namco/dataset-2/data/dataset-2_wave-right-hand_normal_001.bvh",
    "cmu-mocap/cgspeed_subject131/131_01.bvh",
    "cmu-mocap/iclone_cc_rig/002_10.bvh",
]
STYLES = ("active", "elderly", "exhausted", "feminine", "masculine", "normal", "youthful")


def test_the_clip_table_covers_every_motion_file_in_the_corpus(data_dir: Path) -> None:
    """clips.tsv lists every motion file of the corpus once (the .npy under humanml3d-ref are feature
    samples, not clips; .fbx counted whether or not this build reads it), the BVH labels among them."""
    listed = [row["path"] for row in clip_table()]
    found = {str(path.relative_to(data_dir)) for path in find_motion_files([data_dir]) if path.suffix != ".npy"}
    found |= {str(path.relative_to(data_dir)) for path in data_dir.rglob("*.fbx")}
    assert found == set(listed) and len(listed) == len(set(listed))
    assert set(LABELS) <= found


@pytest.mark.parametrize("name", corpus_cases(sorted(LABELS)))
def test_every_corpus_bvh_loads_and_gives_features(data_dir: Path, name: str) -> None:
    label = LABELS[name]
    motion = load_motion(data_dir / name)
    assert motion.feats is None and motion.joints.dtype == np.float32
    assert motion.source_fps == pytest.approx(float(label["fps"]), rel=1e-3)
    assert motion.num_frames == resampled_length(int(label["frames"]), motion.source_fps, 20.0)
    assert motion.duration == pytest.approx(float(label["seconds"]), abs=0.05)  # kept through resampling
    feats = extract_features(motion.joints)
    assert feats.shape == (motion.num_frames - 1, 263) and np.isfinite(feats).all()


@pytest.mark.parametrize("name", WALKS)
def test_a_walk_moves_forward_with_its_feet_on_the_floor(data_dir: Path, name: str) -> None:
    canonical = canonicalize_joints(load_motion(data_dir / name).joints)
    travel = canonical[-1, JOINT_INDEX["pelvis"]] - canonical[0, JOINT_INDEX["pelvis"]]
    assert travel[2] > 2.0 and abs(travel[0]) < 0.3 * travel[2]  # metres, toward +Z
    lowest_foot = canonical[:, FEET, 1].min(axis=1)
    assert lowest_foot.min() == pytest.approx(0.0, abs=1e-6)
    assert np.mean(lowest_foot < 0.08) > 0.9  # walking keeps a foot on the ground


@pytest.mark.parametrize("name", STANDING)
def test_a_standing_actor_is_human_sized(data_dir: Path, name: str) -> None:
    canonical = canonicalize_joints(load_motion(data_dir / name).joints)
    head_height = canonical[0, JOINT_INDEX["head"], 1] - canonical[0, FEET, 1].min()
    assert 1.5 <= head_height <= 1.9


def _time_normalised(joints: np.ndarray, num_frames: int = 64) -> np.ndarray:
    canonical = canonicalize_joints(joints)
    return resample(canonical, len(canonical), num_frames)


@pytest.mark.parametrize("style", STYLES)
def test_a_mirrored_left_hand_wave_resembles_the_right_hand_wave(data_dir: Path, style: str) -> None:
    """Laterality survives the whole chain (skeleton map, axes, canonicalisation): mirroring a
    left-hand wave must bring it closer to the same actor's right-hand wave."""
    folder = data_dir / "bandai-namco/dataset-2/data"
    left = load_motion(folder / f"dataset-2_wave-left-hand_{style}_001.bvh").joints
    right = _time_normalised(load_motion(folder / f"dataset-2_wave-right-hand_{style}_001.bvh").joints)

    def distance(joints: np.ndarray) -> float:  # mean joint distance in metres over normalised time
        return float(np.linalg.norm(_time_normalised(joints) - right, axis=-1).mean())

    assert distance(mirror_joints(left)) < distance(left)


def test_find_motion_files_recurses_sorts_and_skips_hidden(tmp_path: Path) -> None:
    for name in ("b/walk.BVH", "a/run.npz", "a/deep/jump.npy", "a/notes.txt", ".hidden/x.bvh", "a/._junk.bvh"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    given = tmp_path / "given.txt"
    given.write_bytes(b"")
    found = find_motion_files([tmp_path / "b", tmp_path, given])
    expected = ["a/deep/jump.npy", "a/run.npz", "b/walk.BVH", "given.txt"]
    assert found == sorted(tmp_path / name for name in expected)


def test_motion_reports_frames_and_duration() -> None:
    motion = Motion(Path("x.npy"), 30.0, np.zeros((41, 22, 3), np.float32), None)
    assert (motion.num_frames, motion.duration) == (41, 2.05)
    assert Motion(Path("f.npy"), 20.0, None, np.zeros((10, 263), np.float32)).num_frames == 10
