"""Small shared pieces for the model tests: a tiny seeded config and one loaded text backbone."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import torch

from model import TMR, TextBackbone, TMRConfig

# Small enough to run in milliseconds, large enough to exercise every code path (2 layers, 4 heads).
TINY = TMRConfig(latent_dim=32, ff_size=64, num_layers=2, num_heads=4)


def tiny_model(seed: int = 0, **changes: object) -> TMR:
    """A seeded randomly initialised TMR of the tiny config (plus any field changes)."""
    torch.manual_seed(seed)
    return TMR(TMRConfig(**{**TINY.to_dict(), **changes}))


@functools.lru_cache(maxsize=1)
def minilm() -> TextBackbone:
    """The packaged all-MiniLM-L6-v2, loaded once per test session (its cache is shared: tests that
    count backbone runs build their own)."""
    return TextBackbone()


_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def write_backbone(folder: Path, model_type: str, width: int, *, layers: int = 2, vocab: int | None = None) -> Path:
    """A randomly initialised (seeded) BERT or DistilBERT saved by transformers into `folder`, with the
    packaged MiniLM's uncased WordPiece tokenizer (the vocabulary of bert- and distilbert-base-uncased),
    cut to its first `vocab` ids when given, so a wide backbone stays small on disk."""
    from transformers import BertConfig, BertModel, DistilBertConfig, DistilBertModel

    from model.text import resolve_text_model

    heads = 4 if width % 64 else width // 64
    torch.manual_seed(0)
    source = Path(resolve_text_model("all-MiniLM-L6-v2"))
    vocab_size = vocab or 30522
    if model_type == "distilbert":
        config = DistilBertConfig(vocab_size=vocab_size, dim=width, n_layers=layers, n_heads=heads, hidden_dim=2 * width)
        model = DistilBertModel(config)
    else:
        config = BertConfig(vocab_size=vocab_size, hidden_size=width, num_hidden_layers=layers,
                            num_attention_heads=heads, intermediate_size=2 * width)  # fmt: skip
        model = BertModel(config)
    model.eval().save_pretrained(folder)
    for name in _TOKENIZER_FILES:
        (folder / name).write_bytes((source / name).read_bytes())
    if vocab is not None:
        tokenizer = json.loads((source / "tokenizer.json").read_text())
        tokenizer["model"]["vocab"] = {t: i for t, i in tokenizer["model"]["vocab"].items() if i < vocab}
        (folder / "tokenizer.json").write_text(json.dumps(tokenizer))
        lines = (source / "vocab.txt").read_text().splitlines()[:vocab]
        (folder / "vocab.txt").write_text("\n".join(lines) + "\n")
    return folder
