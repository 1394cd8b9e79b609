"""The TMR trainer: one straight loop (seed, device, epochs of shuffled batches, validation, checkpoints).

Follows the reference training (REFERENCE.md): AdamW at 1e-4, batches of 32, a random caption per
motion per epoch, 2-10 s segments, the loss weights of `LossConfig`, wrong negatives filtered with
sentence embeddings. Adds mirroring (left/right swapped in the motion and the text) as augmentation,
and, when asked, word dropout on the captions and a moving average of the weights (small caption sets).
CUDA when present, the CPU otherwise, in bf16 autocast where the hardware computes bf16 natively;
several GPUs through torchrun (DDP).
Progress is reported through the callback it is given; nothing here prints.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from formats.atomic import write_atomic
from formats.features import FEATURE_DIM, FEATURE_GROUPS, mirror_features
from model.batching import Padded, TrainBatch, collate_pairs
from model.checkpoint import TEXT_FOLDER_KEY, Checkpoint, Provenance, load_checkpoint, save_checkpoint
from model.config import NEGATIVE_FILTERS, PRECISIONS, LossConfig, TMRConfig, TrainConfig
from model.datasets import DatasetError, MotionRecord
from model.errors import CheckpointError
from model.evaluate import swap_left_right
from model.network import TMR
from model.normalizer import Normalizer
from model.text import TextBackbone
from model.text_location import locate_text_model
from model.inference import Retriever
from model.validation import LabelledQuery, RetrievalReport, evaluate_records, label_aware_report

__all__ = [
    "TrainConfig",
    "TrainData",
    "EpochReport",
    "Distributed",
    "train",
    "training_samples",
    "TrainingSample",
    "NEGATIVE_FILTERS",
    "length_grouped_batches",
    "caption_texts",
    "training_normalizer",
    "TextFeatures",
    "TRAIN_STATE",
    "PRECISIONS",
    "has_native_bf16",
    "uses_bf16",
    "drop_words",
    "negative_key",
    "source_folder",
    "rig_partners",
]

TRAIN_STATE = "train_state.pt"
LAST = "last.safetensors"
BEST = "best.safetensors"


@dataclass(frozen=True)
class TrainingSample:
    """One pair of an epoch: a (cropped, maybe mirrored) motion, its caption and its action label,
    and for the cross-rig term a motion of the same action from another source (cropped and mirrored
    alike), when one exists."""

    feats: np.ndarray
    text: str
    label: str
    partner: np.ndarray | None = None


@dataclass(frozen=True)
class TrainData:
    """Training and validation motions, and a sentence saying what they are (kept in checkpoints)."""

    train: list[MotionRecord]
    val: list[MotionRecord]
    description: str
    # Labelled phrasings scored on `val` (tag- and label-aware) alongside its own captions, so the
    # best checkpoint is the one that answers new sentences, not the training captions, best.
    val_queries: tuple[LabelledQuery, ...] = ()


@dataclass(frozen=True)
class EpochReport:
    """What one epoch did: mean losses, and validation retrieval when it ran."""

    epoch: int
    epochs: int
    losses: dict[str, float]
    seconds: float
    samples: int
    validation: RetrievalReport | None = None
    is_best: bool = False
    query_validation: RetrievalReport | None = None  # on the validation phrasings, when given


@dataclass(frozen=True)
class Distributed:
    """This process's place in a multi-process job (torchrun): it trains on every world_size-th sample
    of each epoch; gradients are averaged by DistributedDataParallel; rank 0 validates and saves."""

    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0


@dataclass
class _State:
    epoch: int = 0
    best_score: float = -math.inf
    history: list[dict] = field(default_factory=list)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _pick_device(name: str, distributed: Distributed | None) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and distributed is not None:
        return torch.device("cuda", distributed.local_rank)
    return torch.device(name)


def has_native_bf16(device: torch.device) -> bool:
    """Whether autocast to bf16 makes training steps faster on `device`: a GPU with bf16, or a CPU with
    AMX tiles. AVX512-BF16 alone does not pay: on a 2-core Xeon without AMX, benchmarks/train.py
    measured 8.3 samples/s in bf16 against 11.8 in float32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:  # asks the kernel for the AMX tile state; False where the CPU has none
            return bool(torch._C._cpu._init_amx())
        except (AttributeError, RuntimeError):
            return False
    return False


def uses_bf16(precision: str, device: torch.device) -> bool:
    """Whether training steps run under bf16 autocast for this `TrainConfig.precision`."""
    return precision == "bf16" or (precision == "auto" and has_native_bf16(device))


