"""A short real training run: the pieces learn (loss falls, train-set retrieval far above chance).

Thirty Bandai-Namco clips of the training split (10 actions x 3 styles), real 263-d features from
`formats`, captions made from their labels, the real MiniLM backbone and sentence filter, the paper's
losses and weights; a small network so it runs in seconds on one CPU thread. Retrieval quality of the
shipped model is not claimed here, only that training moves the model the right way.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from formats.features import extract_features
from formats.motion import load_motion
from model import TMR, Normalizer, TMRConfig, collate_pairs
from model.evaluate import label_correctness, retrieval_metrics
from model_helpers import minilm

CONTENTS = ("bow", "bye", "byebye", "dash", "guide", "run", "walk", "walk-back", "walk-left", "walk-right")
STYLES = ("normal", "happy", "tired")
FRAMES = 64  # 3.2 s at 20 fps
STEPS = 100
SMALL = TMRConfig(latent_dim=64, ff_size=128, num_layers=2, num_heads=4, dropout=0.0)


def _clips(data_dir: Path) -> list[dict[str, str]]:
    train = set((data_dir / "splits" / "train.txt").read_text().split())
    with (data_dir / "bandai-namco" / "labels.tsv").open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    chosen = {
        (row["content"], row["style"]): row
        for row in rows
        if f"bandai-namco/{row['file']}" in train and row["content"] in CONTENTS and row["style"] in STYLES
    }
    return [chosen[key] for key in sorted(chosen)]


def mean(rows: list[dict[str, float]], key: str) -> float:
    return sum(row[key] for row in rows) / len(rows)


def _t2m_r1(model: TMR, batch, labels: list[str]) -> tuple[float, float]:
    """Train-set text->motion R@1 (percent): label-aware (same action) and per pair."""
    model.eval()
    with torch.no_grad():
        sim = model.similarity(model.encode_texts(batch.texts), model.encode_motions(batch.motions)).numpy()
    model.train()
    label_aware = retrieval_metrics(sim, label_correctness(labels, labels)).r1
    return label_aware, retrieval_metrics(sim, np.eye(len(sim), dtype=bool)).r1


@pytest.fixture
def one_thread():
    # Deterministic and robust on a busy 2-core machine, where OpenMP threads wait on each other.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_short_training_run_learns(data_dir: Path, one_thread: None) -> None:
    clips = _clips(data_dir)
    assert len(clips) == 30
    feats = [extract_features(load_motion(data_dir / "bandai-namco" / c["file"]).joints)[:FRAMES] for c in clips]
    captions = [f"a person does {c['content'].replace('-', ' ')} in a {c['style']} way" for c in clips]
    labels = [c["content"] for c in clips]
    normalizer = Normalizer.from_features(feats)
    backbone = minilm()
    motions = [normalizer.normalize(f) for f in feats]
    batch = collate_pairs(motions, backbone.token_features(captions), backbone.sentence_embeddings(captions))

    torch.manual_seed(0)
    model = TMR(SMALL)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    before = _t2m_r1(model, batch, labels)
    history = []
    for _ in range(STEPS):
        losses = model(batch)
        optimizer.zero_grad()
        losses["loss"].backward()
        optimizer.step()
        history.append({name: value.item() for name, value in losses.items()})
    after = _t2m_r1(model, batch, labels)

    first, last = history[:5], history[-5:]
    chance = 100 * label_correctness(labels, labels).mean()  # 10 %: three clips per action
    print(f"\nloss {mean(first, 'loss'):.3f} -> {mean(last, 'loss'):.3f}, contrastive "
          f"{mean(first, 'contrastive'):.3f} -> {mean(last, 'contrastive'):.3f}; t2m R@1 label-aware "
          f"{before[0]:.1f} -> {after[0]:.1f} % (chance {chance:.1f} %), per pair {before[1]:.1f} -> {after[1]:.1f} % "
          f"(chance {100 / len(clips):.1f} %)")
    assert mean(last, "loss") < 0.7 * mean(first, "loss")
    assert mean(last, "contrastive") < 0.5 * mean(first, "contrastive")
    assert chance == pytest.approx(10.0)
    assert after[0] >= 5 * chance  # label-aware, at least five times chance
    assert after[1] >= 30.0  # per pair, chance 3.3 %
