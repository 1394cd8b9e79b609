"""Give a trained model's text side to a smaller text backbone (knowledge distillation).

A text encoder over all-mpnet-base-v2's token features tells new phrasings apart better than one over
all-MiniLM-L6-v2's, but mpnet costs about ten times more per query and takes seconds to load, which a
search command cannot afford. So the teacher's text encoder is copied into a student that reads the
small backbone's token features, trained to put every sentence where the teacher puts it (cosine, plus
an in-batch InfoNCE term that keeps sentences apart as the teacher does). Sentences need no motions, so
the student can learn from far more phrasings than the captions the teacher was trained on: any motion
descriptions (KIT-ML's, the user's). The motion encoder and decoder are the teacher's, unchanged.
Nothing here prints; progress goes through the callbacks: `on_progress(phase, done, total)` for every
long phase (the teacher's latents, the student's token features, each epoch's steps), named.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from formats.text_files import read_lines, read_text
from model.batching import Padded, length_sorted_batches
from model.checkpoint import TEXT_FOLDER_KEY, Checkpoint, Provenance
from model.config import DistillConfig
from model.datasets import DatasetError
from model.inference import Retriever, encode_batches
from model.network import TMR, ActorEncoder
from model.similarity import UNIT_EPS
from model.text import TextBackbone

__all__ = [
    "DistillConfig", "DistillReport", "distill_text_side", "student_text_encoder", "agreement", "read_sentence_file",
    "Progress", "SENTENCES_PER_REPORT",
]

# (phase in words, done, total): how far the current phase is.
Progress = Callable[[str, int, int], None]
SENTENCES_PER_REPORT = 256  # sentences encoded between two progress reports


@dataclass(frozen=True)
class DistillReport:
    """One epoch: the training loss and the mean cosine between student and teacher on held-out sentences
    (None when too few sentences were given to hold any out)."""

    epoch: int
    epochs: int
    loss: float
    agreement: float | None
    seconds: float


def read_sentence_file(path: Path) -> list[str]:
    """Sentences from a text file (one per line, blank lines skipped) or from every annotation of a TMR
    `annotations.json`. Raises DatasetError naming the file for one that cannot be read."""
    if path.suffix.lower() != ".json":
        return read_lines(path, "sentences", error=DatasetError)
    try:
        table = json.loads(read_text(path, "sentences", error=DatasetError))
        return [a["text"].strip() for entry in table.values() for a in entry["annotations"] if a["text"].strip()]
    except (ValueError, AttributeError, KeyError, TypeError) as error:
        raise DatasetError(path, f"not a TMR annotations file ({type(error).__name__}: {error})") from None


def student_text_encoder(teacher: TMR, width: int) -> ActorEncoder:
    """The teacher's text encoder behind a fresh input projection: the student's token features are
    another model's, so only the layers above the projection carry over."""
    student = ActorEncoder(width, teacher.config)
    layers = {k: v for k, v in teacher.text_encoder.state_dict().items() if not k.startswith("projection.")}
    missing, unexpected = student.load_state_dict(layers, strict=False)
    assert not unexpected and all(k.startswith("projection.") for k in missing)
    return student


def agreement(student: Tensor, teacher: Tensor) -> float | None:
    """Mean cosine between matching rows of two unit-norm (N, D) matrices (1: the student is the teacher);
    None for no rows."""
    return float((student * teacher).sum(dim=-1).mean()) if len(student) else None


