"""Library search against a direct computation: best entry per live file, exact scores, ranked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from store_helpers import fake_record

from tmrcli.library.errors import StoreError
from tmrcli.library.search import search_library
from tmrcli.library.store import MotionStore

CKPT = "a" * 64


def _expected(records: dict[str, tuple], query: np.ndarray, k: int, exclude: str | None = None) -> list[tuple]:
    """(path, start, score) of the k best files by brute force over every live entry."""
    best = []
    for path, record in records.items():
        if path == exclude:
            continue
        scores = (record.embeddings @ query + 1) / 2
        i = int(np.argmax(scores))
        best.append((path, float(record.starts[i]), float(scores[i])))
    return sorted(best, key=lambda b: (-b[2], b[0]))[:k]


@pytest.mark.parametrize("compact", [False, True])
def test_search_equals_brute_force_over_live_entries(tmp_path: Path, compact: bool) -> None:
    rng = np.random.default_rng(3)
    store = MotionStore(tmp_path / "library.h5")
    live = {f"/m/{i:03d}": fake_record(f"/m/{i:03d}", int(rng.integers(1, 6)), dim=16, seed=i) for i in range(300)}
    with store.writer(CKPT, 16) as writer:
        writer.commit(list(live.values()))
        writer.compact()
        replaced = [fake_record(f"/m/{i:03d}", 3, dim=16, seed=1000 + i) for i in range(0, 60, 3)]
        writer.commit(replaced, removed=[f"/m/{i:03d}" for i in range(1, 60, 3)])
        writer.commit([fake_record("/m/new", 2, dim=16, seed=7)])
        if compact:
            writer.compact()
    live.update({r.file.path: r for r in replaced})
    for i in range(1, 60, 3):
        del live[f"/m/{i:03d}"]
    live["/m/new"] = fake_record("/m/new", 2, dim=16, seed=7)
    with store.snapshot() as view:
        assert len(view.deltas) == (0 if compact else 2)
        for seed in range(20):
            query = rng.normal(size=16).astype(np.float32)
            query /= np.linalg.norm(query)
            hits = search_library(view, query, 10, checkpoint_sha256=CKPT)
            want = _expected(live, query, 10)
            assert [h.path for h in hits] == [w[0] for w in want]
            assert [h.score for h in hits] == pytest.approx([w[2] for w in want], abs=1e-4)
            assert [h.start for h in hits] == pytest.approx([w[1] for w in want], abs=1e-2)
            assert [h.rank for h in hits] == list(range(1, 11))
        excluded = search_library(view, query, 5, checkpoint_sha256=CKPT, exclude=want[0][0])
        assert [h.path for h in excluded] == [w[0] for w in _expected(live, query, 5, exclude=want[0][0])]
        floor = hits[3].score
        within = search_library(view, query, 10, checkpoint_sha256=CKPT, min_score=floor)
        assert [h.path for h in within] == [h.path for h in hits[:4]]
        assert len(search_library(view, query, 1000, checkpoint_sha256=CKPT)) == len(live)


def test_search_refuses_a_query_from_another_checkpoint(tmp_path: Path) -> None:
    store = MotionStore(tmp_path / "library.h5")
    with store.writer(CKPT, 16) as writer:
        writer.commit([fake_record("/m/a", 2, dim=16, seed=1)])
    query = np.ones(16, dtype=np.float32) / 4.0
    with store.snapshot() as view:
        assert [h.path for h in search_library(view, query, 1, checkpoint_sha256=CKPT)] == ["/m/a"]
        with pytest.raises(StoreError, match="cannot be mixed"):
            search_library(view, query, 1, checkpoint_sha256="b" * 64)
