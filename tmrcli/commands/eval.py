"""`tmr eval`: the paper's retrieval protocols (and label-aware scores) for a checkpoint on a dataset."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from model.config import DEFAULT_TEXT_MODEL, PROTOCOLS
from tmrcli.commands.options import JsonOption, ModelOption, MotionsOption, TextModelOption
from tmrcli.library.defaults import DEFAULT_CHECKPOINT

__all__ = ["evaluate", "Protocol"]

# Which of the paper's protocols to run (section 4.1), or all of them.
Protocol = Enum("Protocol", {name: name for name in (*PROTOCOLS, "all")}, type=str)


def evaluate(
    data: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="The dataset folder (layout detected).")],
    checkpoint: ModelOption = DEFAULT_CHECKPOINT,
    split: Annotated[str, typer.Option(help="Which split to evaluate on.")] = "test",
    protocol: Annotated[Protocol, typer.Option(help="a: all, b: threshold 0.95, c: dissimilar 100, d: batches of 32.")] = Protocol.all,
    queries: Annotated[
        Optional[Path],
        typer.Option(exists=True, dir_okay=False, help="TSV of label<TAB>text queries for a label-aware score."),
    ] = None,
    sentence_model: Annotated[
        str, typer.Option(help="Sentence model for protocols (b) and (c): all-MiniLM-L6-v2 or a local folder.")
    ] = DEFAULT_TEXT_MODEL,
    text_model: TextModelOption = None,
    motions: MotionsOption = None,
    source: Annotated[
        Optional[list[str]],
        typer.Option(help="Only clips of this source (clips.tsv's source column); repeat for several."),
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Text->motion and motion->text R@1, R@2, R@3, R@5, R@10 and median rank, as in the paper's tables.

    Labelled data (the shared corpus, or a corpus whose captions.tsv has labels) also gets a
    label-aware score: a motion with the query's action label, or tag, counts as correct.

    Example: tmr eval ../shared/data --split test --queries tests/data/heldout_queries.tsv
    """
    from tmrcli.jobs.evaluation import EvalRequest, run_evaluation
    from tmrcli.views.progress import SpinnerProgress
    from tmrcli.views.render import render_reports

    chosen = PROTOCOLS if protocol is Protocol.all else (protocol.value,)
    request = EvalRequest(data, checkpoint, split, chosen, queries, sentence_model, text_model, motions, tuple(source or ()))
    render_reports(run_evaluation(request, SpinnerProgress()), json_)
