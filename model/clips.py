"""The shared corpus as `clips.tsv` lists it: every source, its split and its tags, with captions.

`clips.tsv` (columns path, source, format, subject, label, tags, split) names every clip of the
shared data folder. Captions come from four places, all kept as data:
- Bandai-Namco and the iClone/cgspeed CMU clips: `model/corpus.py` (content x style sentences, CMU's
  description, KIT-ML sentences);
- sentences we wrote for each source label (`assets/captions.tsv`, kind `label`, key `source:label`)
  and, for ACCAD's names such as "WalkToCrouch", for each of the parts of a transition (kind `part`),
  composed into "a person walks, then crouches down"; children's captures are said as such;
- sentences we wrote for each canonical tag (kinds `tag` and `paraphrase`), for every clip that carries it;
- the human KIT-ML and HumanML3D captions of the CMU trials we hold (HumanML3D's with their span).
"""

from __future__ import annotations

import csv
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from model.corpus import read_caption_table, shared_corpus_entries
from model.datasets import Caption, CorpusEntry, DatasetError

__all__ = ["CLIPS_TABLE", "checkout_corpus_root", "ClipRow", "has_clips_table", "read_clips_table", "clip_entries", "split_paths"]

CLIPS_TABLE = "clips.tsv"
_HUMANML3D_CAPTIONS = Path("humanml3d-ref") / "captions" / "humanml3d_val_captions.tsv"
_KIT_TRIALS = Path("kit-ml") / "kitml_cmu_trials.tsv"
_CHILD_SUBJECTS = {"5yr_old", "8yr_old"}
_SUBJECT = re.compile(r"^(a person|someone|a man|a woman|the person|a human|somebody)\b", re.IGNORECASE)
_CHILD_NOUNS = ("a child", "a young kid", "a little child")


def checkout_corpus_root() -> Path:
    """Where a source checkout's tests and benchmarks find the shared corpus: the folder $TMR_DATA names,
    else `shared/data` beside the checkout."""
    beside_checkout = Path(__file__).resolve().parents[2] / "shared" / "data"
    return Path(os.environ.get("TMR_DATA", beside_checkout)).resolve()


@dataclass(frozen=True)
class ClipRow:
    """One row of clips.tsv."""

    path: str
    source: str
    format: str
    subject: str
    label: str
    tags: tuple[str, ...]
    split: str


def has_clips_table(root: Path) -> bool:
    """Whether `root` is a data folder with a clips.tsv."""
    return (root / CLIPS_TABLE).is_file()


def _read_tsv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle, delimiter="\t"))
    except OSError as error:
        raise DatasetError(path, f"cannot read ({error.strerror or error})") from None


def read_clips_table(root: Path) -> list[ClipRow]:
    """Every clip of `root/clips.tsv`."""
    rows = _read_tsv(root / CLIPS_TABLE)
    needed = {"path", "source", "format", "subject", "label", "tags", "split"}
    if rows and not needed <= set(rows[0]):
        raise DatasetError(root / CLIPS_TABLE, f"expected the columns {', '.join(sorted(needed))}")
    return [
        ClipRow(
            r["path"], r["source"], r["format"], r["subject"], r["label"],
            tuple(t.strip() for t in r["tags"].split(",") if t.strip()), r["split"],
        )  # fmt: skip
        for r in rows
    ]


def split_paths(rows: list[ClipRow], split: str, sources: set[str] | None = None) -> list[str]:
    """The paths of one split, in table order, of the given sources (all when None)."""
    return [r.path for r in rows if r.split == split and (sources is None or r.source in sources)]


def _trial_captions(root: Path) -> dict[str, list[Caption]]:
    """KIT-ML sentences (whole trial) and HumanML3D captions (their span) by CMU trial id (e.g. 07_01)."""
    captions: dict[str, list[Caption]] = defaultdict(list)
    if (root / _KIT_TRIALS).is_file():
        for row in _read_tsv(root / _KIT_TRIALS):
            captions[row["cmu_trial"]] += [Caption(t.strip()) for t in row["texts"].split(" | ") if t.strip()]
    if (root / _HUMANML3D_CAPTIONS).is_file():
        for row in _read_tsv(root / _HUMANML3D_CAPTIONS):
            if not row["cmu_trial"]:
                continue
            start, end = int(row["start_frame_20fps"]) / 20, int(row["end_frame_20fps"]) / 20
            span = (0.0, None) if start == 0 and end <= 0 else (start, end)
            captions[row["cmu_trial"]] += [Caption(t.strip(), *span) for t in row["texts"].split(" | ") if t.strip()]
    return captions


