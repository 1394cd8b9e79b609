"""Moment retrieval pieces: multi-scale windows, the similarity curve, NMS and temporal IoU."""

from __future__ import annotations

import numpy as np
import pytest

from tmrcli.localize import MAX_WINDOWS, multiscale_spans, non_max_suppression, similarity_curve, temporal_iou


def test_temporal_iou() -> None:
    assert temporal_iou((0, 2), (1, 3)) == pytest.approx(1 / 3)
    assert temporal_iou((0, 2), (0, 2)) == 1.0
    assert temporal_iou((0, 1), (2, 3)) == 0.0


@pytest.mark.parametrize("rows", [15, 40, 200, 1267, 20000])
def test_multiscale_windows_fit_the_motion_and_stay_bounded(rows: int) -> None:
    spans, stride = multiscale_spans(rows)
    sizes = set((spans[:, 1] - spans[:, 0]).tolist())
    assert spans.min() >= 0 and spans.max() == rows
    assert sizes <= {min(rows, s) for s in (40, 60, 80, 120)}
    assert len(spans) <= MAX_WINDOWS and stride >= 5


def test_curve_is_the_mean_of_covering_windows() -> None:
    spans = np.array([[0, 10], [5, 15], [10, 20]])
    scores = np.array([0.2, 0.4, 0.9])
    curve = similarity_curve(spans, scores, rows=20, stride=5, fps=10)
    assert [p.time for p in curve] == [0.25, 0.75, 1.25, 1.75]
    assert [p.score for p in curve] == pytest.approx([0.2, 0.3, 0.65, 0.9])


def test_nms_keeps_the_best_of_each_moment() -> None:
    spans = np.array([[0, 40], [5, 45], [100, 140], [38, 78], [200, 240]])
    scores = np.array([0.9, 0.95, 0.5, 0.6, 0.7])
    assert non_max_suppression(spans, scores, top=3) == [1, 4, 3]
    assert non_max_suppression(spans, scores, top=10) == [1, 4, 3, 2]
