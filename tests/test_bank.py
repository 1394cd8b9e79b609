"""The default text bank's shipped embeddings: made by the shipped checkpoint from the shipped sentences,
and used in place of embedding the bank again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model import load_retriever
from model.bank import SHIPPED_BANK, bank_key, default_text_bank, shipped_bank_embeddings
from tmrcli.library.caption import bank_embeddings


def test_shipped_bank_is_the_default_checkpoints_embedding_of_the_default_bank(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    retriever, texts = load_retriever("default", device="cpu"), default_text_bank()
    shipped = shipped_bank_embeddings(bank_key(retriever.sha256, texts))
    assert shipped is not None, f"{SHIPPED_BANK} is stale (checkpoint or captions changed): run python -m model.bank"
    np.testing.assert_allclose(shipped, retriever.encode_texts(texts), atol=1e-5, rtol=0)
    # With an empty user cache, the shipped file answers and nothing is embedded or written.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(retriever, "encode_texts", lambda *_: pytest.fail("the shipped bank was embedded again"))
    assert bank_embeddings(retriever, texts) is not None and not any(tmp_path.iterdir())


def test_another_bank_or_a_damaged_file_is_no_answer(tmp_path: Path) -> None:
    key = bank_key("0" * 64, ["a person walks"])
    assert shipped_bank_embeddings(key) is None  # made for another checkpoint and sentences
    damaged = tmp_path / "bank.npz"
    damaged.write_bytes(SHIPPED_BANK.read_bytes()[:1000])
    assert shipped_bank_embeddings(key, damaged) is None
