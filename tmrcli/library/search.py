"""Ranked motions for a query embedding: HNSW candidates from the base plus every live delta entry,
re-ranked exactly on the stored embeddings, one hit per file (its best-matching stretch).

One hit per file is what people browsing a library want: ten different takes, not ten overlapping
windows of one long take; the hit's start and end say where in the take the match is.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from formats.load_options import LoadOptions
from model.bank import default_text_bank
from model.calibration import confidences
from model.similarity import cosine_to_score
from tmrcli.library.ann import ann_candidates
from tmrcli.library.caption import bank_embeddings
from tmrcli.library.embedding import embed_text_query, embed_whole
from tmrcli.library.errors import checkpoint_mismatch
from tmrcli.library.results import SearchHit
from tmrcli.library.store import MotionStore, Snapshot
from tmrcli.library.storefile import StoreFile

if TYPE_CHECKING:
    from model.inference import Retriever
    from model.small_work import SmallWorkRetriever

__all__ = [
    "LibraryQuery", "text_query", "example_query", "check_checkpoint", "search_library", "find_motions",
    "find_motions_on_disk",
]  # fmt: skip

_FIRST_CANDIDATES = 8  # per wanted hit: windows of one take crowd the nearest neighbours


@dataclass(frozen=True)
class _Scored:
    path: str
    start: float
    end: float
    score: float
    embedding: np.ndarray


@dataclass(frozen=True)
class LibraryQuery:
    """What a library is searched with: the query's (dim,) embedding; for a text, the embeddings of
    the caption bank its hits' confidence is measured against and how much it reads like a motion
    description; for an example motion, its own file, which is never its own hit."""

    embedding: np.ndarray
    bank: np.ndarray | None = None
    likeness: float = 1.0
    exclude: str | None = None


def text_query(retriever: Retriever | SmallWorkRetriever, text: str, cache: Path | None = None) -> LibraryQuery:
    """A text query with its caption bank (embedded once per checkpoint, cached in `cache`, else the
    user's cache)."""
    embedding, likeness = embed_text_query(retriever, text)
    return LibraryQuery(embedding, bank_embeddings(retriever, default_text_bank(), cache), likeness)


def example_query(retriever: Retriever | SmallWorkRetriever, feats: np.ndarray, path: str) -> LibraryQuery:
    """A query by the example motion `feats`, read from `path` (left out of its own hits)."""
    return LibraryQuery(embed_whole(retriever, feats), exclude=os.path.abspath(path))


def check_checkpoint(snapshot: Snapshot, sha256: str | None, in_use: str | None = None) -> None:
    """StoreError unless the library's embeddings were made by the checkpoint with this SHA256
    (`in_use`: that checkpoint's name or path, for the message)."""
    stored = snapshot.checkpoint_sha256
    if stored is not None and stored != sha256:
        raise checkpoint_mismatch(snapshot, sha256, in_use)


def _best_per_file(
    store_file: StoreFile, replaced: set[str], query: np.ndarray, rows: np.ndarray | None, limit: int, exclude: str | None
) -> list[_Scored]:
    """Exact scores (cos + 1) / 2 of the given entry rows (all when None): each file's best entry, best
    first, at most `limit` files, leaving out replaced files and `exclude`. Reads the embeddings of
    the rows and the paths of the files it returns, nothing else."""
    files, starts, ends = store_file.entry_spans()
    rows = np.arange(len(files)) if rows is None else rows
    if not len(rows):
        return []
    embeddings = store_file.entry_column("embedding", rows)
    scores = cosine_to_score(embeddings @ query)
    order = np.argsort(-scores, kind="stable")
    _, first = np.unique(files[rows[order]], return_index=True)
    best = order[np.sort(first)][: limit + len(replaced) + 1]  # each file's best row, best first
    paths = store_file.paths_at(files[rows[best]])
    kept = [
        _Scored(path, float(starts[rows[i]]), float(ends[rows[i]]), float(scores[i]), embeddings[i])
        for i, path in zip(best, paths)
        if path not in replaced and path != exclude
    ]
    return kept[:limit]


def _base_scored(snapshot: Snapshot, replaced: set[str], query: np.ndarray, k: int, exclude: str | None) -> list[_Scored]:
    """HNSW candidates of the base, widened until they name k files (or cover the whole base)."""
    base = snapshot.base
    assert base is not None
    index = snapshot.ann_index()
    want = _FIRST_CANDIDATES * max(k, 1)
    while True:
        scored = _best_per_file(base, replaced, query, ann_candidates(index, query, want), k, exclude)
        if len(scored) >= k or want >= base.header.entries:
            return scored
        want *= 4


def search_library(
    snapshot: Snapshot,
    query: np.ndarray,
    k: int,
    *,
    checkpoint_sha256: str | None,
    min_score: float = 0.0,
    exclude: str | None = None,
    bank: np.ndarray | None = None,
    likeness: float = 1.0,
    min_confidence: float = 0.0,
) -> list[SearchHit]:
    """The k files best matching `query` (dim,) unit norm, best first, each with its best stretch;
    `exclude` leaves one path out (the example of a query by example). `checkpoint_sha256` names the
    checkpoint that embedded the query: StoreError unless it made the library's embeddings too. With
    the embeddings of a sentence `bank` (text queries), each hit gets its confidence (scaled by the
    query's `likeness`, `model/likeness.py`), and hits below `min_confidence` are left out."""
    check_checkpoint(snapshot, checkpoint_sha256)
    scored: list[_Scored] = []
    for store_file, replaced in zip(snapshot.store_files, snapshot.replaced_after()):
        if store_file is not snapshot.base:
            scored += _best_per_file(store_file, replaced, query, None, k, exclude)
        elif store_file.header.entries:
            scored += _base_scored(snapshot, replaced, query, k, exclude)
    # A path is live in one store file only, so each appears once; best first, ties by path.
    ranked = sorted(scored, key=lambda s: (-s.score, s.path))
    # Scores are shown to 4 decimals; --min-score compares with what people see.
    ranked = [s for s in ranked if round(s.score, 4) >= min_score]
    if bank is None:
        sure: list[float | None] = [None] * len(ranked)
    else:
        sure = [round(float(c), 3) for c in confidences(query, np.array([s.embedding for s in ranked]), bank, likeness)]
        kept = [i for i, c in enumerate(sure) if c >= min_confidence]
        ranked, sure = [ranked[i] for i in kept], [sure[i] for i in kept]
    return [
        SearchHit(rank, round(s.score, 4), s.path, round(s.start, 2), round(s.end, 2), c)
        for rank, (s, c) in enumerate(zip(ranked[:k], sure[:k]), 1)
    ]


def find_motions(store: MotionStore, retriever: Retriever | SmallWorkRetriever, k: int, **query: Any) -> list[SearchHit]:
    """`tmr search`'s hits (find_motions_on_disk's, whose keywords it takes), without the count of gone files."""
    return find_motions_on_disk(store, retriever, k, **query)[0]


def _one_thread(retriever: Retriever | SmallWorkRetriever) -> contextlib.AbstractContextManager[None]:
    """One query is too small to share between threads: one is about as fast on an idle machine and
    several times faster on a busy one. A `SmallWorkRetriever` sees to it itself, without torch."""
    from model.small_work import SmallWorkRetriever

    if isinstance(retriever, SmallWorkRetriever):
        return contextlib.nullcontext()
    from model.threads import torch_threads

    return torch_threads(1)


def find_motions_on_disk(
    store: MotionStore,
    retriever: Retriever | SmallWorkRetriever,
    k: int,
    *,
    text: str | None = None,
    like: Path | None = None,
    min_score: float = 0.0,
    min_confidence: float = 0.0,
    options: LoadOptions | None = None,
    cache: Path | None = None,
) -> tuple[list[SearchHit], int]:
    """Embed the text (or the example motion `like`) and search the library with it: the k best files
    that still exist (a file deleted since indexing is never offered), ranked 1..k, and how many
    better-scoring indexed files were left out because they are gone. StoreError when the library was
    embedded by another checkpoint than the retriever's. Text hits carry their confidence against the
    model's caption bank (embedded once per checkpoint, cached in `cache`, else the user's cache)."""
    from model.checkpoint_file import checkpoint_reference

    with store.snapshot() as view, _one_thread(retriever):
        check_checkpoint(view, retriever.sha256, checkpoint_reference(retriever.checkpoint))  # before any encoding
        if like is None:
            query = text_query(retriever, text or "", cache)
        else:
            from formats.reading import read_features  # the readers, only for a query by example

            query = example_query(retriever, read_features(like, options or LoadOptions())[1], str(like))
        want = k
        while True:
            hits = search_library(
                view, query.embedding, want, checkpoint_sha256=retriever.sha256, min_score=min_score,
                exclude=query.exclude, bank=query.bank, likeness=query.likeness, min_confidence=min_confidence,
            )
            present = [hit for hit in hits if os.path.exists(hit.path)]
            if len(present) >= k or len(hits) < want:
                break
            want += len(hits) - len(present)
    kept = present[:k]
    shown_until = hits.index(kept[-1]) + 1 if kept else len(hits)  # the gone files among these were left out
    gone = shown_until - len(kept)
    return [replace(hit, rank=rank) for rank, hit in enumerate(kept, 1)], gone
