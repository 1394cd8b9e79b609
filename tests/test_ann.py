"""The HNSW index against exact search, its fingerprinting and its recovery from damage."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tmrcli.library.ann import ann_candidates, ann_for_base, build_ann, load_ann, save_ann
from tmrcli.library.store import MotionStore
from store_helpers import fake_record


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_hnsw_agrees_with_exact_search() -> None:
    rng = np.random.default_rng(0)
    base, queries = _unit(rng, 5000, 32), _unit(rng, 50, 32)
    index = build_ann([base[:3000], base[3000:]], 5000, 32)
    recalls = []
    for query in queries:
        exact = set(np.argsort(-(base @ query))[:10])
        found = ann_candidates(index, query, 10)
        assert np.all(np.diff(found) > 0)  # increasing rows, as h5py wants
        recalls.append(len(exact & set(found)) / 10)
    assert np.mean(recalls) >= 0.99


def test_load_refuses_an_index_of_other_contents(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    path = tmp_path / "x.hnsw"
    save_ann(build_ann([_unit(rng, 100, 16)], 100, 16), path)
    assert load_ann(path, 16, 100) is not None
    assert load_ann(path, 16, 101) is None
    assert load_ann(tmp_path / "missing.hnsw", 16, 100) is None
    path.write_bytes(path.read_bytes()[:50])
    assert load_ann(path, 16, 100) is None


def test_a_missing_or_damaged_index_is_rebuilt_from_the_library(tmp_path: Path) -> None:
    store = MotionStore(tmp_path / "library.h5")
    records = [fake_record(f"/m/{i}", 3, seed=i) for i in range(40)]
    with store.writer("a" * 64, 8) as writer:
        writer.commit(records)
        writer.compact()
    with store.snapshot() as view:
        path = store.ann_path(view.base.header.file_id)
        assert not path.exists()
        ann_for_base(view.base, path)
        assert path.is_file()
        path.write_bytes(b"\0" * 100)
        index = ann_for_base(view.base, path)
        query = records[7].embeddings[1]
        assert len(ann_candidates(index, query, 200)) == view.base.header.entries  # capped at what exists
        assert 7 * 3 + 1 in ann_candidates(index, query, 1)
        assert load_ann(path, 8, 120) is not None  # saved again, whole
