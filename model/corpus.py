"""Captions for the project's shared motion-capture corpus (Bandai-Namco and CMU BVH).

The corpus comes with labels, not sentences: Bandai-Namco clips have a content label (walk, bow,
wave-left-hand, ...) and a style label (happy, tired, ...); CMU clips have the database's terse
description, and a few have a KIT-ML sentence. `assets/captions.tsv` holds the sentences we wrote
for each label; here they are combined per clip (every content sentence alone, and with each phrase
of the clip's style).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from importlib import resources
from pathlib import Path

from formats.text_files import read_tsv
from model.datasets import CorpusEntry, DatasetError

__all__ = ["CAPTION_TABLE", "is_shared_corpus", "read_caption_table", "shared_corpus_entries"]

CAPTION_TABLE = "captions.tsv"


def is_shared_corpus(root: Path) -> bool:
    """Whether `root` is laid out like the shared corpus (label tables and splits)."""
    return (root / "bandai-namco" / "labels.tsv").is_file() and (root / "splits").is_dir()


def _read_tsv(path: Path) -> list[dict[str, str]]:
    return read_tsv(path, "the table", error=DatasetError)


def read_caption_table() -> dict[str, dict[str, list[str]]]:
    """The shipped sentences by kind ("content", "style", "clip", "label", "part", "tag", "paraphrase"):
    {kind: {label: [text, ...]}}."""
    table: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    text = resources.files("model.assets").joinpath(CAPTION_TABLE).read_text(encoding="utf-8")
    for row in csv.DictReader(text.splitlines(), delimiter="\t"):
        table[row["kind"]][row["label"]].append(row["text"] or "")
    return table


def _styled(contents: list[str], styles: list[str]) -> tuple[str, ...]:
    sentences = dict.fromkeys(contents)  # ordered, no duplicates
    for content in contents:
        for style in styles:
            if style:
                sentences[f"{content} {style}"] = None
    return tuple(sentences)


def _bandai_entries(root: Path, table: dict[str, dict[str, list[str]]]) -> list[CorpusEntry]:
    entries = []
    for row in _read_tsv(root / "bandai-namco" / "labels.tsv"):
        content, style = row["content"], row["style"]
        if content not in table["content"] or style not in table["style"]:
            raise DatasetError(root / "bandai-namco" / "labels.tsv", f"no captions for {content} / {style}")
        texts = _styled(table["content"][content], table["style"][style])
        entries.append(CorpusEntry(f"bandai-namco/{row['file']}", content, texts))
    return entries


def _kit_sentences(root: Path) -> dict[str, list[str]]:
    path = root / "kit-ml" / "kitml_cmu_trials.tsv"
    if not path.is_file():
        return {}
    sentences: dict[str, list[str]] = defaultdict(list)
    for row in _read_tsv(path):
        shared = row.get("shared_file", "")
        if shared:
            # The table names files relative to cmu-mocap/.
            relative = shared if shared.startswith("cmu-mocap/") else f"cmu-mocap/{shared}"
            sentences[relative].extend(t.strip() for t in row["texts"].split(" | ") if t.strip())
    return sentences


def _cmu_entries(root: Path, table: dict[str, dict[str, list[str]]]) -> list[CorpusEntry]:
    kit = _kit_sentences(root)
    entries = []
    for row in _read_tsv(root / "cmu-mocap" / "labels.tsv"):
        relative = f"cmu-mocap/{row['file']}"
        description = row["description"].strip()
        written = table["clip"].get(row["cmu_id"], [])
        texts = tuple(dict.fromkeys([*written, description, *kit.get(relative, [])]))
        entries.append(CorpusEntry(relative, description, texts))
    return entries


def shared_corpus_entries(root: Path) -> list[CorpusEntry]:
    """Every clip of the shared corpus with its action label and its captions."""
    table = read_caption_table()
    return _bandai_entries(root, table) + _cmu_entries(root, table)
