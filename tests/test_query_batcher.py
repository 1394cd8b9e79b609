"""The query batcher (`model/query_batcher.py`) on the shipped model: texts that wait together are
encoded in one call, each gets what encoding it alone gives, and the queue is bounded."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest

from model.query_batcher import QueriesWaiting, QueryBatcher

TEXTS = [
    "a person walks forward", "someone waves with the left hand", "a man runs in a circle",
    "a woman raises both hands", "the character kicks with the right leg", "a child jumps up and down",
    "a dancer spins around slowly", "an old man sits down carefully", "a person walks forward",
]  # fmt: skip


@pytest.fixture(scope="module")
def retriever():
    from model import load_retriever

    return load_retriever("default")


class HeldEncoder:
    """The retriever's own encode_texts, recording each call's texts; the first call waits until
    `release` is set, so the texts submitted meanwhile are known to wait together."""

    def __init__(self, retriever) -> None:
        self.retriever = retriever
        self.calls: list[list[str]] = []
        self.started, self.release = threading.Event(), threading.Event()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        self.started.set()
        self.release.wait(timeout=60)
        return self.retriever.encode_texts(texts)


def test_waiting_texts_are_encoded_together_as_each_alone(retriever) -> None:
    encoder = HeldEncoder(retriever)
    batcher = QueryBatcher(encoder)
    try:
        first = batcher.submit(TEXTS[0])
        assert encoder.started.wait(timeout=60)
        waiting = [batcher.submit(text) for text in TEXTS[1:]]  # while the first encode runs
        encoder.release.set()
        embeddings = [future.result(timeout=60) for future in [first, *waiting]]
    finally:
        batcher.close()
    # One call for the first text, one for all that waited (the repeated text encoded once).
    assert encoder.calls == [TEXTS[:1], list(dict.fromkeys(TEXTS[1:]))]
    alone = np.stack([retriever.encode_texts([text])[0] for text in TEXTS])
    np.testing.assert_allclose(np.stack(embeddings), alone, atol=1e-5, rtol=0)
    assert np.array_equal(embeddings[0], alone[0])  # a lone text is the same call as encoding it alone


def test_a_full_queue_refuses_and_the_batcher_keeps_answering(retriever) -> None:
    encoder = HeldEncoder(retriever)
    batcher = QueryBatcher(encoder, max_waiting=2)
    try:
        running = batcher.submit(TEXTS[0])
        assert encoder.started.wait(timeout=60)
        waiting = [batcher.submit(TEXTS[1]), batcher.submit(TEXTS[2])]
        with pytest.raises(QueriesWaiting) as refused:
            batcher.submit(TEXTS[3])
        assert refused.value.waiting == 2
        encoder.release.set()
        assert [f.result(timeout=60).shape for f in [running, *waiting]] == [(256,)] * 3
        assert batcher.encode(TEXTS[3]).shape == (256,)  # the queue emptied: taken again
    finally:
        batcher.close()


def test_an_encoder_error_reaches_every_caller_of_its_batch(retriever) -> None:
    def encode(texts: Sequence[str]) -> np.ndarray:
        if any(not text for text in texts):
            raise ValueError("an empty text")
        return retriever.encode_texts(texts)

    batcher = QueryBatcher(encode)
    try:
        with pytest.raises(ValueError, match="an empty text"):
            batcher.encode("")
        assert batcher.encode(TEXTS[0]).shape == (256,)  # the worker survived
    finally:
        batcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        batcher.submit(TEXTS[0])
