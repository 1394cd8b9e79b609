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
from model.inference import Retriever
from model.text import TextBackbone

__all__ = ["PROTOCOLS", "RetrievalReport", "LabelledQuery", "evaluate_records", "run_protocols", "label_aware_report"]

PROTOCOLS = ("a", "b", "c", "d")
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


@dataclass(frozen=True)
class LabelledQuery:
    """A text query and the action label a correct motion carries."""

    label: str
    text: str


def _first_pairs(records: Sequence[MotionRecord]) -> tuple[list[str], list[np.ndarray]]:
    texts = [r.captions[0].text for r in records]
    return texts, [r.segment(r.captions[0]) for r in records]


def _similarity(retriever: Retriever, texts: Sequence[str], motions: Sequence[np.ndarray]) -> np.ndarray:
    return retriever.encode_texts(texts) @ retriever.encode_motions(motions).T  # (texts, motions) cosine


def evaluate_records(
    checkpoint: Checkpoint, backbone: TextBackbone, records: Sequence[MotionRecord], *, device: torch.device
) -> RetrievalReport:
    """Retrieval on `records` for model selection: label-aware when every record has a label,
    protocol (a) otherwise. Leaves the model in eval mode."""
    retriever = Retriever(checkpoint, backbone=backbone, device=device)
    texts, motions = _first_pairs(records)
    sim = _similarity(retriever, texts, motions)
    labels = [r.label for r in records]
    if all(labels):
        correct = label_correctness(labels, labels)
        return RetrievalReport("label-aware", retrieval_metrics(sim, correct), retrieval_metrics(sim.T, correct.T))
    t2m, m2t = protocol_all(sim)
    return RetrievalReport(_PROTOCOL_NAMES["a"], t2m, m2t)


def run_protocols(
    retriever: Retriever, records: Sequence[MotionRecord], sentence_model: TextBackbone, protocols: Sequence[str]
) -> list[RetrievalReport]:
    """The paper's protocols (a)-(d) on test pairs; `sentence_model` embeds captions for (b) and (c)."""
    texts, motions = _first_pairs(records)
    sim = _similarity(retriever, texts, motions)
    sentence_emb = sentence_model.sentence_embeddings(texts).numpy() if {"b", "c"} & set(protocols) else None
    reports = []
    for protocol in protocols:
        if protocol == "a":
            t2m, m2t = protocol_all(sim)
        elif protocol == "b":
            t2m, m2t = protocol_threshold(sim, sentence_emb @ sentence_emb.T)
        elif protocol == "c":
            t2m, m2t = protocol_dissimilar(sim, sentence_emb)
        elif protocol == "d":
            t2m, m2t = protocol_small_batches(sim)
        else:
            raise ValueError(f"unknown protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")
        reports.append(RetrievalReport(_PROTOCOL_NAMES[protocol], t2m, m2t))
    return reports


def label_aware_report(
    retriever: Retriever, records: Sequence[MotionRecord], queries: Sequence[LabelledQuery]
) -> RetrievalReport:
    """Text->motion: each query against every motion; motion->text: each motion against the queries
    as a bank of descriptions. Correct means the same action label."""
    motions = [r.segment(r.captions[0]) for r in records]
    motion_labels = [r.label for r in records]
    query_labels = [q.label for q in queries]
    sim = _similarity(retriever, [q.text for q in queries], motions)
    correct = label_correctness(query_labels, motion_labels)
    return RetrievalReport(
        "label-aware, held-out phrasings",
        retrieval_metrics(sim, correct),
        retrieval_metrics(sim.T, correct.T),
        left_right_confusion_t2m=laterality_confusion(sim, query_labels, motion_labels)[0],
        left_right_confusion_m2t=laterality_confusion(sim.T, motion_labels, query_labels)[0],
    )