def _start_distributed(distributed: Distributed, device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    torch.distributed.init_process_group(backend, rank=distributed.rank, world_size=distributed.world_size)


def _shard(batches: list, distributed: Distributed | None) -> list:
    """This rank's share of an epoch's batches; every rank gets as many, so all take the same steps."""
    if distributed is None:
        return batches
    usable = len(batches) - len(batches) % distributed.world_size
    return batches[distributed.rank : usable : distributed.world_size]


_SIDES = (("both", "both"), ("two", "both"), ("left", "left"), ("right", "right"))


def negative_key(record: MotionRecord) -> str:
    """What the label filter compares: two pairs with the same key are not negatives of each other.

    A record with tags is keyed by its tag set and the side its label names ("walk,turn-left|left"),
    so a walk of one source is no negative of a walk of another, while left and right, and one hand
    and both, stay apart (Bandai-Namco's wave-left-hand and wave-right-hand share the tag wave). A
    record without tags is keyed by its label, as before.
    """
    if not record.tags:
        return record.label
    label = record.label.lower()
    side = next((name for word, name in _SIDES if word in label), "")
    return ",".join(sorted(record.tags)) + "|" + side


def source_folder(record: MotionRecord) -> str:
    """The top folder of a record's path ("accad" of "accad/.../x.bvh"): one source, and so one rig
    family; "" for records keyed by a bare id (HumanML3D)."""
    return record.key.split("/", 1)[0] if "/" in record.key else ""


def rig_partners(records: list[MotionRecord]) -> list[tuple[int, ...]]:
    """For each record, the records of the same action (same `negative_key`: tags and side) from
    another source folder, by index; () for a record without tags or without such a partner."""
    folders = [source_folder(record) for record in records]
    keys = [negative_key(record) if record.tags and folder else None for record, folder in zip(records, folders)]
    by_key: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        if key is not None:
            by_key[key].append(i)
    return [
        () if key is None else tuple(j for j in by_key[key] if folders[j] != folder)
        for key, folder in zip(keys, folders)
    ]


def _crop(feats: np.ndarray, frames: int, rng: np.random.Generator) -> np.ndarray:
    if len(feats) <= frames:
        return feats
    start = int(rng.integers(len(feats) - frames + 1))
    return feats[start : start + frames]


def training_samples(
    records: list[MotionRecord],
    config: TrainConfig,
    rng: np.random.Generator,
    partners: list[tuple[int, ...]] | None = None,
) -> list[TrainingSample]:
    """One epoch's pairs: a random caption per motion, its segment cropped at random to `max_seconds`,
    mirrored (motion, and "left"/"right" in caption and label) with probability `mirror_probability`;
    shuffled. With `partners` (from `rig_partners`), each sample that has one also gets a random
    partner's whole motion, cropped at random to the sample's length (so the batch's padding stays
    small) and mirrored with it."""
    max_frames = int(round(config.max_seconds * 20))
    samples = []
    for i, record in enumerate(records):
        caption = record.captions[rng.integers(len(record.captions))]
        feats = _crop(record.segment(caption), max_frames, rng)
        partner = None
        if partners is not None and partners[i]:
            partner = _crop(records[partners[i][rng.integers(len(partners[i]))]].feats, len(feats), rng)
        sample = TrainingSample(feats, caption.text, negative_key(record), partner)
        if rng.random() < config.mirror_probability:
            sample = TrainingSample(
                mirror_features(sample.feats), swap_left_right(sample.text), swap_left_right(sample.label),
                None if partner is None else mirror_features(partner),
            )  # fmt: skip
        samples.append(sample)
    return [samples[i] for i in rng.permutation(len(samples))]


def length_grouped_batches(
    samples: list[TrainingSample], batch_size: int, rng: np.random.Generator, group: int = 8
) -> list[list[TrainingSample]]:
    """Cut shuffled samples into batches of similar lengths, so padding (most of the cost of a step on
    a CPU) stays small: each run of `group` batches is sorted by length, then batch order is shuffled.
    Batches of one sample are dropped (a contrastive batch needs a negative)."""
    batches = []
    span = batch_size * group
    for start in range(0, len(samples), span):
        window = sorted(samples[start : start + span], key=lambda sample: len(sample.feats))
        batches += [window[i : i + batch_size] for i in range(0, len(window), batch_size)]
    batches = [batch for batch in batches if len(batch) > 1]
    return [batches[i] for i in rng.permutation(len(batches))]


def caption_texts(records: list[MotionRecord], config: TrainConfig) -> list[str]:
    """Every caption training may use, mirrored ones included, sorted."""
    texts = {c.text for r in records for c in r.captions}
    if config.mirror_probability > 0:
        texts |= {swap_left_right(t) for t in texts}
    return sorted(texts)


def training_normalizer(records: list[MotionRecord], config: TrainConfig) -> Normalizer:
    """Feature statistics of the training motions (and of their mirror images when training uses them),
    each std floored at `config.std_floor` of its feature group's mean (HumanML3D features)."""
    clips = [r.feats for r in records]
    if config.mirror_probability > 0:
        clips += [mirror_features(r.feats) for r in records]  # symmetric statistics, as HumanML3D's
    return _floored(Normalizer.from_features(clips), config)


def _floored(normalizer: Normalizer, config: TrainConfig) -> Normalizer:
    if config.std_floor > 0 and normalizer.n_feats == FEATURE_DIM:
        return normalizer.with_group_floor(FEATURE_GROUPS, config.std_floor)
    return normalizer


def _starting_point(config: TrainConfig, model_config: TMRConfig) -> Checkpoint:
    """The checkpoint `config.init_from` names, whose encoders the run starts from. It must share the
    run's text backbone (its text encoder reads that backbone's token features)."""
    start = load_checkpoint(config.init_from)
    if Path(start.config.text_model).name != Path(model_config.text_model).name:  # older files hold a path
        raise CheckpointError(
            config.init_from, f"was trained on {start.config.text_model} token features, not {model_config.text_model}"
        )
    return start


def drop_words(tokens: torch.Tensor, p: float, rng: np.random.Generator) -> torch.Tensor:
    """(L, D) token features with each inner token ([CLS] and [SEP], the first and last, stay) left
    out with probability `p`; at least one inner token is kept."""
    inner = len(tokens) - 2
    if p <= 0 or inner < 2:
        return tokens
    keep = rng.random(inner) >= p
    if not keep.any():
        keep[rng.integers(inner)] = True
    return tokens[np.flatnonzero(np.concatenate([[True], keep, [True]]))]


class TextFeatures:
    """Token features (backbone) of every caption, and what filters wrong negatives, computed once
    before training so no text is ever run twice.

    The loss drops pairs whose "sentence embeddings" score above the filtering threshold. With a
    sentence model those are the captions' mean-pooled embeddings (the paper's filter); with labels
    they are one-hot vectors of the action labels, so exactly the pairs of the same action are dropped.
    """

    def __init__(
        self,
        backbone: TextBackbone,
        texts: list[str],
        *,
        sentence_model: TextBackbone | None = None,
        labels: list[str] | None = None,
    ) -> None:
        self.tokens = dict(zip(texts, backbone.token_features(texts)))
        self.sentences = None if sentence_model is None else dict(zip(texts, sentence_model.sentence_embeddings(texts)))
        self.label_index = None if labels is None else {label: i for i, label in enumerate(sorted(set(labels)))}

    def _filter_embeddings(self, samples: list[TrainingSample]) -> torch.Tensor | None:
        if self.label_index is not None:
            rows = torch.tensor([self.label_index[s.label] for s in samples])
            return torch.nn.functional.one_hot(rows, len(self.label_index)).float()
        if self.sentences is not None:
            return torch.stack([self.sentences[s.text] for s in samples])
        return None

    def batch(
        self, samples: list[TrainingSample], normalizer: Normalizer, word_dropout: float = 0.0,
        rng: np.random.Generator | None = None,
    ) -> TrainBatch:
        """Normalised motions, caption token features (words dropped with probability `word_dropout`,
        drawn from `rng`), filter embeddings and partner motions of `samples`, padded."""
        motions = [torch.from_numpy(normalizer.normalize(s.feats)) for s in samples]
        tokens = [self.tokens[s.text] for s in samples]
        if word_dropout > 0:
            if rng is None:
                raise ValueError("word dropout needs a random generator")
            tokens = [drop_words(t, word_dropout, rng) for t in tokens]
        batch = collate_pairs(motions, tokens, self._filter_embeddings(samples))
        rows = [i for i, s in enumerate(samples) if s.partner is not None]
        if len(rows) < 2:  # a contrastive term needs a negative
            return batch
        partners = Padded.from_sequences([normalizer.normalize(samples[i].partner) for i in rows])
        return dataclasses.replace(batch, partners=partners, partner_rows=torch.tensor(rows))


def _text_features(
    backbone: TextBackbone, model_config: TMRConfig, loss: LossConfig, config: TrainConfig, records: list[MotionRecord]
) -> TextFeatures:
    texts = caption_texts(records, config)
    if loss.threshold_selfsim is None:
        return TextFeatures(backbone, texts)
    if config.negative_filter == "label":
        unlabelled = [r.key for r in records if not r.label]
        if unlabelled:
            raise DatasetError(unlabelled[0], "label filtering needs an action label on every training motion")
        labels = [negative_key(r) for r in records]
        if config.mirror_probability > 0:
            labels += [swap_left_right(label) for label in labels]
        return TextFeatures(backbone, texts, labels=labels)
    same = locate_text_model(config.sentence_model) == backbone.folder
    return TextFeatures(backbone, texts, sentence_model=backbone if same else TextBackbone(config.sentence_model))


def _save_run(run_dir: Path, name: str, model: TMR, normalizer: Normalizer, provenance: Provenance) -> str:
    return save_checkpoint(run_dir / name, model, normalizer, provenance)


def _provenance(
    data: TrainData, config: TrainConfig, loss: LossConfig, epoch: int, text_folder: Path
) -> Provenance:
    return Provenance(
        trained_on=data.description,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        details={
            "train": dataclasses.asdict(config), "loss": loss.to_dict(), "epochs_done": epoch,
            TEXT_FOLDER_KEY: str(text_folder),
        },
    )  # fmt: skip


def _save_state(
    run_dir: Path,
    optimizer: torch.optim.Optimizer,
    state: _State,
    rng: np.random.Generator,
    average: AveragedModel | None,
) -> None:
    payload = {
        "optimizer": optimizer.state_dict(),
        "average": None if average is None else average.state_dict(),
        "epoch": state.epoch,
        "best_score": state.best_score,
        "history": json.dumps(state.history),
        "rng": json.dumps(rng.bit_generator.state),
        "torch_rng": torch.get_rng_state(),
    }
    write_atomic(run_dir / TRAIN_STATE, lambda file: torch.save(payload, file))


def _resume(
    run_dir: Path, model: TMR, optimizer: torch.optim.Optimizer, rng: np.random.Generator, average: AveragedModel | None
) -> _State:
    """Load the last checkpoint's weights and the optimiser, epoch, random state and weight average
    saved with it (an average the run did not keep starts afresh from the next step)."""
    last = load_checkpoint(run_dir / LAST)
    if not last.has_decoder:
        raise CheckpointError(run_dir / LAST, "an inference-only checkpoint cannot resume training")
    model.load_state_dict(last.model.state_dict())
    try:
        payload = torch.load(run_dir / TRAIN_STATE, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError) as error:
        raise CheckpointError(run_dir / TRAIN_STATE, f"cannot read the training state ({error})") from None
    optimizer.load_state_dict(payload["optimizer"])
    if average is not None and payload.get("average") is not None:
        average.load_state_dict(payload["average"])
    rng.bit_generator.state = json.loads(payload["rng"])
    torch.set_rng_state(payload["torch_rng"])
    return _State(payload["epoch"], payload["best_score"], json.loads(payload["history"]))


def _weight_average(model: TMR, decay: float) -> AveragedModel | None:
    """torch's exponential moving average of the weights (None when `decay` is 0); its first update
    copies the weights, so the average never includes the random initialisation."""
    if decay <= 0:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def _validation_score(report: RetrievalReport) -> float:
    """One number to pick the best checkpoint by: mean R@1 and R@5 over both directions."""
    t2m, m2t = report.text_to_motion, report.motion_to_text
    return (t2m.r1 + m2t.r1 + t2m.r5 + m2t.r5) / 4


def _run_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: list[list[TrainingSample]],
    texts: TextFeatures,
    normalizer: Normalizer,
    device: torch.device,
    bf16: bool,
    word_dropout: float,
    rng: np.random.Generator,
    average: AveragedModel | None,
) -> dict[str, float]:
    model.train()
    totals: dict[str, float] = {}
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
    plain = model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model
    for chunk in batches:
        batch = texts.batch(chunk, normalizer, word_dropout, rng).to(device)
        with autocast:
            losses = model(batch)
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        optimizer.step()
        if average is not None:
            average.update_parameters(plain)
        for name, value in losses.items():
            totals[name] = totals.get(name, 0.0) + float(value.detach())
    return {name: value / max(len(batches), 1) for name, value in totals.items()}


