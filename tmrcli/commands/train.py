"""`tmr train`: train a TMR model on HumanML3D, KIT-ML, TMR annotations or a captioned corpus."""

from __future__ import annotations

import json
from dataclasses import asdict
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from model.config import NEGATIVE_FILTERS, PRECISIONS, LossConfig, TMRConfig, TrainConfig
from tmrcli.commands.options import MotionsOption
from tmrcli.views.console import err, out

if TYPE_CHECKING:
    from model.train import EpochReport

__all__ = ["train", "NegativeFilter", "Precision"]


# The choices of TrainConfig.precision and TrainConfig.negative_filter, as Typer wants them.
Precision = Enum("Precision", {name: name for name in PRECISIONS}, type=str)
NegativeFilter = Enum("NegativeFilter", {name: name for name in NEGATIVE_FILTERS}, type=str)


def train(
    data: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="The dataset folder (layout detected).")],
    run: Annotated[Path, typer.Option("--run-dir", help="Folder for checkpoints and the training log.")] = Path("runs/tmr"),
    motions: MotionsOption = None,
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the training motions.")] = TrainConfig.epochs,
    batch_size: Annotated[int, typer.Option(min=2, help="Pairs per step (the contrastive batch).")] = TrainConfig.batch_size,
    lr: Annotated[float, typer.Option(min=0.0, help="AdamW learning rate.")] = TrainConfig.lr,
    text_model: Annotated[
        str, typer.Option(help="Frozen text backbone: all-MiniLM-L6-v2 (shipped) or a local transformers folder.")
    ] = TMRConfig.text_model,
    sentence_model: Annotated[
        Optional[str],
        typer.Option(help="Sentence model that filters wrong negatives; default: the text backbone."),
    ] = None,
    negative_filter: Annotated[
        NegativeFilter,
        typer.Option(
            "--filter",
            help="Which pairs are not negatives: captions a sentence model finds alike (the paper's), "
            "or motions with the same action label (labelled data).",
        ),
    ] = NegativeFilter(TrainConfig.negative_filter),
    threshold: Annotated[
        float, typer.Option(help="Negatives whose captions' scaled similarity exceeds this are filtered; 1 disables.")
    ] = LossConfig.threshold_selfsim,
    temperature: Annotated[float, typer.Option(min=1e-4, help="InfoNCE temperature.")] = LossConfig.temperature,
    cross_rig: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="Weight of an InfoNCE term tying each motion to one of the same action (same tags) from "
            "another source folder, so rigs meet (0: off, the paper's; the contrastive term's is 0.1).",
        ),
    ] = LossConfig.cross_rig,
    word_dropout: Annotated[
        float,
        typer.Option(
            min=0.0, max=0.95, help="Chance to leave each word-piece of a caption out of a step (0: off, the paper's)."
        ),
    ] = TrainConfig.word_dropout,
    ema_decay: Annotated[
        float,
        typer.Option(
            min=0.0, max=0.9999,
            help="Validate and keep the best with a moving average of the weights, this decay per step (0: off, the paper's).",
        ),
    ] = TrainConfig.ema_decay,
    std_floor: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0,
            help="Raise each feature's std to at least this fraction of its feature group's mean, so a "
            "dimension nearly constant on the training rigs cannot blow up on others (0: plain statistics).",
        ),
    ] = TrainConfig.std_floor,
    init: Annotated[
        Optional[str],
        typer.Option(
            "--init", metavar="NAME|PATH",
            help="Start from this checkpoint's weights and feature statistics (fine-tuning; its architecture is kept).",
        ),
    ] = None,
    val_queries: Annotated[
        Optional[list[Path]],
        typer.Option(
            exists=True, dir_okay=False,
            help="TSV of label<TAB>text phrasings scored on the val split (label- and tag-aware) to pick the "
            "best checkpoint; repeat for several files.",
        ),
    ] = None,
    mirror: Annotated[
        bool, typer.Option(help="Also train on mirrored motions with left/right swapped in the text.")
    ] = TrainConfig.mirror_probability > 0,
    val_every: Annotated[int, typer.Option(min=0, help="Epochs between validation runs (0: never).")] = TrainConfig.val_every,
    checkpoint_every: Annotated[int, typer.Option(min=1, help="Epochs between saved checkpoints.")] = TrainConfig.checkpoint_every,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --run-dir from its last checkpoint.")] = False,
    layers: Annotated[int, typer.Option(min=1, help="Transformer layers per encoder and decoder.")] = TMRConfig.num_layers,
    latent_dim: Annotated[int, typer.Option(min=4, help="Width of the shared space (and of every layer).")] = TMRConfig.latent_dim,
    ff_size: Annotated[int, typer.Option(min=4, help="Feed-forward width inside each layer.")] = TMRConfig.ff_size,
    seed: Annotated[int, typer.Option(help="Seed for weights, sampling and augmentation.")] = TrainConfig.seed,
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu, cuda or cuda:N.")] = TrainConfig.device,
    precision: Annotated[
        Precision,
        typer.Option(help="auto: bf16 autocast where the GPU or CPU computes bf16 natively (AMX), else fp32."),
    ] = Precision(TrainConfig.precision),
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON line per epoch on stdout.")] = False,
) -> None:
    """Train TMR (contrastive + motion synthesis) and write RUN/best.safetensors and RUN/model.safetensors.

    The defaults are the paper's (AdamW 1e-4, batch 32, temperature 0.1, filtering at 0.8); validation
    retrieval picks the best checkpoint. Several GPUs: torchrun --nproc_per_node=N $(which tmr) train ...

    Example: tmr train ../shared/data --run-dir runs/shared --epochs 100
    """
    from tmrcli.jobs.training import TrainRequest, run_training
    from tmrcli.views.progress import BarProgress

    request = TrainRequest(
        data=data, run=run, motions=motions, resume=resume, val_queries=tuple(val_queries or ()),
        config=TrainConfig(
            epochs=epochs, batch_size=batch_size, lr=lr, sentence_model=sentence_model or text_model,
            negative_filter=negative_filter.value, word_dropout=word_dropout, ema_decay=ema_decay,
            mirror_probability=TrainConfig.mirror_probability if mirror else 0.0, val_every=val_every,
            checkpoint_every=checkpoint_every, seed=seed, device=device, precision=precision.value,
            std_floor=std_floor, init_from=init or "",
        ),
        model=TMRConfig(text_model=text_model, num_layers=layers, latent_dim=latent_dim, ff_size=ff_size),
        loss=LossConfig(
            temperature=temperature, threshold_selfsim=None if threshold >= 1 else threshold, cross_rig=cross_rig
        ),
    )  # fmt: skip
    try:
        best, inference = run_training(request, on_epoch=_json_line if json_ else _epoch_line, progress=BarProgress())
    except KeyboardInterrupt:
        err.print(_interrupted(run), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(code=130) from None  # 128 + SIGINT, as shells report an interrupted command
    err.print(f"best checkpoint: {best}\ninference checkpoint: {inference}")


def _interrupted(run: Path) -> str:
    """What an interrupted run leaves and which file to use: model.safetensors is only exported at the end."""
    from model.train import BEST, LAST

    best, last = run / BEST, run / LAST
    resume = f"; continue the run with tmr train --run-dir {run} --resume" if last.is_file() else ""
    if best.is_file():
        return (
            f"interrupted: {run / 'model.safetensors'} was not written; use --checkpoint {best} "
            f"(the best epoch so far){resume}"
        )
    if last.is_file():
        return (
            f"interrupted: {run / 'model.safetensors'} was not written; use --checkpoint {last} "
            f"(the last saved epoch){resume}"
        )
    return f"interrupted before any epoch was saved: nothing in {run} to use yet"


def _json_line(report: EpochReport) -> None:
    out.print(json.dumps(asdict(report)), markup=False, highlight=False, soft_wrap=True)


def _epoch_line(report: EpochReport) -> None:
    losses = "  ".join(f"{name} {value:.4f}" for name, value in report.losses.items())
    line = f"epoch {report.epoch}/{report.epochs}  {losses}  {report.samples / max(report.seconds, 1e-9):.1f} samples/s"
    if report.validation is not None:
        t2m, m2t = report.validation.text_to_motion, report.validation.motion_to_text
        line += f"  val t2m R@1 {t2m.r1:.1f} m2t R@1 {m2t.r1:.1f}"
        if report.query_validation is not None:
            queried = report.query_validation
            line += f"  phrasings t2m R@1 {queried.text_to_motion.r1:.1f} m2t R@1 {queried.motion_to_text.r1:.1f}"
        line += "  (best)" if report.is_best else ""
    err.print(line, markup=False, highlight=False)
