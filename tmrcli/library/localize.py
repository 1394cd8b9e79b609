"""`tmr localize`: where in a long motion a text happens (moment retrieval, paper section 4.5).

Windows of several sizes (2 to 8 s: inside the 2-10 s range TMR was trained on) every 0.25 s over the
motion (`take_windows.window_grid`) are scored against the text. Embedding them all would be most of
the time, so localize searches coarse to fine: a coarse pass embeds a sample of them, every other
window's score is predicted from its embedded neighbours (`take_windows.predicted_scores`), and the
windows around the best few stretches are embedded (every 0.5 s, those in between interpolated) until
the best stretches stop moving (`refine_around_candidates`): the answer comes from embedded windows,
the rest of the curve from predicted ones. Raw scores are not comparable across sizes: short windows
score higher on the whole, so a 2 s window inside a 6 s action would beat the window that covers it.
So each window's score is standardised among the windows of its size in this motion and put back on
the motion's own score scale (`size_adjusted_scores`; the order is that of the standardised scores).
The segments are the best windows after non-maximum suppression on temporal IoU, so the top segments
point at different moments, each one's extent the score-weighted mean of the windows that overlap it
(`refine_extent`): neighbouring windows agreeing on a stretch place its ends better than any single
window of a fixed size. The curve gives every moment the mean adjusted score of the windows that
cover it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from formats import FEATURE_FPS
from formats.reading import LoadOptions, read_features
from tmrcli.library.embedding import embed_text_query
from tmrcli.library.results import Segment
from tmrcli.library.take_windows import MotionWindows, coarse_spans, predicted_scores, stride_rows

if TYPE_CHECKING:
    from model import Retriever

__all__ = [
    "CurvePoint",
    "Localization",
    "similarity_curve",
    "size_adjusted_scores",
    "refine_extent",
    "temporal_ious",
    "temporal_iou",
    "non_max_suppression",
    "embed_windows",
    "refine_around_candidates",
    "localize_query",
    "curve_mean",
    "FLAT_PROMINENCE",
    "localize",
    "localize_file",
]

FLAT_PROMINENCE = 0.02  # curve peak above its median, in (cos + 1) / 2 units, below which nothing stands out
NMS_IOU = 0.1  # a segment overlapping a better one by more than this is the same moment
VOTE_IOU = 0.3  # windows overlapping a kept one by at least this vote on its extent
VOTE_SPREAD = 0.3  # a voter's weight is exp(-(how much worse it scores, in standard deviations) / this)
FINE_IOU = 0.7  # the fine pass embeds the windows overlapping a candidate stretch by at least this (val split)
FINE_SECONDS = 0.5  # ... of each size every this; the windows in between are interpolated
FINE_ROUNDS = 4  # fine passes at most: each one around where the candidates have moved to (val split)
MIN_CANDIDATES = 2  # stretches refined at least, so that the best one is chosen among refined ones


@dataclass(frozen=True)
class CurvePoint:
    """The similarity curve at `time` (s): mean size-adjusted score (0-1) of the windows covering it."""

    time: float
    score: float


@dataclass(frozen=True)
class Localization:
    """The best segments (best first), the curve (a point every STRIDE_SECONDS), the motion's duration (s).

    A segment's score is the curve's mean over it, so segments and curve share one scale and the best
    segment is the curve's highest stretch. `flat`: no stretch stands out (the curve's peak is less
    than FLAT_PROMINENCE above its median). `confidence`: of the best segment's best window for the
    text, against the model's caption bank (`model/calibration.py`; None when no bank was given).
    """

    segments: list[Segment]
    curve: list[CurvePoint]
    duration: float
    flat: bool = False
    confidence: float | None = None

    @property
    def stands_out(self) -> bool:
        """Whether the best segment is a clear answer: the curve has a peak and the text matches it."""
        from model.calibration import NO_CLEAR_MATCH

        return bool(self.segments) and not self.flat and (self.confidence is None or self.confidence >= NO_CLEAR_MATCH)


def size_adjusted_scores(spans: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Scores made comparable across window sizes: each standardised among the windows of its size, then
    mapped back with the mean and spread of all the scores, an affine map that keeps the standardised
    order and the motion's own (0-1) scale."""
    sizes = spans[:, 1] - spans[:, 0]
    standard = np.zeros(len(scores))
    for size in np.unique(sizes):
        group = sizes == size
        spread = scores[group].std()
        standard[group] = (scores[group] - scores[group].mean()) / spread if spread > 0 else 0.0
    return np.clip(scores.mean() + scores.std() * standard, 0.0, 1.0)


