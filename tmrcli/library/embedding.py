"""Which stretches of a motion get an embedding, and embedding them in batches.

TMR was trained on 2-10 s clips (REFERENCE.md, moment retrieval). A take up to 12 s is embedded whole.
A longer take gets overlapping 5 s windows (stride 2.5 s, the last one flush with the end), so search
can point into it; its whole-take entry is the normalised mean of its windows' embeddings: feeding a
10-minute take to the encoder at once would be far out of its training range (and quadratic in
memory), while the mean direction says what the take is about overall.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from formats import FEATURE_FPS
from model.similarity import unit_rows
from tmrcli.library.storefile import FileRecord, StoreRecord

if TYPE_CHECKING:
    from model import Retriever
    from model.small_work import SmallWorkRetriever

__all__ = [
    "WHOLE_MAX_SECONDS",
    "WINDOW_SECONDS",
    "STRIDE_SECONDS",
    "MotionClip",
    "window_spans",
    "embed_clips",
    "embed_whole",
    "embed_text_query",
]

WHOLE_MAX_SECONDS = 12.0
WINDOW_SECONDS = 5.0
STRIDE_SECONDS = 2.5


@dataclass(frozen=True)
class MotionClip:
    """A converted motion file: what the library records about it and its (T, 263) features at 20 fps."""

    file: FileRecord
    feats: np.ndarray


def window_spans(rows: int, size: int, stride: int) -> np.ndarray:
    """(n, 2) [start, end) feature rows of windows of `size` rows every `stride` rows, the last one
    ending at `rows`; one span of everything when `rows <= size`."""
    if rows <= size:
        return np.array([[0, rows]])
    starts = list(range(0, rows - size, stride))
    if starts[-1] + size < rows:
        starts.append(rows - size)
    return np.array([[s, s + size] for s in starts])


def _index_spans(rows: int) -> np.ndarray | None:
    """Windows of a long take, or None for a take embedded whole."""
    if rows <= WHOLE_MAX_SECONDS * FEATURE_FPS:
        return None
    return window_spans(rows, round(WINDOW_SECONDS * FEATURE_FPS), round(STRIDE_SECONDS * FEATURE_FPS))


def _unit(vector: np.ndarray) -> np.ndarray:
    return unit_rows(vector).astype(np.float32)


def embed_clips(retriever: Retriever, clips: Sequence[MotionClip], batch_size: int = 64) -> list[StoreRecord]:
    """Embed every clip's entries in batches: (0, duration) first, then its windows if it is long."""
    pieces: list[np.ndarray] = []
    plans = []
    for clip in clips:
        spans = _index_spans(len(clip.feats))
        first = len(pieces)
        pieces.extend([clip.feats] if spans is None else [clip.feats[a:b] for a, b in spans])
        plans.append((first, spans))
    embeddings = retriever.encode_motions(pieces, batch_size=batch_size) if pieces else np.zeros((0, 0), np.float32)
    records = []
    for clip, (first, spans) in zip(clips, plans):
        duration = np.float32(clip.file.duration)
        if spans is None:
            starts, ends, emb = np.zeros(1, np.float32), np.array([duration]), embeddings[first : first + 1]
        else:
            windows = embeddings[first : first + len(spans)]
            times = (spans / FEATURE_FPS).astype(np.float32)
            starts = np.concatenate([[0.0], times[:, 0]]).astype(np.float32)
            ends = np.concatenate([[duration], times[:, 1]]).astype(np.float32)
            emb = np.vstack([_unit(windows.mean(axis=0)), windows])
        records.append(StoreRecord(clip.file, starts, ends.astype(np.float32), emb.astype(np.float32)))
    return records


def embed_text_query(retriever: Retriever | SmallWorkRetriever, text: str) -> tuple[np.ndarray, float]:
    """(dim,) the embedding of a text query, and how much it reads like a description of a motion
    (`model/likeness.py`), which its hits' confidence is scaled by."""
    embeddings, likeness = retriever.encode_queries([text])
    return embeddings[0], float(likeness[0])


def embed_whole(retriever: Retriever | SmallWorkRetriever, feats: np.ndarray) -> np.ndarray:
    """(dim,) the whole-take embedding of one motion, as the library computes it."""
    spans = _index_spans(len(feats))
    if spans is None:
        return retriever.encode_motions([feats])[0]
    return _unit(retriever.encode_windows(feats, spans).mean(axis=0))
