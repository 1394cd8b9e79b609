"""Moment retrieval pieces: the window grid and the coarse pass, predicted scores, the similarity
curve, NMS and temporal IoU; and the coarse-to-fine search against scoring every window, on
synthetic scores and on real clips with the shipped model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tmrcli.library.localize import (
    FINE_IOU,
    FLAT_PROMINENCE,
    curve_mean,
    embed_windows,
    localize_query,
    non_max_suppression,
    refine_around_candidates,
    refine_extent,
    similarity_curve,
    size_adjusted_scores,
    temporal_iou,
)
from tmrcli.library.take_windows import (
    MAX_COARSE_WINDOWS,
    MotionWindows,
    coarse_spans,
    predicted_scores,
    window_grid,
)


def test_temporal_iou() -> None:
    assert temporal_iou((0, 2), (1, 3)) == pytest.approx(1 / 3)
    assert temporal_iou((0, 2), (0, 2)) == 1.0
    assert temporal_iou((0, 1), (2, 3)) == 0.0


@pytest.mark.parametrize("rows", [15, 40, 200, 1267, 20000])
def test_the_grid_has_every_size_every_quarter_second(rows: int) -> None:
    grid = window_grid(rows)
    assert grid.min() >= 0 and grid.max() == rows
    sizes = grid[:, 1] - grid[:, 0]
    assert set(sizes.tolist()) == {min(rows, s) for s in (40, 60, 80, 100, 120, 160)}
    for size in set(sizes.tolist()):  # each slides all along, 5 rows a step (the last one flush with the end)
        starts = grid[sizes == size, 0]
        assert starts[0] == 0 and grid[sizes == size, 1].max() == rows
        assert set(np.diff(starts)[:-1].tolist()) <= {5} and np.diff(starts).max(initial=5) <= 5


@pytest.mark.parametrize("rows", [15, 40, 200, 1267, 20000])
def test_the_coarse_pass_covers_the_motion_at_half_each_size_and_stays_bounded(rows: int) -> None:
    spans = coarse_spans(rows)
    sizes = spans[:, 1] - spans[:, 0]
    assert set(sizes.tolist()) == {min(rows, s) for s in (40, 80, 160)}
    assert len(spans) <= MAX_COARSE_WINDOWS
    grid = {tuple(span) for span in window_grid(rows).tolist()}
    assert {tuple(span) for span in spans.tolist()} <= grid  # the coarse windows are grid windows
    for size in set(sizes.tolist()):
        starts = spans[sizes == size, 0]
        assert starts[0] == 0 and spans[sizes == size, 1].max() == rows
        if rows <= 1267:  # up to a minute: every half size
            assert np.diff(starts).max(initial=0) <= max(5, size // 2)


def test_predicted_scores_are_exact_where_embedded_and_interpolate_between() -> None:
    grid = window_grid(200)
    known = coarse_spans(200)
    truth = np.sin(grid.sum(axis=1) / 120.0) + np.log(grid[:, 1] - grid[:, 0]) / 5  # smooth in centre and size
    at = {tuple(span): i for i, span in enumerate(grid.tolist())}
    embedded = [at[tuple(span)] for span in known.tolist()]
    predicted = predicted_scores(grid, known, truth[embedded])
    np.testing.assert_allclose(predicted[embedded], truth[embedded])
    np.testing.assert_allclose(predicted_scores(grid, grid, truth), truth)  # all embedded: exact
    # a 2 s window a quarter of the way between two embedded ones: linear along the centre
    assert predicted[at[5, 45]] == pytest.approx(0.75 * truth[at[0, 40]] + 0.25 * truth[at[20, 60]])
    # a 3 s window of the same centre as an embedded 2 s and 4 s one: between them, in log size
    weight = np.log(60 / 40) / np.log(80 / 40)
    assert predicted[at[10, 70]] == pytest.approx((1 - weight) * truth[at[20, 60]] + weight * truth[at[0, 80]])
    assert np.abs(predicted - truth).mean() < 0.05 * np.ptp(truth)  # a smooth field is predicted closely


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


def _leaning(match: tuple[int, int], strength: float, seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    """Embeddings of windows (n, 2) that lean toward the query (axis 0) in proportion to their
    temporal IoU with the `match` rows (times `strength`), plus a little noise fixed per window."""

    def embed(spans: np.ndarray) -> np.ndarray:
        out = []
        for a, b in spans:
            vector = np.random.default_rng((seed, int(a), int(b))).normal(scale=0.05, size=8)
            vector[1] += 1.0
            vector[0] += strength * temporal_iou((a, b), match)
            out.append(vector / np.linalg.norm(vector))
        return np.array(out)

    return embed


def _windows(rows: int, match: tuple[int, int], strength: float, seed: int = 0) -> tuple[MotionWindows, np.ndarray]:
    """Every grid window of a `rows`-row motion embedded (`_leaning`), and the query."""
    spans = window_grid(rows)
    query = np.zeros(8)
    query[0] = 1.0
    return MotionWindows(spans, _leaning(match, strength, seed)(spans), rows, rows / 20), query


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


def _rows(spans: np.ndarray) -> int:
    """Rows through the encoder to embed these windows."""
    return int((spans[:, 1] - spans[:, 0]).sum())


def test_coarse_to_fine_finds_what_scoring_every_window_finds_from_a_fraction_of_them() -> None:
    rows, match = 600, (300, 400)
    everything, query = _windows(rows, match, strength=1.5)
    embed = _leaning(match, 1.5)
    coarse = coarse_spans(rows)
    searched = MotionWindows(coarse, embed(coarse), rows, rows / 20, embed)
    for top in (1, 3):
        full, fast = localize_query(everything, query, top), localize_query(searched, query, top)
        assert temporal_iou(*((s.start, s.end) for s in (full.segments[0], fast.segments[0]))) >= 0.8
        assert fast.flat == full.flat
    assert _rows(searched.embedded()) < _rows(everything.spans) / 3  # both queries' fine windows together


def test_an_answer_depends_on_its_query_alone_not_on_those_asked_before() -> None:
    rows = 600
    embed = _leaning((300, 400), 1.5)
    coarse = coarse_spans(rows)
    query, other = np.eye(8)[0], np.eye(8)[2]
    shared = MotionWindows(coarse, embed(coarse), rows, rows / 20, embed)
    localize_query(shared, other, 3)
    after = localize_query(shared, query, 3)
    alone = localize_query(MotionWindows(coarse, embed(coarse), rows, rows / 20, embed), query, 3)
    assert after == alone


def test_the_fine_pass_embeds_the_windows_around_the_best_stretch() -> None:
    rows = 600
    embed = _leaning((300, 400), 1.5)
    coarse = coarse_spans(rows)
    windows = MotionWindows(coarse, embed(coarse), rows, rows / 20, embed)
    grid = windows.grid
    scores = refine_around_candidates(windows, grid, np.eye(8)[0], 2)
    embedded = {tuple(span) for span in windows.spans.tolist()}
    best = grid[int(np.argmax(scores))]
    assert tuple(best.tolist()) in embedded  # the answer stands on an embedded window, not a predicted one
    around = {(a, b) for a, b in grid.tolist() if a % 10 == 0 and temporal_iou((a, b), best) >= FINE_IOU}
    assert around <= embedded and len(embedded) < len(grid) / 4


# Three seconds of each of five held-out clips of different actions, one after another: a real take
# whose moments are shorter than the longest windows, so that each has one best segment (in a long
# uniform stretch, a walk of 8 s say, many segments score alike and which one wins is down to noise).
TAKE_CLIPS = [f"bandai-namco/dataset-2/data/dataset-2_{label}_normal_006.bvh" for label in
              ("walk", "raise-up-right-hand", "run", "wave-both-hands", "walk-turn-left")]
TAKE_TEXTS = ["a person walks forward", "someone raises the right hand", "a person runs",
              "a person waves both hands", "a person walks and turns left"]


def test_coarse_to_fine_agrees_with_scoring_every_window_on_real_clips(data_dir: Path) -> None:
    from formats.reading import LoadOptions, read_features
    from model import load_retriever

    retriever = load_retriever("default", device="cpu")
    feats = np.concatenate([read_features(data_dir / clip, LoadOptions())[1][:60] for clip in TAKE_CLIPS])
    duration = len(feats) / 20
    grid = window_grid(len(feats))
    everything = MotionWindows(grid, retriever.encode_windows(feats, grid), len(feats), duration)
    searched = embed_windows(retriever, feats, duration)
    ious = []
    for text in TAKE_TEXTS:
        query = retriever.encode_texts([text])[0]
        full, fast = localize_query(everything, query, 1), localize_query(searched, query, 1)
        ious.append(temporal_iou((full.segments[0].start, full.segments[0].end),
                                 (fast.segments[0].start, fast.segments[0].end)))
    assert min(ious) >= 0.5 and np.mean(ious) >= 0.8, ious  # the same moment each time, nearly the same ends
    assert _rows(searched.embedded()) < _rows(grid) / 2  # every query's fine windows together
