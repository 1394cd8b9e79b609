"""`tmr distill`: move a trained model's text side onto a smaller, faster text backbone."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from model.config import DistillConfig
from tmrcli.commands.options import MotionsOption
from tmrcli.views.console import err, out

if TYPE_CHECKING:
    from model.distill import DistillReport

__all__ = ["distill"]


def distill(
    teacher: Annotated[
        str, typer.Argument(metavar="TEACHER", help="The checkpoint whose text side is distilled (a file or a name).")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", metavar="OUT", help="The checkpoint file to write.")],
    data: Annotated[
        Optional[Path],
        typer.Option(exists=True, file_okay=False, help="A dataset folder (as for tmr train): its train-split captions."),
    ] = None,
    sentences: Annotated[
        Optional[list[Path]],
        typer.Option(
            "--sentences", exists=True, dir_okay=False, metavar="FILE",
            help="More sentences: a text file (one per line) or a TMR annotations.json. Repeatable.",
        ),
    ] = None,
    motions: MotionsOption = None,
    text_model: Annotated[
        str, typer.Option(help="The student's frozen backbone: all-MiniLM-L6-v2 (shipped) or a local folder.")
    ] = DistillConfig.text_model,
    teacher_text_model: Annotated[
        Optional[str], typer.Option(help="Folder of the teacher's text backbone, if not found by its name.")
    ] = None,
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the sentences.")] = DistillConfig.epochs,
    batch_size: Annotated[int, typer.Option(min=2, help="Sentences per step.")] = DistillConfig.batch_size,
    lr: Annotated[float, typer.Option(min=0.0, help="AdamW learning rate.")] = DistillConfig.lr,
    mirror: Annotated[bool, typer.Option(help="Also learn each sentence with left and right swapped.")] = True,
    with_decoder: Annotated[bool, typer.Option(help="Keep the teacher's motion decoder in the output.")] = False,
    seed: Annotated[int, typer.Option(help="Seed for the held-out draw, the initialisation and the batch order.")] = DistillConfig.seed,
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu, cuda or cuda:N.")] = "auto",
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON line per epoch on stdout.")] = False,
) -> None:
    """Train a text encoder over a small backbone to place every sentence where TEACHER places it.

    Use it to search with a model trained on a large text backbone (all-mpnet-base-v2, distilbert) at
    the cost of the small one: the motion side is the teacher's, the text side learns from the
    captions of --data and any --sentences (motion descriptions need no motions). Each epoch reports
    the agreement (mean cosine, student vs teacher) on 5% of the sentences held out.

    Example: tmr distill runs/mpnet/best.safetensors --data ../shared/data --sentences kitml/annotations.json -o small.safetensors
    """
    from tmrcli.jobs.distillation import DistillRequest, run_distillation
    from tmrcli.views.progress import BarProgress

    if data is None and not sentences:
        raise typer.BadParameter("give --data, --sentences or both: the sentences to learn from")
    request = DistillRequest(
        teacher=teacher, output=output, data=data, sentence_files=tuple(sentences or ()), motions=motions,
        teacher_text_model=teacher_text_model,
        config=DistillConfig(text_model=text_model, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed),
        mirror=mirror, with_decoder=with_decoder, device=device,
    )  # fmt: skip
    written = run_distillation(request, on_epoch=_json_line if json_ else _epoch_line, progress=BarProgress())
    err.print(f"distilled checkpoint: {written}")


def _json_line(report: DistillReport) -> None:
    out.print(json.dumps(asdict(report)), markup=False, highlight=False, soft_wrap=True)


def _epoch_line(report: DistillReport) -> None:
    agreement = "n/a" if report.agreement is None else f"{report.agreement:.4f}"
    err.print(
        f"epoch {report.epoch}/{report.epochs}  loss {report.loss:.4f}  agreement {agreement}  {report.seconds:.1f} s",
        markup=False, highlight=False,
    )  # fmt: skip
