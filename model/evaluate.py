"""Retrieval metrics and the paper's evaluation protocols (TMR section 4.1), on similarity matrices.

Pure numpy: every function takes similarities that were computed elsewhere, so the arithmetic is
testable on hand-made matrices. Ranks are 0-based internally; R@k is a percentage and the median
rank is 1-based, as in the paper's tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from model.similarity import cosine_to_score, unit_rows

__all__ = [
    "RECALL_AT",
    "RetrievalMetrics",
    "ranks_of_best_correct",
    "metrics_from_ranks",
    "retrieval_metrics",
    "protocol_all",
    "protocol_threshold",
    "protocol_dissimilar",
    "protocol_small_batches",
    "select_dissimilar",
    "label_correctness",
    "laterality_confusion",
    "swap_left_right",
]

RECALL_AT = (1, 2, 3, 5, 10)


@dataclass(frozen=True)
class RetrievalMetrics:
    """R@1, R@2, R@3, R@5, R@10 (percent) and the median rank (1-based) over `queries` queries."""

    r1: float
    r2: float
    r3: float
    r5: float
    r10: float
    median_rank: float
    queries: int


def ranks_of_best_correct(sim: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """The 0-based rank of the best-scoring correct item for each query (row).

    `sim` is (queries, gallery); `correct` a boolean matrix of the same shape, with at least one True
    per row. Wrong items tied with it count half, as the reference's averaging tie-break does; other
    correct items never push it down.
    """
    sim = np.asarray(sim, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    if sim.shape != correct.shape:
        raise ValueError(f"similarity {sim.shape} and correctness {correct.shape} differ in shape")
    if not correct.any(axis=1).all():
        raise ValueError("every query needs at least one correct item")
    best = np.where(correct, sim, -np.inf).max(axis=1, keepdims=True)
    better = (sim > best).sum(axis=1)  # all wrong: `best` is the highest correct score
    ties = ((sim == best) & ~correct).sum(axis=1)
    return better + ties / 2.0


def metrics_from_ranks(ranks: np.ndarray) -> RetrievalMetrics:
    """Recall at each k (percent of ranks below k) and the 1-based median rank."""
    ranks = np.asarray(ranks, dtype=np.float64)
    recalls = [100.0 * float(np.mean(ranks < k)) for k in RECALL_AT]
    return RetrievalMetrics(*recalls, median_rank=float(np.median(ranks) + 1), queries=len(ranks))


def retrieval_metrics(sim: np.ndarray, correct: np.ndarray) -> RetrievalMetrics:
    """Metrics of one query direction; pass `sim.T` and `correct.T` for the other."""
    return metrics_from_ranks(ranks_of_best_correct(sim, correct))


def _both_directions(sim: np.ndarray, correct: np.ndarray) -> tuple[RetrievalMetrics, RetrievalMetrics]:
    return retrieval_metrics(sim, correct), retrieval_metrics(sim.T, correct.T)


def protocol_all(sim: np.ndarray) -> tuple[RetrievalMetrics, RetrievalMetrics]:
    """(a) The whole test set: text i and motion i are the only correct pair.

    `sim` is (texts, motions), square. Returns (text->motion, motion->text).
    """
    return _both_directions(sim, np.eye(len(sim), dtype=bool))


def protocol_threshold(
    sim: np.ndarray, text_sim: np.ndarray, threshold: float = 0.95
) -> tuple[RetrievalMetrics, RetrievalMetrics]:
    """(b) Like (a), but an item also counts when its caption is a near-paraphrase of the query's:
    scaled sentence similarity (cos + 1) / 2 above `threshold` (cosine `text_sim` of the captions).
    """
    correct = np.eye(len(sim), dtype=bool) | (cosine_to_score(np.asarray(text_sim)) > threshold)
    return _both_directions(sim, correct)


def select_dissimilar(sentence_emb: np.ndarray, size: int = 100) -> np.ndarray:
    """Indices of `size` captions that are far apart: greedy max-sum dispersion on cosine distance.

    The paper picks its 100-pair subset by an approximate quadratic-knapsack (max-dispersion) search
    whose script was never released; this greedy version starts from the farthest pair and keeps
    adding the caption with the largest summed distance to those chosen. Deterministic.
    """
    emb = unit_rows(np.asarray(sentence_emb, dtype=np.float64))
    if size >= len(emb):
        return np.arange(len(emb))
    distance = 1.0 - emb @ emb.T
    first, second = np.unravel_index(np.argmax(distance), distance.shape)
    chosen = [int(first), int(second)]
    summed = distance[first] + distance[second]
    available = np.ones(len(emb), dtype=bool)
    available[chosen] = False
    while len(chosen) < size:
        pick = int(np.argmax(np.where(available, summed, -np.inf)))
        chosen.append(pick)
        available[pick] = False
        summed += distance[pick]
    return np.array(sorted(chosen))


def protocol_dissimilar(
    sim: np.ndarray, sentence_emb: np.ndarray, size: int = 100
) -> tuple[RetrievalMetrics, RetrievalMetrics]:
    """(c) Protocol (a) restricted to `size` pairs whose captions are mutually dissimilar."""
    keep = select_dissimilar(sentence_emb, size)
    return protocol_all(np.asarray(sim)[np.ix_(keep, keep)])


def _mean_metrics(items: list[RetrievalMetrics]) -> RetrievalMetrics:
    fields = ("r1", "r2", "r3", "r5", "r10", "median_rank")
    means = {name: float(np.mean([getattr(m, name) for m in items])) for name in fields}
    return RetrievalMetrics(**means, queries=sum(m.queries for m in items))


def protocol_small_batches(
    sim: np.ndarray, batch_size: int = 32, seed: int = 0
) -> tuple[RetrievalMetrics, RetrievalMetrics]:
    """(d) Shuffle the pairs with a fixed seed, cut them into batches of `batch_size`, evaluate each
    batch as its own gallery and average. An incomplete last batch is dropped, so every average is
    over galleries of the same size (with fewer pairs than one batch, the single short batch is used).
    """
    order = np.random.default_rng(seed).permutation(len(sim))
    starts = range(0, max(len(order) - batch_size + 1, 1), batch_size)
    batches = [order[s : s + batch_size] for s in starts]
    results = [protocol_all(np.asarray(sim)[np.ix_(b, b)]) for b in batches]
    return _mean_metrics([t2m for t2m, _ in results]), _mean_metrics([m2t for _, m2t in results])


def label_correctness(query_labels: list[str], gallery_labels: list[str]) -> np.ndarray:
    """The label-aware notion of correct: an item is right when it carries the query's label."""
    return np.asarray(query_labels, dtype=object)[:, None] == np.asarray(gallery_labels, dtype=object)[None, :]


def laterality_confusion(sim: np.ndarray, query_labels: list[str], gallery_labels: list[str]) -> tuple[float, int]:
    """How often the top item of a left- or right-sided query carries the opposite side's label.

    Returns (the fraction of such queries, their number). A label is sided when swapping the words
    "left" and "right" in it names another label that occurs in the gallery.
    """
    gallery = set(gallery_labels)
    top = np.asarray(sim).argmax(axis=1)
    confused, sided = 0, 0
    for row, label in enumerate(query_labels):
        opposite = swap_left_right(label)
        if opposite == label or opposite not in gallery:
            continue
        sided += 1
        confused += gallery_labels[top[row]] == opposite
    return (confused / sided if sided else 0.0), sided


_SIDE_WORD = re.compile(r"\b(left|right|Left|Right|LEFT|RIGHT)\b")
_OTHER_SIDE = {"left": "right", "right": "left", "Left": "Right", "Right": "Left", "LEFT": "RIGHT", "RIGHT": "LEFT"}


def swap_left_right(text: str) -> str:
    """Exchange the words left and right, keeping their case (also inside labels like "wave-left-hand")."""
    return _SIDE_WORD.sub(lambda match: _OTHER_SIDE[match.group(0)], text)
