"""The text bank `tmr caption` ranks by default: sentences that ship with the default model, and their
embeddings under the default checkpoint, shipped too, with their sentence embeddings in the default
backbone (what `model/likeness.py` compares a query's wording with).

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

__all__ = [
    "SHIPPED_BANK",
    "default_text_bank",
    "bank_key",
    "shipped_bank_embeddings",
    "sentences_key",
    "shipped_bank_sentences",
    "shipped_default_bank_sentences",
]

SHIPPED_BANK = Path(__file__).parent / "assets" / "default_bank.npz"


def default_text_bank() -> list[str]:
    """The distinct action sentences of the shipped caption table (Bandai-Namco contents, per-clip,
    per-tag and per-source-label captions), in table order. Style phrases and the parts of ACCAD's
    transitions are left out: alone they describe no motion. So are the tags' extra wordings (kind
    `paraphrase`, training captions): the bank stands for many different actions (the crowd a confidence
    is measured against), and a dozen wordings of one would weigh it toward that one."""
    table = read_caption_table()
    kinds = ("content", "clip", "tag", "label")
    sentences = (text.strip() for kind in kinds for texts in table[kind].values() for text in texts)
    return list(dict.fromkeys(s for s in sentences if s))


def bank_key(checkpoint_sha256: str | None, texts: list[str]) -> str:
    """What a bank's embeddings depend on: the checkpoint file and the sentences, in order."""
    return hashlib.sha256("\n".join([checkpoint_sha256 or "", *texts]).encode()).hexdigest()[:24]


def sentences_key(backbone: str, texts: list[str]) -> str:
    """What a bank's sentence embeddings depend on: the backbone (by name) and the sentences."""
    return bank_key(f"backbone:{backbone}", texts)


def shipped_bank_embeddings(key: str, path: Path = SHIPPED_BANK) -> np.ndarray | None:
    """The shipped (N, dim) embeddings when they were made for `key`, else None."""
    return _shipped(path, "key", "embeddings", key)


def shipped_bank_sentences(key: str, path: Path = SHIPPED_BANK) -> np.ndarray | None:
    """The shipped (N, width) float32 sentence embeddings when they were made for `key` (`sentences_key`), else None."""
    found = _shipped(path, "sentences_key", "sentences", key)
    return None if found is None else found.astype(np.float32)


def shipped_default_bank_sentences(backbone: str) -> np.ndarray | None:
    """The default bank's shipped sentence embeddings in `backbone` (by name), or None when none ship
    for it (another backbone, an edited caption table, a damaged file)."""
    texts = default_text_bank()
    found = shipped_bank_sentences(sentences_key(backbone, texts))
    return found if found is not None and len(found) == len(texts) else None


def _shipped(path: Path, key_name: str, array_name: str, key: str) -> np.ndarray | None:
    try:
        with np.load(path, allow_pickle=False) as shipped:
            if str(shipped[key_name]) == key:
                return shipped[array_name]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        pass  # absent or damaged: the bank is embedded instead
    return None


def _write_shipped_bank() -> None:
    """Embed the default bank with the default checkpoint, and in its backbone's sentence space
    (float16: the likeness needs two decimals), into SHIPPED_BANK."""
    from formats.atomic import write_atomic
    from model.inference import load_retriever

    retriever, texts = load_retriever("default", device="cpu"), default_text_bank()
    embeddings = retriever.encode_texts(texts)
    sentences = retriever.backbone.sentence_embeddings(texts).numpy().astype(np.float16)
    key = np.array(bank_key(retriever.sha256, texts))
    of_sentences = np.array(sentences_key(retriever.backbone.name, texts))
    arrays = dict(key=key, embeddings=embeddings, sentences_key=of_sentences, sentences=sentences)
    write_atomic(SHIPPED_BANK, lambda file: np.savez(file, **arrays))
    print(f"{SHIPPED_BANK}: {len(texts)} sentences, key {key}, sentences key {of_sentences}")


if __name__ == "__main__":
    _write_shipped_bank()
