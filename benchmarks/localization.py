"""Moment retrieval on long motions of known content: how often `tmr localize` finds the right stretch.

Long motions are made by concatenating held-out clips (the test split: Bandai-Namco dataset-2, take
_006) of different content labels, each turned and moved to continue where the previous one ends,
with a 0.3 s linear cross-fade of the canonical joints. For every clip in a long motion, a held-out
sentence of its label (tests/data/heldout_queries.tsv, never used in training) is localised; a hit is
a top segment whose temporal IoU with the clip's stretch is >= 0.5. `--split val` builds the motions
from validation clips and queries them with the validation phrasings (tests/data/val_queries.tsv), for
tuning that sees neither the test clips nor the test sentences.

`--corpus sources` builds them instead from the clips of every other source (clips.tsv: ACCAD, HDM05,
Berkeley MHAD, AnimatedDrawings, DeepMimic, CMU; clips with a single tag, 2-12 s long, that this
checkout can read), grouped by tag and queried with the tag phrasings (tests/data/test_tag_queries.tsv,
val_tag_queries.tsv for --split val).

Usage: .venv/bin/python benchmarks/localization.py [--checkpoint NAME|PATH] [--motions 20] [--corpus sources]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common import DEFAULT_DATA, REPO  # noqa: E402

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from formats import FEATURE_FPS, JOINT_INDEX, canonicalize_joints, features_from_canonical, load_motion  # noqa: E402

BLEND_SECONDS = 0.3
CLIPS_PER_MOTION = 5
# Sentences never used in training: held-out phrasings for the test split, validation phrasings (for
# tuning) on the val split, so tuning sees neither the test clips nor the test sentences.
QUERIES = {"test": REPO / "tests" / "data" / "heldout_queries.tsv", "val": REPO / "tests" / "data" / "val_queries.tsv"}
TAG_QUERIES = {"test": REPO / "tests" / "data" / "test_tag_queries.tsv", "val": REPO / "tests" / "data" / "val_tag_queries.tsv"}
CORPORA = ("bandai", "sources")


@dataclass(frozen=True)
class LongMotion:
    """Features of a concatenation and, per part, its label and stretch (seconds)."""

    feats: np.ndarray
    duration: float
    labels: list[str]
    spans: list[tuple[float, float]]


@dataclass(frozen=True)
class Outcome:
    label: str
    text: str
    truth: tuple[float, float]
    found: tuple[float, float]
    iou: float


def split_clips(data: Path, split: str = "test") -> dict[str, list[Path]]:
    """Clips of a split (held-out: test; val for tuning) by content label."""
    by_label: dict[str, list[Path]] = {}
    for line in (data / "splits" / f"{split}.txt").read_text().split():
        label = Path(line).stem.split("_")[1]
        by_label.setdefault(label, []).append(data / line)
    return by_label


def source_clips(data: Path, split: str = "test") -> dict[str, list[Path]]:
    """Clips of a split outside Bandai-Namco that carry one tag, by that tag: 2 to 12 s long and
    readable here (a source whose reader is missing is left out)."""
    from formats.errors import TmrError
    from model.clips import read_clips_table

    by_tag: dict[str, list[Path]] = {}
    for row in read_clips_table(data):
        if row.split != split or row.source == "bandai-namco" or len(row.tags) != 1 or row.tags[0] == "other":
            continue
        try:
            motion = load_motion(data / row.path)
        except TmrError:
            continue
        if motion.joints is not None and 2.0 <= motion.duration <= 12.0:
            by_tag.setdefault(row.tags[0], []).append(data / row.path)
    return by_tag


def heldout_queries(split: str = "test", corpus: str = "bandai") -> dict[str, list[str]]:
    """The split's never-trained-on sentences by label (tag for the other sources), read as `tmr eval
    --queries` reads them."""
    from tmrcli.jobs.evaluation import read_queries

    queries: dict[str, list[str]] = {}
    for query in read_queries((QUERIES if corpus == "bandai" else TAG_QUERIES)[split]):
        queries.setdefault(query.label, []).append(query.text)
    return queries


def _heading(frame: np.ndarray) -> float:
    """Facing angle about Y of one (22, 3) frame (0 = +Z), from the hips and shoulders (REFERENCE.md)."""
    j = JOINT_INDEX
    across = (frame[j["right_hip"]] - frame[j["left_hip"]]) + (frame[j["right_shoulder"]] - frame[j["left_shoulder"]])
    forward = np.cross([0.0, 1.0, 0.0], across)
    return float(np.arctan2(forward[0], forward[2]))


def _continue_from(previous: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """`clip` turned about Y and moved so that it starts where and as `previous` ends."""
    turn = _heading(previous[-1]) - _heading(clip[0])
    c, s = np.cos(turn), np.sin(turn)
    rotated = clip.copy()
    rotated[..., 0] = clip[..., 0] * c + clip[..., 2] * s
    rotated[..., 2] = -clip[..., 0] * s + clip[..., 2] * c
    shift = previous[-1, JOINT_INDEX["pelvis"]] - rotated[0, JOINT_INDEX["pelvis"]]
    shift[1] = 0.0
    return rotated + shift


def concatenate(clips: list[np.ndarray], blend: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Joints of the clips one after the other, cross-faded over `blend` frames; each clip's frames
    [start, end), the boundaries in the middle of the cross-fades."""
    joints, spans = clips[0], []
    start = 0
    weights = (np.arange(1, blend + 1) / (blend + 1))[:, None, None]
    for clip in clips[1:]:
        clip = _continue_from(joints, clip)
        mixed = (1 - weights) * joints[-blend:] + weights * clip[:blend]
        boundary = len(joints) - blend // 2
        spans.append((start, boundary))
        start = boundary
        joints = np.concatenate([joints[:-blend], mixed, clip[blend:]])
    spans.append((start, len(joints)))
    return joints, spans


def make_long_motions(
    data: Path, count: int, seed: int = 0, split: str = "test", corpus: str = "bandai"
) -> list[LongMotion]:
    """`count` long motions of CLIPS_PER_MOTION clips of the split, of different labels each."""
    rng = np.random.default_rng(seed)
    by_label = split_clips(data, split) if corpus == "bandai" else source_clips(data, split)
    labels = sorted(set(by_label) & set(heldout_queries(split, corpus)))
    cache: dict[Path, np.ndarray] = {}
    motions = []
    for _ in range(count):
        chosen = list(rng.choice(labels, CLIPS_PER_MOTION, replace=False))
        paths = [by_label[label][rng.integers(len(by_label[label]))] for label in chosen]
        for path in paths:
            if path not in cache:
                cache[path] = canonicalize_joints(load_motion(path).joints)
        joints, spans = concatenate([cache[p] for p in paths], round(BLEND_SECONDS * FEATURE_FPS))
        feats = features_from_canonical(canonicalize_joints(joints))
        seconds = [(a / FEATURE_FPS, min(b, len(feats)) / FEATURE_FPS) for a, b in spans]
        motions.append(LongMotion(feats, len(joints) / FEATURE_FPS, chosen, seconds))
    return motions


def run_experiment(
    checkpoint: str, data: Path, count: int, seed: int = 0, split: str = "test", corpus: str = "bandai"
) -> list[Outcome]:
    """Localise every part of every long motion with one held-out sentence of its label."""
    from model import load_retriever
    from tmrcli.library.localize import embed_windows, localize_query, temporal_iou

    retriever = load_retriever(checkpoint)
    queries = heldout_queries(split, corpus)
    rng = np.random.default_rng(seed + 1)
    outcomes = []
    for motion in make_long_motions(data, count, seed, split, corpus):
        windows = embed_windows(retriever, motion.feats, motion.duration)
        for label, truth in zip(motion.labels, motion.spans):
            text = queries[label][rng.integers(len(queries[label]))]
            best = localize_query(windows, retriever.encode_texts([text])[0], top=1).segments[0]
            found = (best.start, best.end)
            outcomes.append(Outcome(label, text, truth, found, temporal_iou(truth, found)))
    return outcomes


def summarise(outcomes: list[Outcome]) -> dict:
    ious = np.array([o.iou for o in outcomes])
    per_label = {}
    for label in sorted({o.label for o in outcomes}):
        mine = [o.iou for o in outcomes if o.label == label]
        per_label[label] = round(float(np.mean(np.array(mine) >= 0.5)), 2)
    return {
        "queries": len(outcomes),
        "hit_rate_iou_0.5": round(float(np.mean(ious >= 0.5)), 3),
        "hit_rate_iou_0.3": round(float(np.mean(ious >= 0.3)), 3),
        "hit_rate_iou_0.7": round(float(np.mean(ious >= 0.7)), 3),
        "mean_iou": round(float(ious.mean()), 3),
        "per_label_iou_0.5": per_label,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--motions", type=int, default=20)
    parser.add_argument("--split", default="test", choices=["test", "val"], help="val: for tuning, keeping test unseen")
    parser.add_argument("--corpus", default="bandai", choices=CORPORA, help="sources: clips of every other source")
    args = parser.parse_args()
    outcomes = run_experiment(args.checkpoint, args.data, args.motions, split=args.split, corpus=args.corpus)
    print(json.dumps(summarise(outcomes), indent=2))


if __name__ == "__main__":
    main()