def _batches(lengths: list[int], batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    batches = length_sorted_batches(lengths, batch_size)
    for i in rng.permutation(len(batches)):
        if len(batches[i]) > 1:
            yield batches[i]


def distill_text_side(
    teacher: Checkpoint,
    sentences: Sequence[str],
    config: DistillConfig = DistillConfig(),
    *,
    teacher_text_model: str | Path | None = None,
    device: torch.device | str = "cpu",
    on_epoch: Callable[[DistillReport], None] | None = None,
    on_progress: Progress | None = None,
) -> tuple[TMR, Provenance]:
    """A model with the teacher's motion side and a text encoder over `config.text_model` trained to
    match the teacher's text latents on `sentences`; and its provenance. `teacher_text_model` is the
    folder of the teacher's backbone, when it is not found by name."""
    device = torch.device(device)
    texts = sorted(set(s.strip() for s in sentences if s.strip()))
    if len(texts) < 2:
        raise ValueError("distillation needs at least two distinct sentences")
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    held = set(rng.choice(len(texts), size=int(len(texts) * config.held_out), replace=False).tolist())
    progress = on_progress or (lambda phase, done, total: None)

    teacher_side = Retriever(teacher, text_model=teacher_text_model, device=device)
    phase = f"teacher latents ({teacher.config.text_model}), sentences"
    targets = torch.from_numpy(np.concatenate(list(_in_chunks(texts, teacher_side.encode_texts, phase, progress))))
    teacher_model = teacher_side.model
    del teacher_side  # frees the teacher's backbone before the student's loads

    progress(f"loading the student's text backbone {config.text_model}", 0, len(texts))
    backbone = TextBackbone(config.text_model, max_length=teacher.config.max_text_length, device=device)
    student = student_text_encoder(teacher_model, backbone.width).to(device)
    train_rows = [i for i in range(len(texts)) if i not in held]
    held_rows = sorted(held)
    train_texts = [texts[i] for i in train_rows]
    phase = f"student token features ({backbone.name}), sentences"
    features = [f for chunk in _in_chunks(train_texts, backbone.token_features, phase, progress) for f in chunk]
    _fit(student, backbone, (features, targets[train_rows]),
         ([texts[i] for i in held_rows], targets[held_rows]), config, rng, device, on_epoch, progress)  # fmt: skip

    provenance = Provenance(
        trained_on=teacher.provenance.trained_on,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        details={
            **teacher.provenance.details,
            "distilled": {
                "teacher_sha256": teacher.sha256,
                "teacher_text_model": Path(str(teacher.config.text_model)).name,
                "sentences": len(texts),
                **asdict(config),
            },
            TEXT_FOLDER_KEY: str(backbone.folder),
        },
    )
    return _combine(teacher_model, student.cpu(), backbone), provenance


def _in_chunks(texts: Sequence[str], encode: Callable, phase: str, progress: Progress) -> Iterator:
    """`encode` over `texts` `SENTENCES_PER_REPORT` at a time, in order, reporting the sentences done after each."""
    progress(phase, 0, len(texts))
    for start in range(0, len(texts), SENTENCES_PER_REPORT):
        yield encode(texts[start : start + SENTENCES_PER_REPORT])
        progress(phase, min(start + SENTENCES_PER_REPORT, len(texts)), len(texts))


def _fit(
    student: ActorEncoder,
    backbone: TextBackbone,
    train: tuple[list[Tensor], Tensor],
    held: tuple[list[str], Tensor],
    config: DistillConfig,
    rng: np.random.Generator,
    device: torch.device,
    on_epoch: Callable[[DistillReport], None] | None,
    progress: Progress,
) -> None:
    """Train `student` on (token features, teacher latents) pairs; after each epoch, measure agreement
    on `held` (texts, teacher latents)."""
    features = train[0]
    optimizer = torch.optim.AdamW(student.parameters(), lr=config.lr)
    lengths = [len(f) for f in features]
    for epoch in range(1, config.epochs + 1):
        started, total, steps = time.perf_counter(), 0.0, 0
        student.train()
        batches = list(_batches(lengths, config.batch_size, rng))
        phase = f"epoch {epoch}/{config.epochs}, steps"
        progress(phase, 0, len(batches))
        for batch in batches:
            padded = Padded.from_sequences([features[i] for i in batch]).to(device)
            z = F.normalize(student(padded.x, padded.mask)[:, 0], dim=-1, eps=UNIT_EPS)
            y = train[1][torch.from_numpy(batch)].to(device)
            cosine = 1.0 - (z * y).sum(dim=-1).mean()
            contrast = F.cross_entropy(z @ y.T / config.temperature, torch.arange(len(batch), device=device))
            loss = cosine + config.contrastive_weight * contrast
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, steps = total + loss.item(), steps + 1
            progress(phase, steps, len(batches))
        student.eval()
        latents = encode_batches(
            backbone.padded_batches(held[0]), lambda p: student(p.x, p.mask)[:, 0], len(held[0]), held[1].shape[1], device
        )
        if on_epoch is not None:
            seconds = time.perf_counter() - started
            on_epoch(DistillReport(epoch, config.epochs, total / max(steps, 1), agreement(torch.from_numpy(latents), held[1]), seconds))


def _combine(teacher: TMR, student: ActorEncoder, backbone: TextBackbone) -> TMR:
    """A TMR whose text side is the student (on `backbone`) and whose motion side is the teacher's."""
    config = replace(teacher.config, text_model=backbone.name, text_width=backbone.width)
    model = TMR(config, with_decoder=teacher.has_decoder)
    model.text_encoder.load_state_dict(student.state_dict())
    model.motion_encoder.load_state_dict(teacher.motion_encoder.state_dict())
    if teacher.motion_decoder is not None and model.motion_decoder is not None:
        model.motion_decoder.load_state_dict(teacher.motion_decoder.state_dict())
    return model.eval()
