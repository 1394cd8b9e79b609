"""Training throughput: samples/s of full TMR training steps on real clips, on the CPU and on a GPU.

Run by hand: `.venv/bin/python benchmarks/train.py [DATA_DIR] [--steps N] [--threads N]`. Takes the
shared corpus's training clips (converted features, cached), real captions through the MiniLM backbone,
batches of 32 as the trainer builds them (similar lengths, random crops to 10 s, mirroring), and times
optimiser steps of the paper's architecture (forward with all losses, backward, AdamW). Prints the
machine and the median samples/s in float32 and, where the hardware computes bf16 at all (a GPU, a CPU
with AVX512-BF16 or AMX), with bf16 autocast; the line marked "tmr train" is what `--precision auto`
picks there. Also times one feed-forward dropout of
a batch, torch's against `model.dropout`'s (the CPU training step's largest cost besides matrix products).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import torch.nn.functional as F

from common import DEFAULT_DATA, machine
from formats.user_dirs import user_cache_dir
from model.config import LossConfig, TMRConfig
from model.data_sources import load_split
from model.datasets import keep_durations
from model.dropout import dropout
from model.network import TMR
from model.text import TextBackbone
from model.train import (
    TextFeatures,
    TrainConfig,
    caption_texts,
    length_grouped_batches,
    training_normalizer,
    has_native_bf16,
    training_samples,
)

CACHE = user_cache_dir() / "features"


def time_steps(device: torch.device, batches, texts, normalizer, steps: int, bf16: bool) -> list[float]:
    """Seconds per sample for `steps` optimiser steps (after one warm-up step)."""
    torch.manual_seed(0)
    model = TMR(TMRConfig(), loss=LossConfig()).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    per_sample = []
    for index, chunk in enumerate(batches[: steps + 1]):
        batch = texts.batch(chunk, normalizer).to(device)
        started = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            losses = model(batch)
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if index:  # the first step pays for allocation and kernel selection
            per_sample.append((time.perf_counter() - started) / len(chunk))
    return per_sample


def time_dropout(batch, batch_size: int, repeats: int = 20) -> None:
    """Median milliseconds of one dropout over a (batch, frames, ff_size) activation, both ways."""
    frames = max(len(sample.feats) for sample in batch)
    x = torch.randn(batch_size, frames, TMRConfig().ff_size)
    for name, function in (("torch F.dropout", F.dropout), ("model.dropout", dropout)):
        seconds = []
        for _ in range(repeats):
            started = time.perf_counter()
            function(x, 0.1, True)
            seconds.append(time.perf_counter() - started)
        print(f"{name:16s} {1000 * statistics.median(seconds):6.1f} ms for a {tuple(x.shape)} activation")


def computes_bf16(device: torch.device) -> bool:
    """Whether bf16 autocast runs at all (AVX512-BF16 or AMX on a CPU), so both can be timed side by side;
    `has_native_bf16` says whether the trainer picks it."""
    if device.type == "cuda":
        return has_native_bf16(device)
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {machine()}, torch {torch.__version__}")

    config = TrainConfig()
    records = keep_durations(load_split(args.data, "train", cache_dir=CACHE), config.min_seconds, config.max_seconds)
    backbone = TextBackbone()
    texts = TextFeatures(backbone, caption_texts(records, config), sentence_model=backbone)
    normalizer = training_normalizer(records, config)
    rng = np.random.default_rng(0)
    batches = []
    while len(batches) < args.steps + 1:
        batches += length_grouped_batches(training_samples(records, config, rng), config.batch_size, rng)
    mean_frames = np.mean([len(s.feats) for batch in batches[1 : args.steps + 1] for s in batch])
    print(f"{len(records)} training clips; batches of {config.batch_size}, {mean_frames:.0f} frames per sample on average")

    time_dropout(batches[1], config.batch_size)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    runs = [(device, bf16) for device in devices for bf16 in (False, True) if not bf16 or computes_bf16(device)]
    for device, bf16 in runs:
        name = f"{device.type} {'bf16' if bf16 else 'fp32'}"
        per_sample = time_steps(device, batches, texts, normalizer, args.steps, bf16)
        chosen = "  <- tmr train" if bf16 == has_native_bf16(device) else ""
        print(f"{name:10s} {1 / statistics.median(per_sample):8.1f} samples/s (median of {len(per_sample)} steps){chosen}")


if __name__ == "__main__":
    main()
