"""Dataset readers (HumanML3D, TMR annotations, captioned corpora) and the shared corpus's captions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import clip_table
from model.corpus import read_caption_table, shared_corpus_entries
from model.data_sources import Layout, detect_layout, load_split
from model.datasets import Caption, DatasetError, MotionRecord, keep_durations, load_features_cached
from model.evaluate import swap_left_right
from tmrcli.jobs.evaluation import read_queries

REPO = Path(__file__).resolve().parents[1]
GOLDEN = "humanml3d-ref/HumanML3D/new_joint_vecs/012314.npy"


@pytest.fixture
def humanml3d(data_dir: Path, tmp_path: Path) -> Path:
    """A HumanML3D-layout folder with the real golden sample, captioned whole and as a segment."""
    root = tmp_path / "HumanML3D"
    (root / "new_joint_vecs").mkdir(parents=True)
    (root / "texts").mkdir()
    shutil.copy(data_dir / GOLDEN, root / "new_joint_vecs" / "012314.npy")
    (root / "texts" / "012314.txt").write_text(
        "a person serves a tennis ball#a/DET person/NOUN#0.0#0.0\n"
        "a person swings an arm#a/DET person/NOUN#2.0#5.5\n"
    )
    (root / "test.txt").write_text("012314\n")
    return root


def test_humanml3d_layout_with_whole_and_segment_captions(humanml3d: Path, data_dir: Path) -> None:
    assert detect_layout(humanml3d) is Layout.humanml3d
    [record] = load_split(humanml3d, "test")
    feats = np.load(data_dir / GOLDEN)
    whole, part = record.captions
    assert whole == Caption("a person serves a tennis ball", 0.0, None)
    np.testing.assert_array_equal(record.segment(whole), feats)
    np.testing.assert_array_equal(record.segment(part), feats[40:110])
    assert record.duration(part) == pytest.approx(3.5)


def test_tmr_annotations_layout(data_dir: Path, tmp_path: Path) -> None:
    motions = tmp_path / "motions"
    (motions / "Eyes_Japan").mkdir(parents=True)
    shutil.copy(data_dir / GOLDEN, motions / "Eyes_Japan" / "tennis.npy")
    annotations = {"012314": {"path": "Eyes_Japan/tennis", "duration": 8.5, "annotations": [
        {"seg_id": "012314_0", "text": "a person serves", "start": 1.0, "end": 4.0}]}}  # fmt: skip
    (tmp_path / "annotations.json").write_text(json.dumps(annotations))
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "test.txt").write_text("012314\nunknown_id\n")
    assert detect_layout(tmp_path) is Layout.tmr
    with pytest.raises(DatasetError, match="--motions"):
        load_split(tmp_path, "test")
    [record] = load_split(tmp_path, "test", motions=motions)
    assert len(record.segment(record.captions[0])) == 60


def test_keep_durations_follows_the_reference_2_to_10_seconds() -> None:
    feats = np.zeros((300, 263), dtype=np.float32)  # 15 s
    record = MotionRecord("a", feats, (Caption("short", 0.0, 1.5), Caption("ok", 1.0, 6.0), Caption("long", 0.0, 12.0)))
    whole = MotionRecord("b", feats, (Caption("the whole take"),))
    kept = keep_durations([record, whole, MotionRecord("c", feats[:20], (Caption("tiny"),))], 2.0, 10.0)
    assert [r.key for r in kept] == ["a", "b"]
    assert [c.text for c in kept[0].captions] == ["ok"]
    assert kept[1].captions == whole.captions  # cropped to 10 s at random when trained on


def test_features_are_converted_once_and_cached(data_dir: Path, tmp_path: Path) -> None:
    clip = data_dir / "bandai-namco/dataset-2/data/dataset-2_walk_normal_001.bvh"
    first = load_features_cached(clip, tmp_path)
    assert first.shape[1] == 263 and len(list(tmp_path.glob("*.npy"))) == 1
    np.testing.assert_array_equal(load_features_cached(clip, tmp_path), first)


def test_a_folder_with_no_known_layout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a dataset folder"):
        detect_layout(tmp_path)


def test_every_shared_clip_has_a_label_and_captions(data_dir: Path) -> None:
    """The captioned corpus is every clip of the sources it captions, as clips.tsv lists them; the
    clips of the split lists (the first 639) have two captions or more, and clips.tsv keeps their split.
    (The 23 CMU Daz clips added since carry only CMU's description.)"""
    entries = {e.path: e for e in shared_corpus_entries(data_dir)}
    clips = {row["path"]: row for row in clip_table()}
    captioned = {path for path, row in clips.items() if row["source"] in ("bandai-namco", "cmu")}
    assert set(entries) == captioned and len(entries) == len(shared_corpus_entries(data_dir))
    assert all(e.label and e.texts for e in entries.values())
    for split in ("train", "val", "test"):
        listed = (data_dir / "splits" / f"{split}.txt").read_text().split()
        assert listed and set(listed) <= set(entries) and all(clips[path]["split"] == split for path in listed)
        assert all(len(entries[path].texts) >= 2 for path in listed)
    wave = entries["bandai-namco/dataset-2/data/dataset-2_wave-left-hand_elderly_001.bvh"]
    assert wave.label == "wave-left-hand"
    assert "a person waves with the left hand" in wave.texts
    assert "a person waves with the left hand like an old person" in wave.texts


def test_sided_captions_mirror_onto_the_other_side() -> None:
    """Training mirrors a motion with its caption: every sided sentence has its mirror image."""
    contents = read_caption_table()["content"]
    for label, texts in contents.items():
        mirrored = swap_left_right(label)
        if mirrored != label and mirrored in contents:
            assert {swap_left_right(t) for t in texts} == set(contents[mirrored]), label


@pytest.mark.parametrize("name, split", [("heldout_queries.tsv", "test"), ("val_queries.tsv", "val")])
def test_query_phrasings_appear_nowhere_in_the_training_captions(data_dir: Path, name: str, split: str) -> None:
    """Held-out phrasings (scored on test) and model-selection phrasings (on val) are new sentences,
    distinct from each other."""
    queries = read_queries(REPO / "tests" / "data" / name)
    assert len(queries) >= (30 if split == "test" else 20)
    training = {t.lower() for e in shared_corpus_entries(data_dir) for t in e.texts}
    training |= {swap_left_right(t) for t in training}
    other_file = "val_queries.tsv" if split == "test" else "heldout_queries.tsv"
    other = {q.text.lower() for q in read_queries(REPO / "tests" / "data" / other_file)}
    labels = {Path(line).stem.split("_")[1] for line in (data_dir / f"splits/{split}.txt").read_text().split()}
    for query in queries:
        assert query.text.lower() not in training | other, query
        assert query.label in labels
    assert {q.label for q in queries} == labels
