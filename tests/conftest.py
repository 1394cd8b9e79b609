"""Shared fixtures: where the real data lives, and a private user folder for every test."""

from __future__ import annotations

import csv
import os
from functools import lru_cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The project's motion-capture corpus sits beside the checkout; TMR_DATA points elsewhere if needed.
DATA = Path(os.environ.get("TMR_DATA", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture(autouse=True)
def _private_user_folders(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the store and caches at a temporary folder so no test touches the user's own library."""
    home = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("TMR_STORE", str(home / "library.h5"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared motion-capture corpus; tests that need it fail loudly when it is missing."""
    if not (DATA / "splits").is_dir():
        pytest.fail(f"shared data not found at {DATA} (set TMR_DATA)")
    return DATA


@lru_cache(maxsize=1)
def clip_table() -> tuple[dict[str, str], ...]:
    """The rows of shared/data/clips.tsv, the one table of every clip in the corpus (path relative
    to the data folder, source, format, subject, label, tags, split)."""
    with open(DATA / "clips.tsv", newline="") as file:
        return tuple(csv.DictReader(file, delimiter="\t"))
