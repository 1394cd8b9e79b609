"""Confidence: how far a query's score with a motion stands above what unrelated sentences score with it.

A raw score (cos + 1) / 2 means little on its own: every motion scores 0.8-0.9 with almost any text,
gibberish and the empty string included, and a library without sitting still returns its nearest
motion for "sits down" at 0.88. What tells a match from the nearest of nothing is the motion's own
score distribution over a bank of sentences describing many different actions (the model's caption
bank): a sentence that really describes the motion scores with it like the bank's best descriptions
of it; one that does not scores like the crowd of unrelated sentences.

So the confidence of a (query, motion) pair is where the query's score falls between two marks of
that motion's bank scores: the `CROWD_QUANTILE` quantile (0: no better than most unrelated
sentences) and the best bank sentence's score (1: as good as the bank's best description), clipped to
[0, 1]. Both marks come from the model itself, per motion, so the figure needs no labelled data and
follows any checkpoint.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CROWD_QUANTILE", "NO_CLEAR_MATCH", "confidences"]

CROWD_QUANTILE = 0.9
# Below this confidence the best hit is not a clear match: the query scores with it about as
# unrelated sentences do.
NO_CLEAR_MATCH = 0.3


def confidences(query: np.ndarray, motions: np.ndarray, bank: np.ndarray) -> np.ndarray:
    """(K,) confidences in [0, 1] of a query embedding (D,) with each of K motion embeddings (K, D),
    given the (N, D) embeddings of a sentence bank; all unit norm."""
    motions = np.atleast_2d(np.asarray(motions, dtype=np.float32))
    if len(motions) == 0:
        return np.zeros(0, dtype=np.float32)
    scores = motions @ np.asarray(query, dtype=np.float32)  # (K,)
    crowd_scores = np.asarray(bank, dtype=np.float32) @ motions.T  # (N, K)
    crowd = np.quantile(crowd_scores, CROWD_QUANTILE, axis=0)
    best = crowd_scores.max(axis=0)
    span = np.maximum(best - crowd, 1e-6)
    return np.clip((scores - crowd) / span, 0.0, 1.0).astype(np.float32)
