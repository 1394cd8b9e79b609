"""Shared fixtures: where the real data lives, and a private user folder for every test."""

from __future__ import annotations

import csv
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import pytest

from model.clips import checkout_corpus_root

REPO = Path(__file__).resolve().parents[1]
DATA = checkout_corpus_root()
NO_CORPUS = f"needs the shared motion corpus, expected at {DATA}: put it there or set TMR_DATA=/path/to/data"


def corpus_present() -> bool:
    return (DATA / "splits").is_dir()


def require_corpus() -> None:
    """Stop a test that needs the corpus when it is missing: a failure in CI (CI=true), where the corpus
    must be there, and a skip elsewhere, so a fresh clone's test run ends with one line per such test."""
    if corpus_present():
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(NO_CORPUS, pytrace=False)
    pytest.skip(NO_CORPUS)


def corpus_cases(values: Iterable[Any]) -> list[Any]:
    """Parameters read from the corpus; without it one placeholder case, so the test still runs (and its
    data_dir fixture says what is missing) instead of vanishing as an empty parameter set."""
    if corpus_present():
        return list(values)
    return [pytest.param(None, id="no-corpus")]


@pytest.fixture(autouse=True)
def _private_user_folders(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the store and caches at a temporary folder so no test touches the user's own library."""
    home = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("TMR_STORE", str(home / "library.h5"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    for name in ("TMR_TEXT_MODEL", "HF_HOME", "HF_HUB_CACHE"):  # text models: only where a test puts them
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared motion-capture corpus (see require_corpus for when it is missing)."""
    require_corpus()
    return DATA


@lru_cache(maxsize=1)
def clip_table() -> tuple[dict[str, str], ...]:
    """The rows of shared/data/clips.tsv, the one table of every clip in the corpus (path relative
    to the data folder, source, format, subject, label, tags, split); none without the corpus."""
    if not corpus_present():
        return ()
    with open(DATA / "clips.tsv", newline="") as file:
        return tuple(csv.DictReader(file, delimiter="\t"))
