"""Moment retrieval pieces: multi-scale windows, the similarity curve, NMS and temporal IoU."""

from __future__ import annotations

import numpy as np
import pytest

from tmrcli.library.localize import (
    FLAT_PROMINENCE,
    MAX_WINDOWS,
    MotionWindows,
    curve_mean,
    localize_query,
    multiscale_spans,
    non_max_suppression,
    refine_extent,
    similarity_curve,
    size_adjusted_scores,
    temporal_iou,
)


def test_temporal_iou() -> None:
    assert temporal_iou((0, 2), (1, 3)) == pytest.approx(1 / 3)
    assert temporal_iou((0, 2), (0, 2)) == 1.0
    assert temporal_iou((0, 1), (2, 3)) == 0.0


@pytest.mark.parametrize("rows", [15, 40, 200, 1267, 20000])
def test_multiscale_windows_fit_the_motion_and_stay_bounded(rows: int) -> None:
    spans = multiscale_spans(rows)
    sizes = spans[:, 1] - spans[:, 0]
    assert spans.min() >= 0 and spans.max() == rows
    assert set(sizes.tolist()) <= {min(rows, s) for s in (40, 60, 80, 100, 120, 160)}
    assert len(spans) <= MAX_WINDOWS
    for size in set(sizes.tolist()):  # every size slides all along, at least 0.25 s (5 rows) a step
        starts = spans[sizes == size, 0]
        steps = np.diff(starts)[:-1]  # the last window is flush with the end, so its step may be shorter
        assert starts[0] == 0 and spans[sizes == size, 1].max() == rows
        assert len(set(steps.tolist())) <= 1 and steps.min(initial=5) >= 5


def test_curve_is_the_mean_of_covering_windows() -> None:
    spans = np.array([[0, 10], [5, 15], [10, 20]])
    scores = np.array([0.2, 0.4, 0.9])
    curve = similarity_curve(spans, scores, rows=20, step=5, fps=10)
    assert [p.time for p in curve] == [0.25, 0.75, 1.25, 1.75]
    assert [p.score for p in curve] == pytest.approx([0.2, 0.3, 0.65, 0.9])


def test_nms_keeps_the_best_of_each_moment() -> None:
    spans = np.array([[0, 40], [5, 45], [100, 140], [38, 78], [200, 240]])
    scores = np.array([0.9, 0.95, 0.5, 0.6, 0.7])
    assert non_max_suppression(spans, scores, top=3) == [1, 4, 3]
    assert non_max_suppression(spans, scores, top=10) == [1, 4, 3, 2]


def test_size_adjustment_makes_sizes_comparable_and_keeps_each_sizes_order() -> None:
    # Short windows score 0.1 higher across the board; the long window at 60-120 is the best of its
    # size by a wider margin than the best short one, so after adjustment it must come first.
    short = np.array([[s, s + 40] for s in range(0, 200, 20)])
    long_ = np.array([[s, s + 120] for s in range(0, 121, 20)])
    spans = np.concatenate([short, long_])
    short_scores = np.array([0.80, 0.82, 0.81, 0.83, 0.82, 0.80, 0.81, 0.82, 0.81, 0.80])
    long_scores = np.array([0.70, 0.70, 0.71, 0.79, 0.70, 0.70, 0.70])
    raw = np.concatenate([short_scores, long_scores])
    adjusted = size_adjusted_scores(spans, raw)
    assert np.argmax(raw) == 3 and np.argmax(adjusted) == len(short) + 3
    for group in (slice(0, len(short)), slice(len(short), None)):
        assert (np.argsort(adjusted[group], kind="stable") == np.argsort(raw[group], kind="stable")).all()
    assert adjusted[: len(short)].mean() == pytest.approx(adjusted[len(short) :].mean())
    assert adjusted.mean() == pytest.approx(raw.mean()) and ((adjusted >= 0) & (adjusted <= 1)).all()


def test_size_adjustment_of_a_lone_window_or_flat_scores_is_the_mean() -> None:
    assert size_adjusted_scores(np.array([[0, 30]]), np.array([0.7])) == pytest.approx([0.7])
    flat = size_adjusted_scores(np.array([[0, 40], [20, 60], [0, 60]]), np.array([0.6, 0.6, 0.9]))
    assert flat == pytest.approx([0.7, 0.7, 0.7])


def test_refined_extent_is_pulled_toward_agreeing_neighbours_only() -> None:
    spans = np.array([[100, 140], [110, 150], [105, 145], [300, 340]])
    scores = np.array([0.9, 0.9, 0.5, 0.95])
    start, end = refine_extent(spans, scores, 0)
    assert 100 < start < 110 and 140 < end < 150  # between the two equal best, barely moved by the weak one
    assert refine_extent(spans, scores, 3) == (300.0, 340.0)  # nothing overlaps it
    alone = refine_extent(spans[:1], scores[:1], 0)
    assert alone == (100.0, 140.0)


def _windows(rows: int, match: tuple[int, int], strength: float, seed: int = 0) -> tuple[MotionWindows, np.ndarray]:
    """Windows of a `rows`-row motion whose embeddings lean toward a query in proportion to how much
    of the `match` rows they cover (times `strength`), plus a little noise."""
    rng = np.random.default_rng(seed)
    spans = multiscale_spans(rows)
    query = np.zeros(8)
    query[0] = 1.0
    covered = np.array([max(0, min(b, match[1]) - max(a, match[0])) / (b - a) for a, b in spans])
    embeddings = rng.normal(scale=0.05, size=(len(spans), 8))
    embeddings[:, 1] += 1.0
    embeddings[:, 0] += strength * covered
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    return MotionWindows(spans, embeddings, rows, rows / 20), query


def test_the_best_segment_is_the_curves_highest_stretch_on_the_curves_scale() -> None:
    windows, query = _windows(600, (300, 400), strength=1.5)
    result = localize_query(windows, query, top=3)
    assert not result.flat
    best = result.segments[0]
    assert temporal_iou((best.start, best.end), (15.0, 20.0)) >= 0.5
    for segment in result.segments:
        assert segment.score == pytest.approx(curve_mean(result.curve, segment.start, segment.end), abs=1e-4)
    assert [s.score for s in result.segments] == sorted((s.score for s in result.segments), reverse=True)
    peak = max(result.curve, key=lambda p: p.score)
    assert best.start <= peak.time <= best.end


def test_a_flat_curve_is_said_to_be_flat() -> None:
    windows, query = _windows(600, (300, 400), strength=0.0)
    result = localize_query(windows, query, top=3)
    scores = np.array([p.score for p in result.curve])
    assert scores.max() - np.median(scores) < FLAT_PROMINENCE
    assert result.flat and not result.stands_out
