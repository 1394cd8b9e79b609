"""Every clip clips.tsv lists converts, per source, into what a user of the library relies on: a body of
a person's size with its feet on the floor, the clip's own duration, walks that go forward.

The corpus is converted once per session, on every core (tests/corpus_helpers.py); each test checks
one source and names every clip that fails it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import clip_table, corpus_cases
from corpus_helpers import ClipFigures, corpus_figures, deepmimic_seconds, label_rows

CLIPS = {row["path"]: row for row in clip_table()}
SOURCES = sorted({row["source"] for row in CLIPS.values()})
# Head joint height (metres above the lowest foot, on the most upright frame): it sits 0.1-0.35 m below
# the crown in the rigs here (Bandai-Namco's lowest), so adults of 1.5-1.9 m stature put it at 1.15-1.9 m.
ADULT_HEAD = (1.15, 1.9)
CHILD_HEAD = (0.6, 1.15)  # AnimatedDrawings' 5- and 8-year-olds: shorter than any adult
CHILDREN = ("5yr_old", "8yr_old")
# Clips whose actor is never upright (or seated throughout: a motorcycle rider), so their head height
# says nothing about stature; and clips where hands, back or knees rest lower than the feet.
NEVER_UPRIGHT = {"crawl"}
SEATED = {"animated-drawings/cmu_new2/motorcycle.bvh"}
OFF_THE_FEET = {"crawl", "lie-down", "get-up", "roll", "cartwheel", "flip", "sit-down", "stand-up"}
NOT_ON_FLAT_FLOOR = {
    "cmu-mocap/iclone_cc_rig/003_01.bvh": "walks on uneven terrain",
    "accad/Female1/Female1_D4_RandomStuff.bvh": "kneels and sits, a hand lower than the feet",
    "cmu-mocap/daz_cgspeed/94_04_indian.bvh": "a stamping foot dips 15-19 cm below the floor the dance stands on",
    "cmu-mocap/daz_cgspeed/94_07_indian.bvh": "a stamping ankle dips 14 cm below the floor the dance stands on",
    "animated-drawings/rokoko/jesse_dance.bvh": "an inertial suit's root drifts: both feet float 10-47 cm up for 9 s",
}
# Seconds: a duration kept through resampling to 20 fps is off by at most half a frame, plus rounding.
DURATION_TOLERANCE = 0.05 + 0.5 / 20


@pytest.fixture(scope="module")
def corpus(data_dir: Path) -> dict[str, ClipFigures]:
    return corpus_figures(data_dir, tuple(CLIPS))


def _clips(corpus: dict[str, ClipFigures], source: str) -> dict[str, ClipFigures]:
    """The clips of `source` that converted (the conversion test reports the others)."""
    return {path: figures for path, figures in corpus.items() if CLIPS[path]["source"] == source and not figures.error}


def _tags(path: str) -> set[str]:
    return set(CLIPS[path]["tags"].split(","))


@pytest.mark.parametrize("source", corpus_cases(SOURCES))
def test_every_listed_clip_converts(corpus: dict[str, ClipFigures], source: str) -> None:
    listed = [path for path in CLIPS if CLIPS[path]["source"] == source]
    failed = {path: corpus[path].error for path in listed if corpus[path].error}
    assert not failed, f"{len(failed)} of {len(listed)} {source} clips fail: {failed}"
    bad = [path for path in listed if not corpus[path].has_finite_features]
    assert not bad, f"features of the wrong shape or not finite: {bad}"


@pytest.mark.parametrize("source", corpus_cases(SOURCES))
def test_durations_are_kept(corpus: dict[str, ClipFigures], data_dir: Path, source: str) -> None:
    """As the source's labels.tsv states them (AMC: its frames at 120 fps), or for DeepMimic, whose
    labels state none for most clips, the sum of the frames' dt."""
    labels = label_rows(data_dir)
    wrong = {}
    for path, figures in _clips(corpus, source).items():
        label = labels.get(path, {})
        if CLIPS[path]["format"] == "deepmimic":
            expected = deepmimic_seconds(data_dir / path)
        elif CLIPS[path]["format"] == "asf/amc":
            assert figures.source_fps == 120.0, path
            expected = int(label["frames"]) / 120.0
        elif label.get("seconds"):
            expected = float(label["seconds"])
        else:
            continue  # FBX: its labels state no duration; the FBX tests compare with the same CMU trial in BVH
        if abs(figures.duration - expected) > DURATION_TOLERANCE:
            wrong[path] = (round(figures.duration, 3), expected)
    assert not wrong, f"durations (converted, expected) off: {wrong}"


@pytest.mark.parametrize("source", corpus_cases(SOURCES))
def test_standing_people_are_human_sized(corpus: dict[str, ClipFigures], source: str) -> None:
    wrong = {}
    for path, figures in _clips(corpus, source).items():
        if _tags(path) & NEVER_UPRIGHT or path in SEATED:
            continue
        low, high = CHILD_HEAD if CLIPS[path]["subject"] in CHILDREN else ADULT_HEAD
        if not low <= figures.head_height <= high:
            wrong[path] = round(figures.head_height, 2)
    assert not wrong, f"head heights outside {ADULT_HEAD} m for adults, {CHILD_HEAD} m for children: {wrong}"


@pytest.mark.parametrize("source", corpus_cases(SOURCES))
def test_feet_are_on_the_floor(corpus: dict[str, ClipFigures], source: str) -> None:
    """The feet touch the floor (the clip's lowest point) and stand on it for much of the clip,
    except in clips where the actor lies, crawls, rolls or sits."""
    wrong = {}
    for path, figures in _clips(corpus, source).items():
        if _tags(path) & OFF_THE_FEET or path in NOT_ON_FLAT_FLOOR:
            continue
        if figures.lowest_foot > 0.05 or figures.on_floor < 0.1:
            wrong[path] = (round(figures.lowest_foot, 3), round(figures.on_floor, 2))
    assert not wrong, f"(lowest foot m, share of frames on the floor) off: {wrong}"


@pytest.mark.parametrize("source", corpus_cases(SOURCES))
def test_walks_move_forward(corpus: dict[str, ClipFigures], source: str) -> None:
    """Nine walks in ten travel for a second or more, mostly toward where the body faces (walks in
    place, which some sources hold, travel less)."""
    walks = {
        path: figures
        for path, figures in _clips(corpus, source).items()
        if "walk" in _tags(path) and not _tags(path) & {"walk-backwards", "side-step", "sneak"}
    }
    if not walks:
        pytest.skip(f"{source} has no forward walks")
    forward = [path for path, figures in walks.items() if figures.moving_seconds >= 1.0 and figures.forward_share >= 0.7]
    others = {path: (walks[path].moving_seconds, round(walks[path].forward_share, 2)) for path in set(walks) - set(forward)}
    assert len(forward) >= 0.9 * len(walks), f"walks not going forward (seconds moving, share forward): {others}"
