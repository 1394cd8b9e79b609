"""The text bank `tmr caption` ranks by default: sentences that ship with the default model, and their
embeddings under the default checkpoint, shipped too.

Why ship the embeddings: the first `tmr caption`, `localize` or `search` on a machine would otherwise
embed the whole bank (hundreds of sentences through the text backbone and encoder) before answering.
They are a pure function of the checkpoint and the sentences; the file records a key of both, so a
retrained checkpoint or an edited caption table simply misses and the bank is embedded as before.
Regenerate after changing either: `python -m model.bank`.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np

from model.corpus import read_caption_table

__all__ = ["SHIPPED_BANK", "default_text_bank", "bank_key", "shipped_bank_embeddings"]

SHIPPED_BANK = Path(__file__).parent / "assets" / "default_bank.npz"


def default_text_bank() -> list[str]:
    """The distinct action sentences of the shipped caption table (Bandai-Namco contents, per-clip,
    per-tag and per-source-label captions), in table order. Style phrases and the parts of ACCAD's
    transitions are left out: alone they describe no motion."""
    table = read_caption_table()
    kinds = ("content", "clip", "tag", "label")
    sentences = (text.strip() for kind in kinds for texts in table[kind].values() for text in texts)
    return list(dict.fromkeys(s for s in sentences if s))


def bank_key(checkpoint_sha256: str | None, texts: list[str]) -> str:
    """What a bank's embeddings depend on: the checkpoint file and the sentences, in order."""
    return hashlib.sha256("\n".join([checkpoint_sha256 or "", *texts]).encode()).hexdigest()[:24]


def shipped_bank_embeddings(key: str, path: Path = SHIPPED_BANK) -> np.ndarray | None:
    """The shipped (N, dim) embeddings when they were made for `key`, else None."""
    try:
        with np.load(path, allow_pickle=False) as shipped:
            if str(shipped["key"]) == key:
                return shipped["embeddings"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        pass  # absent or damaged: the bank is embedded instead
    return None


def _write_shipped_bank() -> None:
    """Embed the default bank with the default checkpoint into SHIPPED_BANK."""
    from formats.atomic import write_atomic
    from model.inference import load_retriever

    retriever, texts = load_retriever("default", device="cpu"), default_text_bank()
    embeddings = retriever.encode_texts(texts)
    key = np.array(bank_key(retriever.sha256, texts))
    write_atomic(SHIPPED_BANK, lambda file: np.savez(file, key=key, embeddings=embeddings))
    print(f"{SHIPPED_BANK}: {len(texts)} sentences, key {key}")


if __name__ == "__main__":
    _write_shipped_bank()
