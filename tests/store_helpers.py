"""Shared pieces for the library tests: a tiny seeded checkpoint, small real corpora, records."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tmrcli.library.storefile import FileRecord, StoreRecord

TINY_CONFIG = {"latent_dim": 32, "ff_size": 64, "num_layers": 2, "num_heads": 4}


def save_tiny_checkpoint(path: Path, seed: int = 0) -> Path:
    """A randomly initialised (seeded) inference checkpoint of a tiny TMR, with TMR's feature statistics."""
    import torch

    from model import TMR, Normalizer, Provenance, TMRConfig, save_checkpoint
    from conftest import DATA, require_corpus

    require_corpus()
    stats = DATA / "humanml3d-ref" / "tmr" / "stats" / "humanml3d" / "guoh3dfeats"
    torch.manual_seed(seed)
    model = TMR(TMRConfig(**TINY_CONFIG), with_decoder=False)
    normalizer = Normalizer(np.load(stats / "mean.npy"), np.load(stats / "std.npy"))
    save_checkpoint(path, model, normalizer, Provenance(f"random, seed {seed}"), include_decoder=False)
    return path


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_checkpoint(tmp_path_factory.mktemp("checkpoints") / "tiny.tmr")


@pytest.fixture(scope="session")
def other_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_checkpoint(tmp_path_factory.mktemp("checkpoints") / "other.tmr", seed=1)


def bandai_clips(data_dir: Path, count: int, take: str = "006") -> list[Path]:
    """`count` dataset-2 clips of one take, spread over contents and styles (sorted names)."""
    clips = sorted((data_dir / "bandai-namco" / "dataset-2" / "data").glob(f"*_{take}.bvh"))
    step = max(1, len(clips) // count)
    return clips[::step][:count]


def copy_clips(sources: list[Path], folder: Path) -> list[Path]:
    """Copies (never links) of real clips in a folder the test may change."""
    folder.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(source, folder / source.name)) for source in sources]


def fake_record(path: str, entries: int = 1, dim: int = 8, seed: int = 0, sha: str = "0" * 64) -> StoreRecord:
    """A record with random unit embeddings (for store mechanics, not retrieval)."""
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(entries, dim)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    starts = np.arange(entries, dtype=np.float32) * 2.5
    return StoreRecord(FileRecord(path, sha, 100, 1, 100, 30.0, 5.0), starts, starts + 5.0, emb)
