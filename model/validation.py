"""Embed an evaluation set with a model and run the protocols of `model/evaluate.py` on it.

Each motion is paired with its first caption and the segment that caption covers (the reference's
test setting). Labelled data can also be scored label-aware: a motion carrying the query's action
label counts as correct, which is how a library search is judged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from model.checkpoint import Checkpoint
from model.datasets import MotionRecord
from model.evaluate import (
    RetrievalMetrics,
    label_correctness,
    laterality_confusion,
    protocol_all,
    protocol_dissimilar,
    protocol_small_batches,
    protocol_threshold,
    retrieval_metrics,
)
from model.config import PROTOCOLS
from model.inference import Retriever
from model.text import TextBackbone

__all__ = [
    "PROTOCOLS",
    "RetrievalReport",
    "LabelledQuery",
    "EmbeddedPairs",
    "embed_pairs",
    "pairs_report",
    "evaluate_records",
    "run_protocols",
    "label_aware_report",
    "record_answers",
    "protocol_note",
]

_PROTOCOL_NAMES = {
    "a": "(a) all",
    "b": "(b) all, threshold 0.95",
    "c": "(c) dissimilar subset (100)",
    "d": "(d) small batches (32)",
}


@dataclass(frozen=True)
class RetrievalReport:
    """Both directions of one protocol. Label-aware reports also give the left/right confusions: the
    share of left- or right-sided queries whose top result has the other side's label."""

    protocol: str
    text_to_motion: RetrievalMetrics
    motion_to_text: RetrievalMetrics
    left_right_confusion_t2m: float | None = None
    left_right_confusion_m2t: float | None = None
    note: str | None = None  # why these figures are not what the protocol's name says (`protocol_note`)


@dataclass(frozen=True)
class LabelledQuery:
    """A text query and the action label a correct motion carries."""

    label: str
    text: str


@dataclass(frozen=True)
class EmbeddedPairs:
    """Test pairs (each motion with its first caption) and their similarity (texts, motions), cosine."""

    texts: list[str]
    labels: list[str]
    sim: np.ndarray


def embed_pairs(retriever: Retriever, records: Sequence[MotionRecord]) -> EmbeddedPairs:
    """Embed each record's first caption and the segment it covers (the reference's test setting)."""
    texts = [r.captions[0].text for r in records]
    motions = [r.segment(r.captions[0]) for r in records]
    sim = retriever.encode_texts(texts) @ retriever.encode_motions(motions).T
    return EmbeddedPairs(texts, [r.label for r in records], sim)


def pairs_report(pairs: EmbeddedPairs) -> RetrievalReport:
    """Label-aware retrieval when every pair has a label, protocol (a) otherwise."""
    if all(pairs.labels):
        correct = label_correctness(pairs.labels, pairs.labels)
        t2m, m2t = retrieval_metrics(pairs.sim, correct), retrieval_metrics(pairs.sim.T, correct.T)
        return RetrievalReport("label-aware", t2m, m2t)
    return RetrievalReport(_PROTOCOL_NAMES["a"], *protocol_all(pairs.sim))


def evaluate_records(
    checkpoint: Checkpoint, backbone: TextBackbone, records: Sequence[MotionRecord], *, device: torch.device
) -> RetrievalReport:
    """Retrieval on `records` for model selection during training. Leaves the model in eval mode."""
    return pairs_report(embed_pairs(Retriever(checkpoint, backbone=backbone, device=device), records))


# The sizes that protocols (c) and (d) cut the test set to (the paper's).
_DISSIMILAR_PAIRS = 100
_BATCH_PAIRS = 32


def protocol_note(protocol: str, pairs: int) -> str | None:
    """Why protocol (c) or (d) on a test set of `pairs` pairs gives the figures of (a), or None: a
    set no larger than the subset (100) or the batch (32) is evaluated whole."""
    size = {"c": _DISSIMILAR_PAIRS, "d": _BATCH_PAIRS}.get(protocol)
    if size is None or pairs > size:
        return None
    whole = "its dissimilar subset" if protocol == "c" else "its one batch"
    return f"the test set has {pairs} pairs, not more than {size}: {whole} is all of them, so these are the figures of (a)"


def run_protocols(
    pairs: EmbeddedPairs, sentence_model: TextBackbone | None, protocols: Sequence[str]
) -> list[RetrievalReport]:
    """The paper's protocols (a)-(d); `sentence_model` embeds the captions for (b) and (c)."""
    unknown = sorted(set(protocols) - set(PROTOCOLS))
    if unknown:
        raise ValueError(f"unknown protocols {unknown}; expected some of {', '.join(PROTOCOLS)}")
    sentence_emb = None
    if {"b", "c"} & set(protocols):
        if sentence_model is None:
            raise ValueError("protocols (b) and (c) need a sentence model")
        sentence_emb = sentence_model.sentence_embeddings(pairs.texts).numpy()
    reports = []
    for protocol in protocols:
        if protocol == "a":
            t2m, m2t = protocol_all(pairs.sim)
        elif protocol == "b":
            t2m, m2t = protocol_threshold(pairs.sim, sentence_emb @ sentence_emb.T)
        elif protocol == "c":
            t2m, m2t = protocol_dissimilar(pairs.sim, sentence_emb, _DISSIMILAR_PAIRS)
        else:
            t2m, m2t = protocol_small_batches(pairs.sim, _BATCH_PAIRS)
        note = protocol_note(protocol, len(pairs.sim))
        reports.append(RetrievalReport(_PROTOCOL_NAMES[protocol], t2m, m2t, note=note))
    return reports


def record_answers(record: MotionRecord) -> frozenset[str]:
    """The query labels a record answers: its own label and each of its tags."""
    return frozenset((record.label, *record.tags)) - {""}


def label_aware_report(
    retriever: Retriever, records: Sequence[MotionRecord], queries: Sequence[LabelledQuery]
) -> RetrievalReport:
    """Text->motion: each query against every motion; motion->text: each motion against the queries
    as a bank of descriptions. Correct means the motion carries the query's label, as its own label
    or as one of its tags (a query labelled "sit-down" is answered by any clip tagged sit-down).
    Queries whose label no motion carries, and motions whose labels no query names, have no right
    answer and are left out of the scores (they still compete as wrong answers)."""
    motions = [r.segment(r.captions[0]) for r in records]
    answers = [record_answers(r) for r in records]
    motion_labels = [r.label for r in records]
    query_labels = [q.label for q in queries]
    sim = retriever.encode_texts([q.text for q in queries]) @ retriever.encode_motions(motions).T
    correct = np.array([[label in answer for answer in answers] for label in query_labels], dtype=bool)
    answerable_queries, answerable_motions = correct.any(axis=1), correct.any(axis=0)
    if not answerable_queries.any():
        raise ValueError("no query names an action label that the motions carry")
    return RetrievalReport(
        "label-aware, held-out phrasings",
        retrieval_metrics(sim[answerable_queries], correct[answerable_queries]),
        retrieval_metrics(sim.T[answerable_motions], correct.T[answerable_motions]),
        left_right_confusion_t2m=laterality_confusion(sim, query_labels, motion_labels)[0],
        left_right_confusion_m2t=laterality_confusion(sim.T, motion_labels, query_labels)[0],
    )
