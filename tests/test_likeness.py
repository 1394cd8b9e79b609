"""How much a query reads like a description of a motion (`model/likeness.py`): real phrasings do,
nonsense does not, and nonsense therefore never looks like a confident match, whichever shipped model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model import load_retriever
from model.bank import default_text_bank, sentences_key, shipped_bank_sentences
from model.calibration import NO_CLEAR_MATCH, confidences
from model.likeness import LIKENESS_BACKBONE
from model.config import DEFAULT_TEXT_MODEL
from tmrcli.jobs.evaluation import read_queries

DATA = Path(__file__).parent / "data"
# Off-topic sentences and keyboard noise, as people type them by mistake or to try the tool.
NONSENSE = ["", "   ", "asdkj qwe zzxv", "xkcd blorp fnord", "qwertyuiop", "lorem ipsum dolor sit amet",
            "the quarterly revenue report", "purple monkey dishwasher", "bleep blop", "a recipe for tomato soup"]  # fmt: skip


@pytest.fixture(scope="module")
def retriever():
    return load_retriever("default", device="cpu")


def test_the_ramp_was_read_in_the_default_backbone() -> None:
    assert LIKENESS_BACKBONE == DEFAULT_TEXT_MODEL


def test_shipped_sentence_embeddings_are_the_backbones(retriever) -> None:
    texts = default_text_bank()
    shipped = shipped_bank_sentences(sentences_key(retriever.backbone.name, texts))
    assert shipped is not None, "the shipped bank is stale: run python -m model.bank"
    sample = slice(None, None, 7)  # the key already ties the file to these sentences; a sample checks the values
    computed = retriever.backbone.sentence_embeddings(texts[sample]).numpy()
    np.testing.assert_allclose(shipped[sample], computed, atol=2e-3, rtol=0)


def test_queries_embed_as_texts_do(retriever) -> None:
    texts = ["a person sits down", "someone jumps twice", "bleep blop", ""]
    embeddings, _ = retriever.encode_queries(texts)
    np.testing.assert_array_equal(embeddings, retriever.encode_texts(texts))


def test_real_phrasings_read_as_descriptions_and_nonsense_does_not(retriever) -> None:
    phrasings = [q.text for name in ("test_tag_queries.tsv", "heldout_queries.tsv") for q in read_queries(DATA / name)]
    _, real = retriever.encode_queries(phrasings)
    _, nonsense = retriever.encode_queries(NONSENSE)
    assert (real == 1.0).mean() >= 0.95 and real.min() > 0, sorted(zip(real, phrasings))[:5]
    assert nonsense.max() < 0.7 and np.median(nonsense) == 0.0, list(zip(NONSENSE, nonsense))


@pytest.fixture(scope="module")
def test_clip_features(data_dir: Path) -> list[np.ndarray]:
    """Features of every 12th test clip of clips.tsv: each source, each format."""
    from formats.reading import LoadOptions, read_features
    from model.clips import read_clips_table

    rows = [r for r in read_clips_table(data_dir) if r.split == "test"][::12]
    return [read_features(data_dir / r.path, LoadOptions())[1] for r in rows]


@pytest.mark.parametrize("checkpoint", ["default", "every-source"])
def test_nonsense_is_never_a_clear_match(checkpoint: str, test_clip_features: list[np.ndarray]) -> None:
    """Over real clips of every source, the top hit of each nonsense text scores as high as real
    hits do, but its confidence stays below the "no clear match" line."""
    from tmrcli.library.caption import bank_embeddings

    model = load_retriever(checkpoint, device="cpu")
    motions = model.encode_motions(test_clip_features)
    bank = bank_embeddings(model, default_text_bank())
    embeddings, likeness = model.encode_queries(NONSENSE)
    for text, query, like in zip(NONSENSE, embeddings, likeness):
        best = motions[int(np.argmax(motions @ query))]
        assert confidences(query, best, bank, float(like))[0] < NO_CLEAR_MATCH, text
