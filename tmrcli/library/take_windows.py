"""The windows `tmr localize` scores in one take, and which of them go through the motion encoder.

Every window of 2 to 8 s every 0.25 s (`window_grid`) is scored, but embedding them all is most of
localize's time (a 63 s take: 1,418 windows, 130,000 rows through the encoder). The encoder's score
changes smoothly as a window slides or grows, so most windows are predicted instead: a coarse pass
embeds windows of three of the sizes, each size every half its length (`coarse_spans`); every other
window's score is interpolated from the embedded ones (`predicted_scores`), and `localize` embeds the
windows around the best few stretches, where the answer is decided. `MotionWindows` holds what one
take has had embedded, so the queries asked of one take share it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from formats import FEATURE_FPS
from tmrcli.library.embedding import window_spans

__all__ = [
    "WINDOW_SECONDS",
    "STRIDE_SECONDS",
    "COARSE_SECONDS",
    "MAX_COARSE_WINDOWS",
    "MotionWindows",
    "stride_rows",
    "window_sizes",
    "window_grid",
    "coarse_spans",
    "predicted_scores",
]

WINDOW_SECONDS = (2.0, 3.0, 4.0, 5.0, 6.0, 8.0)
STRIDE_SECONDS = 0.25  # the grid's step, and the curve's resolution
COARSE_SECONDS = (2.0, 4.0, 8.0)  # the sizes of the coarse pass; the others are interpolated between them
COARSE_OVERLAP = 0.5  # the coarse pass slides each size by this share of its length
MAX_COARSE_WINDOWS = 500  # beyond about 5 minutes, the coarse pass slides further so its cost stays bounded


def stride_rows(fps: float = FEATURE_FPS) -> int:
    """STRIDE_SECONDS in feature rows: the grid's step, and the curve's."""
    return max(1, round(STRIDE_SECONDS * fps))


def window_sizes(rows: int, seconds: tuple[float, ...] = WINDOW_SECONDS, fps: float = FEATURE_FPS) -> list[int]:
    """Window sizes in rows, none longer than the motion (a short motion has fewer distinct sizes)."""
    return sorted({min(rows, round(s * fps)) for s in seconds})


def window_grid(rows: int, fps: float = FEATURE_FPS) -> np.ndarray:
    """(n, 2) [start, end) rows of every window localize scores: each size every STRIDE_SECONDS, the
    last one flush with the end; sorted by size, then start."""
    return np.concatenate([window_spans(rows, size, stride_rows(fps)) for size in window_sizes(rows, fps=fps)])


def coarse_spans(rows: int, fps: float = FEATURE_FPS) -> np.ndarray:
    """(n, 2) rows of the windows embedded first: the COARSE_SECONDS sizes, each every COARSE_OVERLAP
    of its length (on the grid), at most MAX_COARSE_WINDOWS of them."""
    step = stride_rows(fps)
    sizes = window_sizes(rows, COARSE_SECONDS, fps)
    strides = [max(1, round(size * COARSE_OVERLAP / step)) * step for size in sizes]
    while sum(len(window_spans(rows, size, stride)) for size, stride in zip(sizes, strides)) > MAX_COARSE_WINDOWS:
        strides = [math.ceil(stride * 1.5 / step) * step for stride in strides]
    return np.concatenate([window_spans(rows, size, stride) for size, stride in zip(sizes, strides)])


class MotionWindows:
    """The windows of one motion known so far: `spans` (n, 2) rows and unit `embeddings` (n, dim).

    `embed` embeds more windows of the same motion ((m, 2) spans -> (m, dim)); without it the given
    windows are all there are, and localize scores exactly those. What is embedded is kept, and
    `first_only` gives the motion back with only its first windows known, reusing the embeddings,
    so that each query's answer depends on the query alone and never on those asked before it."""

    def __init__(
        self,
        spans: np.ndarray,
        embeddings: np.ndarray,
        rows: int,
        duration: float,
        embed: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self.spans = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
        self.embeddings = np.asarray(embeddings)
        self.rows = rows
        self.duration = duration
        self._embed = embed
        self._first = (self.spans, self.embeddings)
        self._known = {(int(a), int(b)) for a, b in self.spans}
        self._embedded = dict(zip(((int(a), int(b)) for a, b in self.spans), self.embeddings))

    @property
    def grid(self) -> np.ndarray:
        """The windows localize scores: the whole grid when more can be embedded, else those given."""
        return window_grid(self.rows) if self._embed is not None else self.spans

    def first_only(self) -> MotionWindows:
        """This motion with only the windows it was made with known; what was embedded is reused."""
        again = MotionWindows(*self._first, self.rows, self.duration, self._embed)
        again._embedded = self._embedded
        return again

    def embedded(self) -> np.ndarray:
        """(n, 2) every window embedded for this motion so far, by it and by its `first_only` copies."""
        return np.array(list(self._embedded), dtype=np.int64).reshape(-1, 2)

    def add(self, spans: np.ndarray) -> int:
        """Make those of `spans` not known yet known, embedding (in one pass) those never embedded;
        how many were added (0 without `embed`)."""
        new = list(dict.fromkeys((int(a), int(b)) for a, b in np.asarray(spans).reshape(-1, 2)))
        new = [span for span in new if span not in self._known]
        if not new or self._embed is None:
            return 0
        missing = [span for span in new if span not in self._embedded]
        if missing:
            self._embedded.update(zip(missing, self._embed(np.array(missing, dtype=np.int64))))
        self._known.update(new)
        self.spans = np.concatenate([self.spans, np.array(new, dtype=np.int64)])
        self.embeddings = np.concatenate([self.embeddings, np.stack([self._embedded[span] for span in new])])
        return len(new)

    def embedding(self, span: np.ndarray) -> np.ndarray | None:
        """The embedding of one window, embedding it if it can be; None if it is not known and cannot be."""
        self.add(np.asarray(span)[None])
        return self._embedded.get((int(span[0]), int(span[1])))


def _along(known: tuple[np.ndarray, np.ndarray], centres: np.ndarray, reach: float) -> tuple[np.ndarray, np.ndarray]:
    """One size's scores at window `centres`, interpolated between the known windows of that size
    (centres, scores; sorted), and where that holds: between known windows at most `reach` apart."""
    at, scores = known
    if len(at) == 0:
        return np.full(len(centres), np.nan), np.zeros(len(centres), dtype=bool)
    right = np.clip(np.searchsorted(at, centres), 0, len(at) - 1)
    left = np.clip(right - 1, 0, len(at) - 1)
    inside = (at[left] <= centres) & (centres <= at[right]) & (at[right] - at[left] <= reach)
    return np.interp(centres, at, scores), (at[right] == centres) | inside


def predicted_scores(grid: np.ndarray, spans: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The score of every `grid` window (n, 2) from those of the embedded windows `spans` (m, 2):
    exact where embedded; else linear along the centre between embedded windows of its size no further
    apart than the window is long; else between the nearest sizes that have such neighbours there
    (linear in log size), or the one that has; else from the nearest embedded window of its size."""
    grid_sizes, known_sizes = grid[:, 1] - grid[:, 0], spans[:, 1] - spans[:, 0]
    sizes = np.unique(grid_sizes)
    known = {}
    for size in sizes:
        centres, first = np.unique(spans[known_sizes == size].sum(axis=1) / 2, return_index=True)
        known[size] = (centres, scores[known_sizes == size][first])
    out = np.empty(len(grid))
    for size in sizes:
        rows = grid_sizes == size
        centres = grid[rows].sum(axis=1) / 2
        along = {other: _along(known[other], centres, other) for other in sizes}
        value, holds = along[size]
        below, below_size = _nearest_holding(along, [s for s in sizes[::-1] if s < size])
        above, above_size = _nearest_holding(along, [s for s in sizes if s > size])
        weight = np.log(size / below_size) / np.log(above_size / below_size)
        between = np.where(np.isnan(below), above, np.where(np.isnan(above), below, (1 - weight) * below + weight * above))
        value = np.where(holds | np.isnan(between), value, between)
        if np.isnan(value).any():  # a size with no embedded window nor neighbours here: the nearest size's
            nearest = min((s for s in sizes if len(known[s][0])), key=lambda s: abs(math.log(s / size)))
            value = np.where(np.isnan(value), along[nearest][0], value)
        out[rows] = value
    return out


def _nearest_holding(along: dict, order: list) -> tuple[np.ndarray, np.ndarray]:
    """Per point, the value of the first size in `order` whose interpolation holds there, and that
    size (NaN where none does)."""
    some = next(iter(along.values()))[0]
    value, size = np.full(len(some), np.nan), np.full(len(some), np.nan)
    for other in order:
        pick = np.isnan(size) & along[other][1]
        value[pick], size[pick] = along[other][0][pick], other
    return value, size
