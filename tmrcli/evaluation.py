"""Orchestrates `tmr eval`: load the model and the split, run the protocols, render the tables."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.table import Table

from tmrcli.console import err, out
from tmrcli.training import user_cache_dir

__all__ = ["EvalRequest", "run_evaluation", "render_reports", "read_queries"]


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

    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
    except OSError as error:
        raise TmrError(path, f"cannot read queries ({error.strerror or error})") from None
    if not rows or not {"label", "text"} <= set(rows[0]):
        raise TmrError(path, "expected a tab-separated file with the columns label and text")
    return [LabelledQuery(row["label"], row["text"]) for row in rows]


def run_evaluation(request: EvalRequest) -> list:
    """The reports of every requested protocol, then the label-aware ones where labels exist."""
    from formats.errors import TmrError
    from model.data_sources import load_split
    from model.inference import load_retriever
    from model.text import TextBackbone
    from model.validation import embed_pairs, label_aware_report, pairs_report, run_protocols

    queries = read_queries(request.queries) if request.queries else None
    retriever = load_retriever(request.checkpoint, text_model=request.text_model)
    with err.status(f"reading the {request.split} split"):
        cache = user_cache_dir() / "features"
        skipped: list[Path] = []
        records = load_split(
            request.data, request.split, motions=request.motions, cache_dir=cache,
            on_skip=lambda path, reason: skipped.append(path), sources=set(request.sources) or None,
        )  # fmt: skip
    if skipped:
        err.print(f"left out {len(skipped)} files of the {request.split} split that cannot be read, e.g. {skipped[0]}")
    if len(records) < 2:
        raise TmrError(request.data, f"the {request.split} split has {len(records)} motions; retrieval needs two")
    with err.status(f"embedding {len(records)} motions and their captions"):
        pairs = embed_pairs(retriever, records)
        sentence_model = TextBackbone(request.sentence_model) if {"b", "c"} & set(request.protocols) else None
        reports = run_protocols(pairs, sentence_model, request.protocols)
        if all(pairs.labels):
            reports.append(pairs_report(pairs))
        if queries is not None:
            if not {q.label for q in queries} & set(pairs.labels):
                raise TmrError(request.queries, f"no query label names an action of the {request.split} split")
            reports.append(label_aware_report(retriever, records, queries))
    return reports


def render_reports(reports: list, json_: bool) -> None:
    """One table per protocol (the paper's columns), or one JSON document."""
    if json_:
        out.print(json.dumps([asdict(r) for r in reports], indent=2), markup=False, highlight=False, soft_wrap=True)
        return
    for report in reports:
        table = Table(title=report.protocol, title_justify="left")
        for column in ("", "R@1", "R@2", "R@3", "R@5", "R@10", "MedR"):
            table.add_column(column, justify="right")
        for name, m in (("text->motion", report.text_to_motion), ("motion->text", report.motion_to_text)):
            table.add_row(name, *(f"{v:.2f}" for v in (m.r1, m.r2, m.r3, m.r5, m.r10, m.median_rank)))
        out.print(table)
        if report.left_right_confusion_t2m is not None:
            out.print(
                f"left/right confusions: text->motion {100 * report.left_right_confusion_t2m:.1f}%, "
                f"motion->text {100 * report.left_right_confusion_m2t:.1f}%"
            )
