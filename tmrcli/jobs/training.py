"""Orchestrates `tmr train`: read the splits, train (reporting to a `JobProgress`), export the small checkpoint."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from formats.user_dirs import user_cache_dir
from model.config import LossConfig, TMRConfig, TrainConfig
from tmrcli.jobs.progress import JobProgress

__all__ = ["TrainRequest", "run_training", "torchrun_environment"]


@dataclass(frozen=True)
class TrainRequest:
    """Everything `tmr train` was asked for: the data, the run folder, and the settings as their configs."""

    data: Path
    run: Path
    motions: Path | None
    config: TrainConfig
    model: TMRConfig
    loss: LossConfig
    resume: bool = False
    val_queries: tuple[Path, ...] = ()  # phrasings (label, text) scored on val to pick the best checkpoint


def torchrun_environment():
    """The process's place in a torchrun job, or None when it runs alone."""
    from model.train import Distributed

    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return None
    return Distributed(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))


def _read_splits(request: TrainRequest, progress: JobProgress):
    from model.data_sources import load_split

    splits = {}
    skipped: list[tuple[Path, str]] = []
    for split in ("train", "val"):
        with progress.stage(f"reading the {split} split") as update:
            records = load_split(
                request.data, split, motions=request.motions, cache_dir=user_cache_dir() / "features",
                on_progress=lambda done, total, update=update: update(completed=done, total=total),
                on_skip=lambda path, reason: skipped.append((path, reason)),
            )  # fmt: skip
        splits[split] = records
    if skipped:
        path, reason = skipped[0]
        progress.note(f"left out {len(skipped)} files that cannot be read, e.g. {path}: {reason}")
    return splits["train"], splits["val"]


def run_training(request: TrainRequest, on_epoch: Callable, progress: JobProgress) -> tuple[Path, Path]:
    """Train as requested; returns the best full checkpoint and the exported inference checkpoint."""
    from model.checkpoint import load_checkpoint, save_checkpoint
    from model.datasets import keep_durations
    from model.train import TrainData, train
    from tmrcli.jobs.evaluation import read_queries

    distributed = torchrun_environment()
    train_records, val_records = _read_splits(request, progress)
    config = request.config
    data = TrainData(
        keep_durations(train_records, config.min_seconds, config.max_seconds),
        keep_durations(val_records, config.min_seconds, config.max_seconds),
        description=f"{request.data.name}: {len(train_records)} training motions ({request.data})",
        val_queries=tuple(query for path in request.val_queries for query in read_queries(path)),
    )
    with progress.stage("training", total=config.epochs) as update:

        def report(epoch_report) -> None:
            update(completed=epoch_report.epoch, description=_describe(epoch_report))
            on_epoch(epoch_report)

        best = train(
            request.model, request.loss, config, data, request.run, resume=request.resume, on_epoch=report,
            on_status=lambda message: update(description=message), distributed=distributed,
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
