"""Orchestrates `tmr eval`: load the model and the split, run the protocols (`tmrcli/views/render.py` draws them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from formats.text_files import read_tsv
from formats.user_dirs import user_cache_dir
from tmrcli.jobs.progress import JobProgress

__all__ = ["EvalRequest", "run_evaluation", "read_queries"]


@dataclass(frozen=True)
class EvalRequest:
    """Everything `tmr eval` was asked for."""

    data: Path
    checkpoint: str
    split: str
    protocols: tuple[str, ...]
    queries: Path | None
    sentence_model: str
    text_model: str | None
    motions: Path | None
    sources: tuple[str, ...] = ()  # clips.tsv sources to keep (all when empty)


def read_queries(path: Path):
    """Labelled queries from a TSV with the columns label and text."""
    from formats.errors import TmrError
    from model.validation import LabelledQuery

    rows = read_tsv(path, "queries", ("label", "text"))
    if not rows:
        raise TmrError(path, "expected a tab-separated file with the columns label and text")
    return [LabelledQuery(row["label"], row["text"]) for row in rows]


def run_evaluation(request: EvalRequest, progress: JobProgress) -> list:
    """The reports of every requested protocol, then the label-aware ones where labels exist."""
    from formats.errors import TmrError
    from model.data_sources import load_split
    from model.inference import load_retriever
    from model.text import TextBackbone
    from model.validation import embed_pairs, label_aware_report, pairs_report, record_answers, run_protocols

    queries = read_queries(request.queries) if request.queries else None
    retriever = load_retriever(request.checkpoint, text_model=request.text_model)
    with progress.stage(f"reading the {request.split} split"):
        cache = user_cache_dir() / "features"
        skipped: list[Path] = []
        records = load_split(
            request.data, request.split, motions=request.motions, cache_dir=cache,
            on_skip=lambda path, reason: skipped.append(path), sources=set(request.sources) or None,
        )  # fmt: skip
    if skipped:
        progress.note(f"left out {len(skipped)} files of the {request.split} split that cannot be read, e.g. {skipped[0]}")
    if len(records) < 2:
        raise TmrError(request.data, f"the {request.split} split has {len(records)} motions; retrieval needs two")
    with progress.stage(f"embedding {len(records)} motions and their captions"):
        pairs = embed_pairs(retriever, records)
        sentence_model = TextBackbone(request.sentence_model) if {"b", "c"} & set(request.protocols) else None
        reports = run_protocols(pairs, sentence_model, request.protocols)
        if all(pairs.labels):
            reports.append(pairs_report(pairs))
        if queries is not None:
            if not {q.label for q in queries} & set().union(*map(record_answers, records)):
                raise TmrError(request.queries, f"no query label names an action of the {request.split} split")
            reports.append(label_aware_report(retriever, records, queries))
    return reports
