"""Find out how a dataset folder is laid out and read one split of it as `MotionRecord`s."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from pathlib import Path

from model.clips import clip_entries, has_clips_table, read_clips_table, split_paths as clip_split_paths
from model.corpus import is_shared_corpus, shared_corpus_entries
from model.datasets import (
    DatasetError,
    MotionRecord,
    read_captioned_corpus,
    read_captions_tsv,
    read_humanml3d,
    read_split,
    read_tmr_annotations,
)

__all__ = ["Layout", "detect_layout", "load_split", "CORPUS_CAPTIONS"]

CORPUS_CAPTIONS = "captions.tsv"


class Layout(str, Enum):
    """The dataset layouts `tmr train` and `tmr eval` read."""

    humanml3d = "humanml3d"  # Guo et al.'s HumanML3D / KIT-ML folders
    tmr = "tmr"  # TMR's annotations.json (+ a folder of feature files)
    corpus = "corpus"  # motion files + captions.tsv (path, label, text) + splits/
    shared = "shared"  # the project's labelled Bandai-Namco + CMU corpus (its splits/ lists)
    clips = "clips"  # a data folder whose clips.tsv lists every clip, its source, tags and split


def detect_layout(root: Path) -> Layout:
    """The layout of `root`, from the files it holds; DatasetError when none fits."""
    if (root / "new_joint_vecs").is_dir() and (root / "texts").is_dir():
        return Layout.humanml3d
    if (root / "annotations.json").is_file():
        return Layout.tmr
    if (root / CORPUS_CAPTIONS).is_file():
        return Layout.corpus
    if has_clips_table(root):
        return Layout.clips
    if is_shared_corpus(root):
        return Layout.shared
    raise DatasetError(
        root,
        "not a dataset folder: expected new_joint_vecs/ and texts/ (HumanML3D, KIT-ML), annotations.json "
        f"(TMR) or {CORPUS_CAPTIONS} with splits/ (motion files with captions)",
    )


def load_split(
    root: Path,
    split: str,
    *,
    layout: Layout | None = None,
    motions: Path | None = None,
    cache_dir: Path | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    on_skip: Callable[[Path, str], None] | None = None,
    sources: set[str] | None = None,
) -> list[MotionRecord]:
    """The motions of `split` ("train", "val", "test") with their captions.

    `motions` is the folder of feature files for the TMR layout; `cache_dir` keeps the features of
    converted motion files (corpus layouts) so a second run reads them instantly. In the clips layout
    `sources` keeps only those sources, and `on_skip` hears of each file that cannot be read (the run
    goes on without it); elsewhere an unreadable file is an error.
    """
    layout = layout or detect_layout(root)
    if layout is Layout.humanml3d:
        return read_humanml3d(root, split)
    if layout is Layout.tmr:
        if motions is None:
            raise DatasetError(root, "the TMR layout needs the folder of motion features (--motions)")
        return read_tmr_annotations(root / "annotations.json", motions, root / "splits" / f"{split}.txt")
    if layout is Layout.clips:
        rows = read_clips_table(root)
        if sources is not None and not sources <= {r.source for r in rows}:
            unknown = ", ".join(sorted(sources - {r.source for r in rows}))
            raise DatasetError(root / "clips.tsv", f"no clip of the source(s) {unknown}")
        chosen = clip_split_paths(rows, split, sources)
        return read_captioned_corpus(root, clip_entries(root, rows), chosen, cache_dir, on_progress, on_skip)
    entries = shared_corpus_entries(root) if layout is Layout.shared else read_captions_tsv(root / CORPUS_CAPTIONS)
    split_paths = read_split(root / "splits" / f"{split}.txt")
    return read_captioned_corpus(root, entries, split_paths, cache_dir, on_progress)
