"""`tmr localize`: where in a long motion a text happens (moment retrieval, paper section 4.5).

Windows of several sizes (2, 3, 4 and 6 s: inside the 2-10 s range TMR was trained on) slide over the
motion every 0.25 s (coarser for very long motions, so at most `MAX_WINDOWS` are embedded). Each
window is scored against the text; the similarity curve gives every moment the mean score of the
windows that cover it; the segments are the best windows after non-maximum suppression on temporal
IoU, so the top segments point at different moments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from formats import FEATURE_FPS
from tmrcli.conversion import LoadOptions, read_features
from tmrcli.embedding import window_spans
from tmrcli.results import Segment

if TYPE_CHECKING:
    from model import Retriever

__all__ = [
    "WINDOW_SECONDS",
    "STRIDE_SECONDS",
    "CurvePoint",
    "Localization",
    "multiscale_spans",
    "similarity_curve",
    "temporal_iou",
    "non_max_suppression",
    "localize",
    "localize_file",
]

WINDOW_SECONDS = (2.0, 3.0, 4.0, 6.0)
STRIDE_SECONDS = 0.25
MAX_WINDOWS = 800
NMS_IOU = 0.1  # a segment overlapping a better one by more than this is the same moment


@dataclass(frozen=True)
class CurvePoint:
    """The similarity curve at `time` (s): mean score (cos + 1) / 2 of the windows covering it."""

    time: float
    score: float


@dataclass(frozen=True)
class Localization:
    """The best segments (best first), the curve (one point per stride), the motion's duration (s)."""

    segments: list[Segment]
    curve: list[CurvePoint]
    duration: float


def multiscale_spans(rows: int, fps: float = FEATURE_FPS) -> tuple[np.ndarray, int]:
    """(n, 2) [start, end) feature rows of every window, and the stride in rows."""
    sizes = sorted({min(rows, round(s * fps)) for s in WINDOW_SECONDS})
    stride = max(1, round(STRIDE_SECONDS * fps))
    while sum(len(window_spans(rows, size, stride)) for size in sizes) > MAX_WINDOWS:
        stride = math.ceil(stride * 1.5)
    return np.concatenate([window_spans(rows, size, stride) for size in sizes]), stride


def similarity_curve(spans: np.ndarray, scores: np.ndarray, rows: int, stride: int, fps: float = FEATURE_FPS) -> list[CurvePoint]:
    """Per moment, the mean score of the windows covering it, sampled every `stride` rows."""
    total, count = np.zeros(rows + 1), np.zeros(rows + 1)
    np.add.at(total, spans[:, 0], scores)
    np.add.at(total, spans[:, 1], -scores)
    np.add.at(count, spans[:, 0], 1)
    np.add.at(count, spans[:, 1], -1)
    per_row = np.cumsum(total)[:rows] / np.maximum(np.cumsum(count)[:rows], 1)
    points = []
    for begin in range(0, rows, stride):
        block = per_row[begin : begin + stride]
        points.append(CurvePoint(round((begin + len(block) / 2) / fps, 3), round(float(block.mean()), 4)))
    return points


def temporal_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Intersection over union of two time intervals (start, end)."""
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def non_max_suppression(spans: np.ndarray, scores: np.ndarray, top: int, iou: float = NMS_IOU) -> list[int]:
    """Indices of the best windows, best first, none overlapping a better kept one by more than `iou`."""
    kept: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if all(temporal_iou(tuple(spans[i]), tuple(spans[j])) <= iou for j in kept):
            kept.append(int(i))
            if len(kept) == top:
                break
    return kept


def localize(retriever: Retriever, feats: np.ndarray, duration: float, text: str, top: int) -> Localization:
    """Embed every window of `feats` (T, 263) of a motion lasting `duration` s and score it against `text`."""
    from model.similarity import cosine_to_score

    rows = len(feats)
    spans, stride = multiscale_spans(rows)
    windows = retriever.encode_motions([feats[a:b] for a, b in spans])
    scores = cosine_to_score(windows @ retriever.encode_texts([text])[0])
    best = non_max_suppression(spans, scores, top)
    segments = [
        Segment(round(spans[i, 0] / FEATURE_FPS, 2), round(spans[i, 1] / FEATURE_FPS, 2), round(float(scores[i]), 4)) for i in best
    ]
    return Localization(segments, similarity_curve(spans, scores, rows, stride), round(duration, 2))


def localize_file(path: Path, text: str, checkpoint: str, top: int, options: LoadOptions | None = None) -> Localization:
    """`tmr localize`: read the motion file at `path` and find where `text` happens in it."""
    from model import load_retriever

    motion, feats, _ = read_features(path, options or LoadOptions())
    return localize(load_retriever(checkpoint), feats, motion.duration, text, top)
