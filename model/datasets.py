"""Text-motion datasets: motions as 263-d features at 20 fps, each with its captions.

Three layouts are read:
- HumanML3D / KIT-ML as Guo et al. distribute them: `new_joint_vecs/<id>.npy`, `texts/<id>.txt`
  (lines `caption#tokens#start#end`, seconds; 0 and 0 mean the whole motion) and `<split>.txt`.
- TMR's unified layout: `annotations.json` ({id: {path, duration, annotations: [{text, start, end}]}})
  with features at `<motions>/<path>.npy` and `splits/<split>.txt`.
- A captioned corpus of motion files (BVH, NPZ, NPY): a `captions.tsv` with the columns path, label
  and text (one row per caption, paths relative to the corpus folder) and `splits/<split>.txt`;
  files are converted by `formats` and cached. The project's shared Bandai-Namco + CMU corpus is
  read the same way, its captions written from its labels (see `model/corpus.py`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from formats.atomic import save_npy_atomic
from formats.errors import FormatError, TmrError
from formats.features import FEATURE_DIM, FEATURE_FPS, extract_features
from formats.text_files import read_lines, read_tsv

__all__ = [
    "Caption",
    "MotionRecord",
    "DatasetError",
    "read_split",
    "read_humanml3d",
    "read_tmr_annotations",
    "read_captioned_corpus",
    "load_features_cached",
    "keep_durations",
]

# Bump when feature extraction changes, so cached conversions are recomputed.
FEATURES_VERSION = "1"


class DatasetError(TmrError):
    """A dataset folder that cannot be read: missing files, malformed captions, unknown ids."""


@dataclass(frozen=True)
class Caption:
    """One description of a motion, or of the part of it between `start` and `end` (seconds)."""

    text: str
    start: float = 0.0
    end: float | None = None  # None: until the motion ends


@dataclass(frozen=True)
class MotionRecord:
    """A motion with its captions. `label` names its action where the data has one ("" otherwise)."""

    key: str
    feats: np.ndarray  # (T, 263) float32, 20 fps
    captions: tuple[Caption, ...]
    label: str = ""
    tags: tuple[str, ...] = ()  # canonical action tags shared across sources (walk, sit-down, ...)

    def segment(self, caption: Caption) -> np.ndarray:
        """The rows of `feats` that `caption` describes (at least one)."""
        first = min(int(round(caption.start * FEATURE_FPS)), len(self.feats) - 1)
        last = len(self.feats) if caption.end is None else int(round(caption.end * FEATURE_FPS))
        return self.feats[first : max(last, first + 1)]

    def duration(self, caption: Caption) -> float:
        """Seconds covered by `caption`."""
        return len(self.segment(caption)) / FEATURE_FPS


def read_split(path: Path) -> list[str]:
    """Ids or relative paths, one per line; blank lines ignored."""
    return read_lines(path, "the split file", error=DatasetError)


def _load_feature_file(path: Path) -> np.ndarray:
    try:
        feats = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise DatasetError(path, f"cannot read features ({error})") from None
    if feats.ndim != 2 or feats.shape[1] != FEATURE_DIM or len(feats) == 0:
        raise DatasetError(path, f"expected features of shape (T, {FEATURE_DIM}), got {feats.shape}")
    if not np.all(np.isfinite(feats)):
        raise DatasetError(path, "features contain NaN or infinite values")
    return feats.astype(np.float32)


def _parse_guo_caption(line: str, path: Path) -> Caption:
    parts = line.strip().split("#")
    if len(parts) < 4:
        raise DatasetError(path, f"caption line is not 'caption#tokens#start#end': {line.strip()!r}")
    start, end = (float(v) if v.strip() not in ("", "nan") else 0.0 for v in parts[2:4])
    if math.isnan(start) or math.isnan(end):
        start, end = 0.0, 0.0
    whole = start == 0.0 and end == 0.0
    return Caption(parts[0].strip(), 0.0 if whole else start, None if whole else end)


def read_humanml3d(root: Path, split: str) -> list[MotionRecord]:
    """HumanML3D or KIT-ML in Guo's layout (features must already be 263-d HumanML3D features)."""
    records = []
    for motion_id in read_split(root / f"{split}.txt"):
        text_path = root / "texts" / f"{motion_id}.txt"
        try:
            lines = [ln for ln in text_path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        except OSError:
            raise DatasetError(text_path, "missing caption file") from None
        captions = tuple(_parse_guo_caption(line, text_path) for line in lines)
        feats = _load_feature_file(root / "new_joint_vecs" / f"{motion_id}.npy")
        records.append(MotionRecord(motion_id, feats, captions))
    return records


def read_tmr_annotations(annotations: Path, motions: Path, split_file: Path) -> list[MotionRecord]:
    """TMR's `annotations.json` layout; ids of the split without an annotation are skipped."""
    try:
        table = json.loads(annotations.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DatasetError(annotations, f"cannot read annotations ({error})") from None
    records = []
    for key in read_split(split_file):
        entry = table.get(key)
        if entry is None:
            continue
        captions = tuple(Caption(a["text"], float(a["start"]), float(a["end"])) for a in entry["annotations"])
        feats = _load_feature_file(motions / f"{entry['path']}.npy")
        records.append(MotionRecord(key, feats, captions))
    return records


def load_features_cached(path: Path, cache_dir: Path | None) -> np.ndarray:
    """The 263-d features of any motion file, converted once and kept in `cache_dir` by content hash."""
    try:
        content = path.read_bytes()
    except OSError as error:
        raise FormatError(path, f"cannot read the file ({error.strerror or error})") from None
    digest = hashlib.sha1(content + FEATURES_VERSION.encode()).hexdigest()
    cached = None if cache_dir is None else cache_dir / f"{digest}.npy"
    if cached is not None and cached.is_file():
        return np.load(cached)
    from formats.motion import load_motion  # the readers, only where a dataset holds motion files

    motion = load_motion(path)
    feats = motion.feats if motion.feats is not None else extract_features(motion.joints)
    if cached is not None:
        save_npy_atomic(cached, feats)
    return feats


@dataclass(frozen=True)
class CorpusEntry:
    """One file of a captioned corpus, with its action label and its captions."""

    path: str  # relative to the corpus folder
    label: str
    texts: tuple[str, ...] | tuple[Caption, ...]  # whole-motion sentences, or captions with their span
    tags: tuple[str, ...] = ()


def read_captions_tsv(path: Path) -> list[CorpusEntry]:
    """A corpus caption table: columns path, label, text; a file may have many rows."""
    rows = read_tsv(path, "captions", ("path", "label", "text"), error=DatasetError)
    grouped: dict[str, CorpusEntry] = {}
    for row in rows:
        entry = grouped.get(row["path"], CorpusEntry(row["path"], row["label"], ()))
        grouped[row["path"]] = CorpusEntry(entry.path, entry.label, entry.texts + (row["text"],))
    return list(grouped.values())


def _as_captions(texts: tuple[str, ...] | tuple[Caption, ...]) -> tuple[Caption, ...]:
    return tuple(t if isinstance(t, Caption) else Caption(t) for t in texts)


def read_captioned_corpus(
    root: Path,
    entries: Iterable[CorpusEntry],
    split_paths: Sequence[str],
    cache_dir: Path | None,
    on_progress: Callable[[int, int], None] | None = None,
    on_skip: Callable[[Path, str], None] | None = None,
) -> list[MotionRecord]:
    """Convert (or take from the cache) every file of the split that has captions.

    A file of the split without captions is an error: it would silently shrink the data. A file that
    cannot be converted is an error too, unless `on_skip` is given: then it is told (file, reason)
    and the file is left out, so one unreadable clip never stops a run over a large corpus.
    """
    by_path = {entry.path: entry for entry in entries}
    missing = [p for p in split_paths if p not in by_path]
    if missing:
        raise DatasetError(root, f"{len(missing)} files of the split have no captions, e.g. {missing[0]}")
    records = []
    for done, relative in enumerate(split_paths, start=1):
        entry = by_path[relative]
        try:
            feats = load_features_cached(root / relative, cache_dir)
        except TmrError as error:
            if on_skip is None:
                raise
            on_skip(root / relative, error.reason)
            continue
        records.append(MotionRecord(relative, feats, _as_captions(entry.texts), entry.label, entry.tags))
        if on_progress is not None:
            on_progress(done, len(split_paths))
    return records


def keep_durations(records: Iterable[MotionRecord], min_seconds: float, max_seconds: float) -> list[MotionRecord]:
    """Keep the captions whose segment lasts between the bounds, and the motions that keep any.

    As in the reference, training and validation use 2-10 s segments. A whole-motion caption on a
    longer motion is kept: training crops it to `max_seconds` (its caption describes all of it).
    """
    kept = []
    for record in records:
        captions = tuple(
            c
            for c in record.captions
            if min_seconds <= record.duration(c) and (c.end is None or record.duration(c) <= max_seconds)
        )
        if captions:
            kept.append(MotionRecord(record.key, record.feats, captions, record.label, record.tags))
    return kept