def refine_extent(spans: np.ndarray, scores: np.ndarray, best: int) -> tuple[float, float]:
    """The [start, end) rows of window `best`, moved to the score-weighted mean of the windows that
    overlap it by at least `VOTE_IOU`; the weights fall off with how much worse each scores."""
    voters = temporal_ious(spans, spans[best]) >= VOTE_IOU
    spread = max(float(scores.std()), 1e-9) * VOTE_SPREAD
    weights = np.exp((scores[voters] - scores[best]) / spread)
    refined = (spans[voters] * weights[:, None]).sum(axis=0) / weights.sum()
    return float(refined[0]), float(refined[1])


def similarity_curve(
    spans: np.ndarray, scores: np.ndarray, rows: int, step: int, fps: float = FEATURE_FPS
) -> list[CurvePoint]:
    """Per moment, the mean score of the windows covering it, sampled every `step` rows (independent of
    the windows' own stride)."""
    total, count = np.zeros(rows + 1), np.zeros(rows + 1)
    np.add.at(total, spans[:, 0], scores)
    np.add.at(total, spans[:, 1], -scores)
    np.add.at(count, spans[:, 0], 1)
    np.add.at(count, spans[:, 1], -1)
    per_row = np.cumsum(total)[:rows] / np.maximum(np.cumsum(count)[:rows], 1)
    points = []
    for begin in range(0, rows, step):
        block = per_row[begin : begin + step]
        points.append(CurvePoint(round((begin + len(block) / 2) / fps, 3), round(float(block.mean()), 4)))
    return points


def temporal_ious(spans: np.ndarray, span: np.ndarray | tuple[float, float]) -> np.ndarray:
    """Intersection over union of each interval in `spans` (n, 2) with one interval (start, end)."""
    spans = np.asarray(spans, dtype=float).reshape(-1, 2)
    inter = np.maximum(0.0, np.minimum(spans[:, 1], span[1]) - np.maximum(spans[:, 0], span[0]))
    union = np.maximum(spans[:, 1], span[1]) - np.minimum(spans[:, 0], span[0])
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def temporal_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Intersection over union of two time intervals (start, end)."""
    return float(temporal_ious(np.array([a]), b)[0])


def non_max_suppression(spans: np.ndarray, scores: np.ndarray, top: int, iou: float = NMS_IOU) -> list[int]:
    """Indices of the best windows, best first, none overlapping a better kept one by more than `iou`."""
    kept: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if (temporal_ious(spans[kept], spans[i]) <= iou).all():
            kept.append(int(i))
            if len(kept) == top:
                break
    return kept


def embed_windows(retriever: Retriever, feats: np.ndarray, duration: float) -> MotionWindows:
    """The coarse pass over `feats` (T, 263), a motion lasting `duration` s, embedded in one pass over
    dense batches of equal-size windows (`Retriever.encode_windows`); the fine windows are embedded
    as the queries need them."""
    spans = coarse_spans(len(feats))
    return MotionWindows(spans, retriever.encode_windows(feats, spans), len(feats), duration,
                         partial(retriever.encode_windows, feats))


def _grid_scores(windows: MotionWindows, grid: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Size-adjusted scores of every `grid` window: exact where embedded, else predicted."""
    from model.similarity import cosine_to_score

    raw = cosine_to_score(windows.embeddings @ query)
    return size_adjusted_scores(grid, predicted_scores(grid, windows.spans, raw))