def train(
    model_config: TMRConfig,
    loss_config: LossConfig,
    config: TrainConfig,
    data: TrainData,
    run_dir: Path,
    *,
    resume: bool = False,
    on_epoch: Callable[[EpochReport], None] | None = None,
    on_status: Callable[[str], None] | None = None,
    distributed: Distributed | None = None,
) -> Path:
    """Train a TMR model on `data`, writing checkpoints to `run_dir`; returns the best checkpoint
    (by validation retrieval; the last one when there is no validation data)."""
    is_main = distributed is None or distributed.is_main
    status = on_status if on_status is not None and is_main else (lambda message: None)
    _seed_everything(config.seed)
    device = _pick_device(config.device, distributed)
    if distributed is not None:
        _start_distributed(distributed, device)
    run_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(config.seed)

    status(f"loading the text backbone {model_config.text_model}")
    backbone = TextBackbone(model_config.text_model, max_length=model_config.max_text_length)
    # The checkpoint stores the backbone's name (a folder given becomes its name) and its real width.
    model_config = dataclasses.replace(model_config, text_model=backbone.name, text_width=backbone.width)
    provenance = functools.partial(_provenance, data, config, loss_config, text_folder=backbone.folder)
    start = _starting_point(config, model_config) if config.init_from and not resume else None
    if start is not None:
        model_config = start.config
    status("computing token features of the captions")
    text_features = _text_features(backbone, model_config, loss_config, config, data.train)
    normalizer = training_normalizer(data.train, config) if start is None else _floored(start.normalizer, config)

    bf16 = uses_bf16(config.precision, device)
    status(f"training on {device.type} in {'bf16 autocast' if bf16 else 'float32'}")
    model = TMR(model_config, loss=loss_config).to(device)
    if start is not None:
        model.load_state_dict(start.model.state_dict(), strict=False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    average = _weight_average(model, config.ema_decay)
    state = _resume(run_dir, model, optimizer, rng, average) if resume else _State()
    kept = model if average is None else average.module  # what validation scores and best keeps
    if resume:
        status(f"resuming after epoch {state.epoch}")
    stepper = model
    if distributed is not None:
        device_ids = [device.index] if device.type == "cuda" else None
        stepper = torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)

    partners = rig_partners(data.train) if loss_config.cross_rig > 0 else None
    if partners is not None:
        status(f"cross-rig term: {sum(map(bool, partners))} of {len(partners)} training motions have a partner")
    for epoch in range(state.epoch + 1, config.epochs + 1):
        started = time.perf_counter()
        samples = training_samples(data.train, config, rng, partners)
        batches = _shard(length_grouped_batches(samples, config.batch_size, rng), distributed)
        losses = _run_epoch(
            stepper, optimizer, batches, text_features, normalizer, device, bf16, config.word_dropout, rng, average
        )
        done = sum(len(batch) for batch in batches)
        report = EpochReport(epoch, config.epochs, losses, time.perf_counter() - started, done)
        state.epoch = epoch
        if not is_main:
            continue
        validate = bool(data.val) and config.val_every > 0 and (epoch % config.val_every == 0 or epoch == config.epochs)
        if validate:
            checkpoint = Checkpoint(kept, normalizer, provenance(epoch))
            validation = evaluate_records(checkpoint, backbone, data.val, device=device)
            score = _validation_score(validation)
            queried = None
            if data.val_queries:
                retriever = Retriever(checkpoint, backbone=backbone, device=device)
                queried = label_aware_report(retriever, data.val, data.val_queries)
                score = (score + _validation_score(queried)) / 2
            is_best = score > state.best_score
            if is_best:
                state.best_score = score
                _save_run(run_dir, BEST, kept, normalizer, provenance(epoch))
            report = dataclasses.replace(report, validation=validation, is_best=is_best, query_validation=queried)
        state.history.append({"epoch": epoch, **losses, "score": score if validate else None})
        if epoch % config.checkpoint_every == 0 or epoch == config.epochs:
            _save_run(run_dir, LAST, model, normalizer, provenance(epoch))
            _save_state(run_dir, optimizer, state, rng, average)
        if on_epoch is not None:
            on_epoch(report)
    if is_main and not (run_dir / BEST).is_file():
        _save_run(run_dir, BEST, kept, normalizer, provenance(state.epoch))
    if distributed is not None:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return run_dir / BEST