def _cmu_trial(row: ClipRow, cmu_ids: dict[str, str]) -> str | None:
    if row.source == "cmu":
        return cmu_ids.get(row.path)
    if row.source == "cmu-fbx":
        return row.subject
    return None


_ACCAD_NOISE = re.compile(r"^S\d_|_Take_\d+$|_Working$|T2$|(?<=[a-z])\d$")
_ACCAD_JOIN = re.compile(r"To(?=[A-Z])|(?<=[a-z])2(?=[A-Z])")


def accad_parts(label: str) -> list[str]:
    """The parts of an ACCAD take name: "S2_RunToPickUpBox" -> ["Run", "PickUpBox"], "Run2Hop2Walk" ->
    ["Run", "Hop", "Walk"]; a name without a transition is one part."""
    return [part for part in _ACCAD_JOIN.split(_ACCAD_NOISE.sub("", label)) if part]


def _composed(parts: list[str], phrases: dict[str, list[str]]) -> list[str]:
    """Sentences for a transition whose every part has phrases: "a person walks, then crouches down"."""
    if not parts or not all(p in phrases for p in parts):
        return []
    variants = max(len(phrases[p]) for p in parts)
    subjects = ("a person", "someone", "the actor")
    sentences = []
    for i in range(variants):
        chosen = [phrases[p][i % len(phrases[p])] for p in parts]
        sentences.append(f"{subjects[i % len(subjects)]} " + ", then ".join(chosen))
    if len(parts) > 1:
        sentences.append("a person " + " and then ".join(phrases[p][0] for p in parts))
    return sentences


def _said_of_a_child(texts: list[str]) -> list[str]:
    out = []
    for i, text in enumerate(texts):
        if _SUBJECT.search(text):
            out.append(_SUBJECT.sub(_CHILD_NOUNS[i % len(_CHILD_NOUNS)], text, count=1))
        else:
            out.append(f"{text}, performed by a child")
    return out


def _tag_sentences(row: ClipRow, table: dict[str, dict[str, list[str]]]) -> list[str]:
    """The sentences written for each of the clip's tags (kinds `tag` and `paraphrase`). Every clip gets
    them, on top of its own: a tag's many wordings are shared by its clips of every source, where a
    label's two or three are not, so a new wording of an action meets that action on every rig."""
    return [text for tag in row.tags for kind in ("tag", "paraphrase") for text in table[kind].get(tag, [])]


def _written(row: ClipRow, table: dict[str, dict[str, list[str]]]) -> list[str]:
    """Our sentences for a clip outside Bandai-Namco and CMU: its label's and its parts', then its tags'."""
    texts = list(table["label"].get(f"{row.source}:{row.label}", []))
    if row.source == "accad":
        texts += _composed(accad_parts(row.label), table["part"])
    texts += _tag_sentences(row, table)
    if row.subject in _CHILD_SUBJECTS:
        texts = _said_of_a_child(texts) + texts[:2]
    return list(dict.fromkeys(texts))


def clip_entries(root: Path, rows: list[ClipRow] | None = None) -> list[CorpusEntry]:
    """Every clip of clips.tsv with its label, tags and captions; a clip with none is an error."""
    rows = read_clips_table(root) if rows is None else rows
    table = read_caption_table()
    known = {entry.path: entry for entry in shared_corpus_entries(root)}
    cmu_ids = {f"cmu-mocap/{r['file']}": r["cmu_id"] for r in _read_tsv(root / "cmu-mocap" / "labels.tsv")}
    trials = _trial_captions(root)
    entries = []
    for row in rows:
        base = known.get(row.path)
        texts = [*base.texts, *_tag_sentences(row, table)] if base else _written(row, table)
        captions: list[Caption] = [Caption(t) for t in texts]
        trial = _cmu_trial(row, cmu_ids)
        if trial is not None:
            captions += trials.get(trial, [])
        if row.source == "cmu-fbx":
            captions.append(Caption(row.label))  # CMU's description, as for the BVH trials
        captions = list(dict.fromkeys(captions))
        if not captions:
            raise DatasetError(root / CLIPS_TABLE, f"no captions for {row.path} ({row.source} label {row.label!r})")
        label = base.label if base else row.label
        entries.append(CorpusEntry(row.path, label, tuple(captions), row.tags))
    return entries
