"""Orchestrates `tmr distill`: gather the sentences, distil with a progress display, write the checkpoint."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from formats.user_dirs import user_cache_dir
from model.config import DistillConfig
from tmrcli.jobs.progress import JobProgress

__all__ = ["DistillRequest", "run_distillation", "distillation_sentences"]


@dataclass(frozen=True)
class DistillRequest:
    """Everything `tmr distill` was asked for; how the student trains is its `DistillConfig`."""

    teacher: str
    output: Path
    data: Path | None
    sentence_files: tuple[Path, ...]
    motions: Path | None
    teacher_text_model: str | None
    config: DistillConfig
    mirror: bool
    with_decoder: bool
    device: str


def distillation_sentences(request: DistillRequest) -> list[str]:
    """The train-split captions of --data, the --sentences files, and (with mirror) their left/right swaps;
    distinct, sorted."""
    from model.data_sources import load_split
    from model.distill import read_sentence_file
    from model.evaluate import swap_left_right

    texts: set[str] = set()
    if request.data is not None:
        records = load_split(request.data, "train", motions=request.motions, cache_dir=user_cache_dir() / "features")
        texts |= {caption.text for record in records for caption in record.captions}
    for path in request.sentence_files:
        texts |= set(read_sentence_file(path))
    if request.mirror:
        texts |= {swap_left_right(t) for t in texts}
    return sorted(t.strip() for t in texts if t.strip())


def run_distillation(request: DistillRequest, on_epoch: Callable, progress: JobProgress) -> Path:
    """Distil as requested; returns the written checkpoint (float16, like the shipped model)."""
    from model.checkpoint import load_checkpoint, save_checkpoint
    from model.datasets import DatasetError
    from model.distill import distill_text_side
    from model.inference import default_device

    device = default_device() if request.device == "auto" else request.device
    teacher = load_checkpoint(request.teacher)
    sentences = distillation_sentences(request)
    if len(sentences) < 2:
        source = request.sentence_files[0] if request.sentence_files else request.data
        raise DatasetError(source, f"{len(sentences)} distinct sentence(s): distillation needs at least two")
    progress.note(f"{len(sentences)} sentences; teacher {request.teacher} ({teacher.config.text_model}) -> {request.config.text_model}")
    config = request.config
    with progress.stage("distilling") as update:
        model, provenance = distill_text_side(
            teacher, sentences, config, teacher_text_model=request.teacher_text_model, device=device,
            on_epoch=on_epoch,
            on_progress=lambda phase, done, total: update(completed=done, total=total, description=phase),
        )  # fmt: skip
    save_checkpoint(
        request.output, model, teacher.normalizer, provenance, include_decoder=request.with_decoder, half=True
    )
    return request.output
