"""Encoding throughput: texts/s and motions/s (10-second clips) at batch sizes 1 and 64.

Measures the public `Retriever` path end to end (tokeniser, frozen backbone, text encoder; feature
normalisation, motion encoder), with the backbone's cache off so every text is really encoded. CPU
figures use 2 threads; a GPU is measured too when one is present. Each figure is the median of
several runs. Throughput depends only on the architecture, so an untrained model of the default
config stands in when no checkpoint is given.

Texts are real captions (KIT-ML, from the project's shared data) when available, else generated ones.

Usage: .venv/bin/python benchmarks/encode.py [--checkpoint FILE] [--data DIR] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from common import DEFAULT_DATA, machine
from model import Checkpoint, Normalizer, Provenance, Retriever, TextBackbone, TMR, TMRConfig, load_checkpoint

CLIP_FRAMES = 200  # 10 s at 20 fps
BATCH_SIZES = (1, 64)
ITEMS = {1: 64, 64: 512}  # items encoded per run at each batch size


def _texts(data: Path, count: int) -> list[str]:
    annotations = data / "humanml3d-ref" / "tmr" / "annotations" / "kitml" / "annotations.json"
    rng = random.Random(0)
    if annotations.is_file():
        entries = json.loads(annotations.read_text()).values()
        texts = sorted({a["text"] for entry in entries for a in entry["annotations"]})
        return rng.sample(texts, count)
    words = "a person walks forward slowly then turns left and raises both hands kicks with the right leg".split()
    return [" ".join(rng.choice(words) for _ in range(rng.randint(4, 14))) for _ in range(count)]


def _checkpoint(path: str | None) -> Checkpoint:
    if path is not None:
        return load_checkpoint(path)
    torch.manual_seed(0)
    config = TMRConfig()
    untrained = TMR(config, with_decoder=False).eval()
    return Checkpoint(untrained, Normalizer.identity(config.n_feats), Provenance(trained_on="nothing (benchmark)"))


def _median_rate(run: Callable[[], object], items: int, repeats: int) -> float:
    run()  # warm-up: allocator, kernels, lazy initialisation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return items / statistics.median(times)


def _machine(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA)"
    return f"{machine()}, {torch.get_num_threads()} torch threads"


def measure(
    device: torch.device, checkpoint: Checkpoint, texts: list[str], repeats: int
) -> list[tuple[str, int, float]]:
    """(kind, batch size, items per second) for texts and motions on `device`."""
    config = checkpoint.config
    backbone = TextBackbone(config.text_model, max_length=config.max_text_length, device=device, cache=False)
    retriever = Retriever(checkpoint, backbone=backbone, device=device)
    rng = np.random.default_rng(0)
    motions = [rng.normal(size=(CLIP_FRAMES, config.n_feats)).astype(np.float32) for _ in range(max(ITEMS.values()))]
    rows = []
    for batch_size in BATCH_SIZES:
        count = ITEMS[batch_size]
        rate = _median_rate(lambda: retriever.encode_texts(texts[:count], batch_size=batch_size), count, repeats)
        rows.append(("texts", batch_size, rate))
        rate = _median_rate(lambda: retriever.encode_motions(motions[:count], batch_size=batch_size), count, repeats)
        rows.append(("motions (10 s)", batch_size, rate))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="checkpoint file or registered name (default: untrained default config)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per figure (median reported)")
    args = parser.parse_args()

    checkpoint = _checkpoint(args.checkpoint)
    texts = _texts(args.data, max(ITEMS.values()))
    torch.set_num_threads(2)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}; {len(texts)} texts, mean {np.mean([len(t.split()) for t in texts]):.1f} words")
    for device in devices:
        print(f"\n{_machine(device)}")
        print(f"{'what':<16}{'batch':>6}{'per second':>14}")
        for kind, batch_size, rate in measure(device, checkpoint, texts, args.repeats):
            print(f"{kind:<16}{batch_size:>6}{rate:>14.1f}")


if __name__ == "__main__":
    main()
