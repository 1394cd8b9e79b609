"""The library as `tmr serve` keeps it open (`tmrcli/library/live.py`): searched from memory when it
fits, with the same hits as from disk, and a commit beside it seen at the next view."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from store_helpers import fake_record

from tmrcli.library import live
from tmrcli.library.live import LiveLibrary
from tmrcli.library.search import search_library
from tmrcli.library.store import MotionStore

DIM = 256


@pytest.fixture(scope="module")
def retriever():
    from model import load_retriever

    return load_retriever("default")


def _library(folder: Path, sha256: str) -> MotionStore:
    """A base of 200 files (1-5 entries each) and a delta that replaces some and removes others."""
    store = MotionStore(folder / "library.h5")
    rng = np.random.default_rng(5)
    with store.writer(sha256, DIM) as writer:
        writer.commit([fake_record(f"/m/{i:03d}", int(rng.integers(1, 6)), dim=DIM, seed=i) for i in range(200)])
        writer.compact()
        replaced = [fake_record(f"/m/{i:03d}", 2, dim=DIM, seed=500 + i) for i in range(0, 40, 4)]
        writer.commit(replaced, removed=["/m/001"])
    return store


def _queries(count: int) -> np.ndarray:
    queries = np.random.default_rng(9).normal(size=(count, DIM)).astype(np.float32)
    return queries / np.linalg.norm(queries, axis=1, keepdims=True)


def test_kept_in_memory_searches_as_from_disk(tmp_path: Path, retriever) -> None:
    store = _library(tmp_path, retriever.sha256)
    library = LiveLibrary(store, retriever)
    try:
        with library.view() as view, store.snapshot() as on_disk:
            kept = [f.entry_column("embedding") for f in view.snapshot.store_files]
            assert all(not k.flags.writeable for k in kept)  # served from memory, read-only
            for query in _queries(20):
                assert view.search(query, 10, retriever.sha256) == search_library(
                    on_disk, query, 10, checkpoint_sha256=retriever.sha256
                )
                assert view.search(query, 5, retriever.sha256, exclude="/m/002") == search_library(
                    on_disk, query, 5, checkpoint_sha256=retriever.sha256, exclude="/m/002"
                )
    finally:
        library.close()


def test_a_commit_is_seen_and_unchanged_files_stay_in_memory(tmp_path: Path, retriever) -> None:
    store = _library(tmp_path, retriever.sha256)
    library = LiveLibrary(store, retriever)
    try:
        with library.view() as view:
            base = view.snapshot.base.entry_column("embedding")
        added = fake_record("/m/added", 1, dim=DIM, seed=7777)
        with store.writer(retriever.sha256, DIM) as writer:
            writer.commit([added])
        with library.view() as view:
            assert len(view.snapshot.deltas) == 2
            assert view.snapshot.base.entry_column("embedding") is base  # not read again
            assert view.search(added.embeddings[0], 1, retriever.sha256)[0].path == "/m/added"
    finally:
        library.close()


def test_a_library_too_large_to_keep_is_searched_from_disk(
    tmp_path: Path, retriever, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _library(tmp_path, retriever.sha256)
    monkeypatch.setattr(live, "KEPT_EMBEDDINGS_BYTES", 1000)
    library = LiveLibrary(store, retriever)
    try:
        with library.view() as view, store.snapshot() as on_disk:
            assert all(f.entry_column("embedding").flags.writeable for f in view.snapshot.store_files)
            query = _queries(1)[0]
            assert view.search(query, 10, retriever.sha256) == search_library(
                on_disk, query, 10, checkpoint_sha256=retriever.sha256
            )
    finally:
        library.close()
