"""The corpus as clips.tsv lists it: every clip of every source, with its split, tags and captions,
and query phrasings for validation and test that no training caption repeats."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.clips import accad_parts, clip_entries, read_clips_table
from model.data_sources import Layout, detect_layout
from model.evaluate import swap_left_right
from tmrcli.jobs.evaluation import read_queries

REPO = Path(__file__).resolve().parents[1]
QUERY_FILES = ("val_tag_queries.tsv", "test_tag_queries.tsv", "val_queries.tsv", "heldout_queries.tsv")


@pytest.fixture(scope="module")
def entries(data_dir: Path) -> dict:
    return {entry.path: entry for entry in clip_entries(data_dir)}


def test_every_clip_of_every_source_has_tags_and_captions(data_dir: Path, entries: dict) -> None:
    rows = read_clips_table(data_dir)
    assert detect_layout(data_dir) is Layout.clips
    assert set(entries) == {r.path for r in rows} and len(rows) >= 1433
    assert {r.source for r in rows} >= {"bandai-namco", "cmu", "accad", "hdm05", "berkeley-mhad", "deepmimic"}
    assert {r.split for r in rows} == {"train", "val", "test"}
    assert all(e.tags and e.texts for e in entries.values())
    # Bandai-Namco keeps its content x style sentences and its content label.
    wave = entries["bandai-namco/dataset-2/data/dataset-2_wave-left-hand_elderly_001.bvh"]
    assert wave.label == "wave-left-hand" and wave.tags == ("wave",)


def test_transitions_karate_and_children_are_said_in_words(entries: dict) -> None:
    assert accad_parts("S2_RunToPickUpBox") == ["Run", "PickUpBox"]
    assert accad_parts("Run2Hop2Walk") == ["Run", "Hop", "Walk"]
    crouch = entries["accad/Male2/Male2_B24_WalkToCrouch.bvh"]
    assert "a person walks, then crouches down" in {c.text for c in crouch.texts}
    karate = entries["animated-drawings/cmu_new2/mawashigeri.bvh"]
    assert any("roundhouse kick" in c.text for c in karate.texts)
    child = entries["animated-drawings/5yr_old/catch.bvh"]
    assert any(c.text.startswith("a child") for c in child.texts)


def test_human_captions_of_cmu_trials_we_hold_come_with_their_span(data_dir: Path, entries: dict) -> None:
    """HumanML3D's captions name a stretch of a CMU trial; those of trials we hold are kept with it."""
    spans = [c for e in entries.values() if e.path.startswith("cmu-mocap/") for c in e.texts if c.end is not None]
    assert spans, "no HumanML3D caption attached to a CMU clip"
    assert all(0 <= c.start < c.end for c in spans)
    walk = entries["cmu-mocap/iclone_cc_rig/007_03.bvh"]
    assert "A person walks forward." in {c.text for c in walk.texts}  # KIT-ML


@pytest.mark.parametrize("name", QUERY_FILES[:2])
def test_tag_phrasings_are_many_and_new(entries: dict, name: str) -> None:
    """80+ phrasings over 35+ tags for each of val and test, none a training caption (or its mirror),
    and no phrasing in two files."""
    queries = read_queries(REPO / "tests" / "data" / name)
    assert len(queries) >= 80 and len({q.label for q in queries}) >= 35
    known_tags = {t for e in entries.values() for t in e.tags}
    assert {q.label for q in queries} <= known_tags
    training = {c.text.lower() for e in entries.values() for c in e.texts}
    training |= {swap_left_right(t) for t in training}
    others = {q.text.lower() for other in QUERY_FILES if other != name for q in read_queries(REPO / "tests" / "data" / other)}
    texts = [q.text.lower() for q in queries]
    assert len(set(texts)) == len(texts)
    for text in texts:
        assert text not in training and text not in others, text


def test_every_clip_carries_its_tags_wordings(data_dir: Path, entries: dict) -> None:
    """A tag's many wordings reach its clips of every source, labelled or not (here every kick), and stay
    out of the caption bank that confidences are measured against."""
    from model.bank import default_text_bank
    from model.corpus import read_caption_table

    table = read_caption_table()
    wordings = {*table["tag"]["kick"], *table["paraphrase"]["kick"]}
    assert len(table["paraphrase"]["kick"]) >= 5
    kicks = [r for r in read_clips_table(data_dir) if "kick" in r.tags]
    assert len({r.source for r in kicks}) >= 4
    for row in kicks:
        texts = {c.text for c in entries[row.path].texts}
        if row.subject not in {"5yr_old", "8yr_old"}:  # children's are said of a child
            assert wordings <= texts, row.path
    elsewhere = {t for kind, labels in table.items() if kind != "paraphrase" for texts in labels.values() for t in texts}
    only_paraphrases = {t for texts in table["paraphrase"].values() for t in texts} - elsewhere
    assert only_paraphrases and not only_paraphrases & set(default_text_bank())
