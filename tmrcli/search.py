"""Ranked motions for a query embedding: HNSW candidates from the base plus every live segment entry,
re-ranked exactly on the stored embeddings, one hit per file (its best-matching stretch).

One hit per file is what people browsing a library want: ten different takes, not ten overlapping
windows of one long take; the hit's start and end say where in the take the match is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.similarity import cosine_to_score
from tmrcli.ann import ann_candidates, ann_for_base
from tmrcli.conversion import LoadOptions, read_features
from tmrcli.embedding import embed_whole
from tmrcli.errors import StoreError
from tmrcli.generation import Generation
from tmrcli.results import SearchHit
from tmrcli.store import MotionStore, Snapshot

__all__ = ["check_checkpoint", "search_library", "find_motions"]

_FIRST_CANDIDATES = 64  # per wanted hit: windows of one take crowd the nearest neighbours


@dataclass(frozen=True)
class _Scored:
    path: str
    start: float
    end: float
    score: float


def check_checkpoint(snapshot: Snapshot, sha256: str | None) -> None:
    """StoreError unless the library's embeddings were made by the checkpoint with this SHA256."""
    stored = snapshot.checkpoint_sha256
    if stored is not None and stored != sha256:
        raise StoreError(
            snapshot.store.path,
            f"the library holds embeddings made by checkpoint {stored[:12]}..., not by the one in use "
            f"({(sha256 or '?')[:12]}...)",
            hint="use the library's --checkpoint, or re-embed it: tmr index --rebuild --checkpoint NAME|PATH",
        )


def _score_rows(generation: Generation, replaced: set[str], query: np.ndarray, rows: np.ndarray | None) -> list[_Scored]:
    """Exact scores (cos + 1) / 2 of the given entry rows (all when None), without replaced files."""
    embeddings = generation.entry_column("embedding", rows)
    if not len(embeddings):
        return []
    scores = cosine_to_score(embeddings @ query)
    paths = generation.paths_at(generation.entry_column("file", rows))
    starts, ends = generation.entry_column("start", rows), generation.entry_column("end", rows)
    return [
        _Scored(path, float(start), float(end), float(score))
        for path, start, end, score in zip(paths, starts, ends, scores)
        if path not in replaced
    ]


def _base_scored(snapshot: Snapshot, replaced: set[str], query: np.ndarray, k: int, exclude: str | None) -> list[_Scored]:
    """HNSW candidates of the base, widened until they name k files (or cover the whole base)."""
    base = snapshot.base
    assert base is not None
    index = ann_for_base(base, snapshot.store.ann_path(base.header.file_id))
    want = _FIRST_CANDIDATES * max(k, 1)
    while True:
        scored = _score_rows(base, replaced, query, ann_candidates(index, query, want))
        if len({s.path for s in scored} - {exclude}) >= k or want >= base.header.entries:
            return scored
        want *= 4


def search_library(
    snapshot: Snapshot, query: np.ndarray, k: int, *, min_score: float = 0.0, exclude: str | None = None
) -> list[SearchHit]:
    """The k files best matching `query` (dim,) unit norm, best first, each with its best stretch;
    `exclude` leaves one path out (the example of a query by example)."""
    scored: list[_Scored] = []
    for generation, replaced in zip(snapshot.generations, snapshot.replaced_after()):
        if generation is snapshot.base:
            if generation.header.entries:
                scored += _base_scored(snapshot, replaced, query, k, exclude)
        else:
            scored += _score_rows(generation, replaced, query, None)
    best: dict[str, _Scored] = {}
    for item in scored:
        if item.path != exclude and item.score >= min_score and (item.path not in best or item.score > best[item.path].score):
            best[item.path] = item
    ranked = sorted(best.values(), key=lambda s: (-s.score, s.path))[:k]
    return [SearchHit(rank, round(s.score, 4), s.path, round(s.start, 2), round(s.end, 2)) for rank, s in enumerate(ranked, 1)]


def find_motions(
    store: MotionStore,
    checkpoint: str,
    k: int,
    *,
    text: str | None = None,
    like: Path | None = None,
    min_score: float = 0.0,
    options: LoadOptions | None = None,
) -> list[SearchHit]:
    """`tmr search`: embed the text (or the example motion `like`) and search the library with it."""
    from model import load_retriever

    with store.snapshot() as view:
        retriever = load_retriever(checkpoint)
        check_checkpoint(view, retriever.sha256)
        if like is None:
            query, exclude = retriever.encode_texts([text or ""])[0], None
        else:
            _, feats, _ = read_features(like, options or LoadOptions())
            query, exclude = embed_whole(retriever, feats), str(like.resolve())
        return search_library(view, query, k, min_score=min_score, exclude=exclude)