def refine_around_candidates(windows: MotionWindows, grid: np.ndarray, query: np.ndarray, count: int) -> np.ndarray:
    """Embed the windows near the best `count` stretches (NMS over the grid's scores), again around
    where they move to, until they stay (at most FINE_ROUNDS times); the grid's adjusted scores."""
    step = max(1, round(FINE_SECONDS * FEATURE_FPS))
    fine = grid[(grid[:, 0] % step == 0) | (grid[:, 1] == windows.rows)]
    scores = _grid_scores(windows, grid, query)
    for _ in range(FINE_ROUNDS):
        near = np.zeros(len(fine), dtype=bool)
        for i in non_max_suppression(grid, scores, count):
            near |= temporal_ious(fine, grid[i]) >= FINE_IOU
        if not windows.add(fine[near]):
            break
        scores = _grid_scores(windows, grid, query)
    return scores


def curve_mean(curve: list[CurvePoint], start: float, end: float) -> float:
    """The curve's mean over [start, end) seconds (its nearest point when the stretch holds none)."""
    times = np.array([p.time for p in curve])
    values = np.array([p.score for p in curve])
    inside = (times >= start) & (times < end)
    if not inside.any():
        return float(values[np.abs(times - (start + end) / 2).argmin()])
    return float(values[inside].mean())


def localize_query(
    windows: MotionWindows, query: np.ndarray, top: int, bank: np.ndarray | None = None, likeness: float = 1.0
) -> Localization:
    """Score the windows against a text embedding (dim,), embedding those the answer needs: the best
    segments and the curve; with the embeddings of a sentence `bank`, the best segment's confidence
    (scaled by the text's `likeness`, `model/likeness.py`)."""
    from model.calibration import confidences

    windows = windows.first_only()  # the fine windows of earlier queries are reused, not relied on
    grid = windows.grid
    scores = refine_around_candidates(windows, grid, query, max(top, MIN_CANDIDATES))
    curve = similarity_curve(grid, scores, windows.rows, stride_rows())
    found = []
    for i in non_max_suppression(grid, scores, top):
        start, end = (value / FEATURE_FPS for value in refine_extent(grid, scores, i))
        found.append((curve_mean(curve, start, end), i, Segment(round(start, 2), round(end, 2), 0.0)))
    found.sort(key=lambda item: -item[0])
    segments = [Segment(s.start, s.end, round(score, 4)) for score, _, s in found]
    values = np.array([p.score for p in curve])
    flat = float(values.max() - np.median(values)) < FLAT_PROMINENCE
    confidence = None
    if bank is not None and found:
        best = windows.embedding(grid[found[0][1]])
        confidence = None if best is None else round(float(confidences(query, best, bank, likeness)[0]), 3)
    return Localization(segments, curve, round(windows.duration, 2), flat, confidence)


def localize(
    retriever: Retriever, feats: np.ndarray, duration: float, text: str, top: int, cache: Path | None = None
) -> Localization:
    """Where `text` happens in `feats` (T, 263), a motion lasting `duration` s; with the best segment's
    confidence against the model's caption bank (its embeddings cached in `cache`, else the user's)."""
    from model.bank import default_text_bank
    from tmrcli.library.caption import bank_embeddings

    bank = bank_embeddings(retriever, default_text_bank(), cache)
    query, likeness = embed_text_query(retriever, text)
    return localize_query(embed_windows(retriever, feats, duration), query, top, bank, likeness)


def localize_file(
    path: Path, text: str, retriever: Retriever, top: int, options: LoadOptions | None = None, cache: Path | None = None
) -> Localization:
    """`tmr localize`: read the motion file at `path` and find where `text` happens in it."""
    motion, feats, _ = read_features(path, options or LoadOptions())
    return localize(retriever, feats, motion.duration, text, top, cache)
