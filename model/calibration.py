"""Confidence: how far a query's score with a motion stands above what unrelated sentences score with it.

A raw score (cos + 1) / 2 means little on its own: every motion scores 0.8-0.9 with almost any text,
gibberish and the empty string included, and a library without sitting still returns its nearest
motion for "sits down" at 0.88. What tells a match from the nearest of nothing is the motion's own
score distribution over a bank of sentences describing many different actions (the model's caption
bank): a sentence that really describes the motion stands far above that crowd, one that does not
sits inside it.

So the query's score is standardised against the motion's bank scores (z = (score - mean) / std) and
mapped to [0, 1] between two points of a normal crowd: `Z_CROWD` (0: no better than the best tenth of
unrelated sentences) and `Z_CLEAR` (1: better than all but one in a thousand). Both points come from
the model's own scores, per motion, so the figure needs no labelled data and follows any checkpoint.
On the validation phrasings this separated correct top hits from gibberish's better than quantile or
rank marks did (92% of correct hits above the most confident gibberish, against 67% and 13%).
A text that describes no motion at all is caught on the text side instead: the confidence is scaled
by how much the query reads like a description of a motion (`model/likeness.py`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["Z_CROWD", "Z_CLEAR", "NO_CLEAR_MATCH", "confidences"]

Z_CROWD = 1.2816  # the standard normal's 90th percentile
Z_CLEAR = 3.0902  # its 99.9th percentile
# Below this confidence the best hit is not a clear match: the query scores with it about as the
# best unrelated sentences do.
NO_CLEAR_MATCH = 0.3


def confidences(query: np.ndarray, motions: np.ndarray, bank: np.ndarray, likeness: float = 1.0) -> np.ndarray:
    """(K,) confidences in [0, 1] of a query embedding (D,) with each of K motion embeddings (K, D),
    given the (N, D) embeddings of a sentence bank (N >= 2), all unit norm, and how much the query
    reads like a description of a motion (`model/likeness.py`), which scales them."""
    motions = np.atleast_2d(np.asarray(motions, dtype=np.float32))
    if len(motions) == 0:
        return np.zeros(0, dtype=np.float32)
    scores = motions @ np.asarray(query, dtype=np.float32)  # (K,)
    crowd = np.asarray(bank, dtype=np.float32) @ motions.T  # (N, K)
    z = (scores - crowd.mean(axis=0)) / np.maximum(crowd.std(axis=0), 1e-6)
    return (likeness * np.clip((z - Z_CROWD) / (Z_CLEAR - Z_CROWD), 0.0, 1.0)).astype(np.float32)
