"""`tmr caption`: the sentences of a text bank that best describe a motion.

The bank's embeddings depend only on the checkpoint and the sentences, so they are computed once and
cached, keyed by both: beside the library (`L.d/cache/`) when the command was given one with --store or
$TMR_STORE, else in `$XDG_CACHE_HOME/tmr/` (else ~/.cache/tmr/); those of the default bank under
the default checkpoint ship with the model (`model/bank.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from formats.atomic import save_npy_atomic
from formats.errors import TmrError
from formats.load_options import LoadOptions
from formats.text_files import read_lines
from formats.user_dirs import user_cache_dir
from tmrcli.library.embedding import embed_whole
from tmrcli.library.results import CaptionHit

if TYPE_CHECKING:
    from model import Retriever
    from model.small_work import SmallWorkRetriever

__all__ = ["read_text_bank", "bank_embeddings", "caption_motion", "caption_file"]


def read_text_bank(path: Path) -> list[str]:
    """The user's sentences, one per line (blank lines, `# comment` lines and duplicates left out)."""
    texts = list(dict.fromkeys(line for line in read_lines(path, "the sentences") if not line.startswith("#")))
    if not texts:
        raise TmrError(path, "no sentences in the file (one per line)")
    return texts


def bank_embeddings(retriever: Retriever | SmallWorkRetriever, texts: list[str], cache: Path | None = None) -> np.ndarray:
    """(N, dim) embeddings of the bank, from the cache folder (`cache`, else the user's) when this
    checkpoint already embedded it (or from the shipped file, for the default bank and checkpoint)."""
    from model.bank import bank_key, shipped_bank_embeddings

    key = bank_key(retriever.sha256, texts)
    shipped = shipped_bank_embeddings(key)
    if shipped is not None and shipped.shape[0] == len(texts):
        return shipped
    cached = (cache if cache is not None else user_cache_dir()) / f"bank-{key}.npy"
    if cached.is_file():
        try:
            embeddings = np.load(cached, allow_pickle=False)
            if embeddings.shape[0] == len(texts):
                return embeddings
        except (OSError, ValueError):
            pass  # a damaged cache entry is recomputed and replaced
    embeddings = retriever.encode_texts(texts)
    try:
        save_npy_atomic(cached, embeddings)
    except OSError:
        pass  # no writable cache: still works, only slower next time
    return embeddings


def caption_motion(motion: np.ndarray, texts: list[str], embeddings: np.ndarray, k: int) -> list[CaptionHit]:
    """The k sentences whose embeddings are closest to the motion's (dim,) embedding, best first."""
    from model.similarity import cosine_to_score

    scores = cosine_to_score(embeddings @ motion)
    order = np.argsort(-scores, kind="stable")[:k]
    return [CaptionHit(rank, round(float(scores[i]), 4), texts[i]) for rank, i in enumerate(order, 1)]


def caption_file(
    path: Path,
    retriever: Retriever | SmallWorkRetriever,
    k: int,
    *,
    texts: Path | None = None,
    options: LoadOptions | None = None,
    cache: Path | None = None,
) -> list[CaptionHit]:
    """`tmr caption`: the k sentences of the bank (the user's file, else the default model's) that best
    describe the motion file at `path`; the bank's embeddings are cached in `cache` (else the user's)."""
    from formats.reading import read_features
    from model.bank import default_text_bank

    bank = read_text_bank(texts) if texts is not None else default_text_bank()
    _, feats, _ = read_features(path, options or LoadOptions())
    return caption_motion(embed_whole(retriever, feats), bank, bank_embeddings(retriever, bank, cache), k)
