"""Orchestrates `tmr train`: read the splits, train with a progress display, export the small checkpoint."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tmrcli.console import err

__all__ = ["TrainRequest", "run_training", "user_cache_dir", "torchrun_environment"]


@dataclass(frozen=True)
class TrainRequest:
    """Everything `tmr train` was asked for."""

    data: Path
    run: Path
    motions: Path | None
    epochs: int
    batch_size: int
    lr: float
    text_model: str
    sentence_model: str
    negative_filter: str
    threshold: float | None
    temperature: float
    mirror_probability: float
    val_every: int
    checkpoint_every: int
    resume: bool
    seed: int
    device: str
    precision: str = "auto"
    word_dropout: float = 0.0
    ema_decay: float = 0.0
    num_layers: int = 6
    latent_dim: int = 256
    ff_size: int = 1024
    std_floor: float = 0.25
    val_queries: tuple[Path, ...] = ()


def user_cache_dir() -> Path:
    """Where converted features and text features are cached: $XDG_CACHE_HOME/tmr (else ~/.cache/tmr)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "tmr"


def torchrun_environment():
    """The process's place in a torchrun job, or None when it runs alone."""
    from model.train import Distributed

    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return None
    return Distributed(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))


def _read_splits(request: TrainRequest):
    from model.data_sources import load_split

    splits = {}
    skipped: list[tuple[Path, str]] = []
    for split in ("train", "val"):
        with _progress() as progress:
            task = progress.add_task(f"reading the {split} split", total=None)

            def advance(done: int, total: int, task=task) -> None:
                progress.update(task, completed=done, total=total)

            records = load_split(
                request.data, split, motions=request.motions, cache_dir=user_cache_dir() / "features",
                on_progress=advance, on_skip=lambda path, reason: skipped.append((path, reason)),
            )  # fmt: skip
        splits[split] = records
    if skipped:
        path, reason = skipped[0]
        err.print(f"left out {len(skipped)} files that cannot be read, e.g. {path}: {reason}", markup=False)
    return splits["train"], splits["val"]


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err,
        transient=True,
    )  # fmt: skip


def run_training(request: TrainRequest, on_epoch: Callable) -> tuple[Path, Path]:
    """Train as requested; returns the best full checkpoint and the exported inference checkpoint."""
    from model.checkpoint import load_checkpoint, save_checkpoint
    from model.config import LossConfig, TMRConfig
    from model.datasets import keep_durations
    from model.train import TrainConfig, TrainData, train

    distributed = torchrun_environment()
    train_records, val_records = _read_splits(request)
    config = TrainConfig(
        epochs=request.epochs, batch_size=request.batch_size, lr=request.lr,
        mirror_probability=request.mirror_probability, sentence_model=request.sentence_model,
        negative_filter=request.negative_filter,
        val_every=request.val_every, checkpoint_every=request.checkpoint_every, seed=request.seed,
        device=request.device, precision=request.precision, word_dropout=request.word_dropout,
        ema_decay=request.ema_decay, std_floor=request.std_floor,
    )  # fmt: skip
    from tmrcli.evaluation import read_queries

    queries = tuple(query for path in request.val_queries for query in read_queries(path))
    data = TrainData(
        keep_durations(train_records, config.min_seconds, config.max_seconds),
        keep_durations(val_records, config.min_seconds, config.max_seconds),
        description=f"{request.data.name}: {len(train_records)} training motions ({request.data})",
        val_queries=queries,
    )
    model_config = TMRConfig(
        text_model=request.text_model, num_layers=request.num_layers, latent_dim=request.latent_dim,
        ff_size=request.ff_size,
    )  # fmt: skip
    loss = LossConfig(temperature=request.temperature, threshold_selfsim=request.threshold)
    with _progress() as progress:
        task = progress.add_task("training", total=config.epochs)

        def report(epoch_report) -> None:
            progress.update(task, completed=epoch_report.epoch, description=_describe(epoch_report))
            on_epoch(epoch_report)

        best = train(
            model_config, loss, config, data, request.run, resume=request.resume, on_epoch=report,
            on_status=lambda message: progress.update(task, description=message), distributed=distributed,
        )  # fmt: skip
    inference = request.run / "model.safetensors"
    if distributed is None or distributed.rank == 0:
        checkpoint = load_checkpoint(best)
        save_checkpoint(
            inference, checkpoint.model, checkpoint.normalizer, checkpoint.provenance, include_decoder=False, half=True
        )
    return best, inference


def _describe(report) -> str:
    losses = " ".join(f"{name} {value:.3f}" for name, value in report.losses.items() if name != "loss")
    return f"epoch {report.epoch}: loss {report.losses.get('loss', float('nan')):.4f} ({losses})"
