"""What a BERT-family folder holds, read without torch: the settings, the weight names, the tokenizer.

Shared by the plain-torch BERT (`model/bert.py`) and the numpy one of small work (`model/small_work.py`),
so both accept exactly the same folders: BERT or DistilBERT with absolute learned positions, a GELU
(exact or tanh) or ReLU activation, `model.safetensors` and a `tokenizer.json`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ACTIVATIONS", "BertSettings", "BertFolder", "Naming", "rename", "BertTokenizer", "bert_folder"]

# transformers' activation names that both implementations run.
ACTIVATIONS = ("gelu", "gelu_new", "relu")


@dataclass(frozen=True)
class BertSettings:
    """The fields of a BERT `config.json` that shape the network."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float
    hidden_act: str

    @classmethod
    def from_config(cls, config: dict) -> BertSettings:
        """Picks the fields from a parsed BERT or DistilBERT `config.json`; KeyError when one is missing."""
        if config.get("model_type") == "distilbert":
            config = {theirs: config[ours] for theirs, ours in _DISTILBERT_FIELDS.items()} | {
                "vocab_size": config["vocab_size"], "max_position_embeddings": config["max_position_embeddings"],
                "type_vocab_size": 0, "layer_norm_eps": 1e-12,  # DistilBERT: no token types, eps fixed
            }  # fmt: skip
        return cls(**{name: config[name] for name in cls.__dataclass_fields__})


# BertSettings field -> DistilBERT's config.json name.
_DISTILBERT_FIELDS = {
    "hidden_size": "dim",
    "num_hidden_layers": "n_layers",
    "num_attention_heads": "n_heads",
    "intermediate_size": "hidden_dim",
    "hidden_act": "activation",
}


@dataclass(frozen=True)
class Naming:
    """How one model type names its weights in transformers: the prefix of a pretraining checkpoint
    (`bert.`, `distilbert.`), the prefix of layer i's keys, and their names -> ours."""

    model_prefix: str
    layer_prefix: str
    renames: dict[str, str]


_EMBEDDINGS = {
    "embeddings.word_embeddings.": "word_embeddings.",
    "embeddings.position_embeddings.": "position_embeddings.",
    "embeddings.token_type_embeddings.": "token_type_embeddings.",
    "embeddings.LayerNorm.": "embedding_norm.",
}
# transformers' parameter names -> ours (per layer the layer prefix and index become `layers.{i}.`);
# query, key and value are fused into one qkv projection by each loader.
_NAMINGS = {
    "bert": Naming("bert.", "encoder.layer.", _EMBEDDINGS | {
        "attention.self.query.": "query.",
        "attention.self.key.": "key.",
        "attention.self.value.": "value.",
        "attention.output.dense.": "attention_out.",
        "attention.output.LayerNorm.": "attention_norm.",
        "intermediate.dense.": "intermediate.",
        "output.dense.": "output.",
        "output.LayerNorm.": "output_norm.",
    }),
    "distilbert": Naming("distilbert.", "transformer.layer.", _EMBEDDINGS | {
        "attention.q_lin.": "query.",
        "attention.k_lin.": "key.",
        "attention.v_lin.": "value.",
        "attention.out_lin.": "attention_out.",
        "sa_layer_norm.": "attention_norm.",
        "ffn.lin1.": "intermediate.",
        "ffn.lin2.": "output.",
        "output_layer_norm.": "output_norm.",
    }),
}  # fmt: skip


def rename(key: str, naming: Naming) -> str | None:
    """Our name of a transformers weight (`layers.{i}.qkv`'s parts as query/key/value), or None for
    one that `last_hidden_state` does not use."""
    key = key.removeprefix(naming.model_prefix)
    if key.startswith(naming.layer_prefix):
        index, rest = key.removeprefix(naming.layer_prefix).split(".", 1)
        for old, new in naming.renames.items():
            if rest.startswith(old):
                return f"layers.{index}.{new}{rest.removeprefix(old)}"
        return None
    for old, new in naming.renames.items():
        if key.startswith(old):
            return new + key.removeprefix(old)
    return None  # pooler, position_ids, heads (DistilBERT's vocab_*): not part of last_hidden_state


class BertTokenizer:
    """A `tokenizers` fast tokenizer from `tokenizer.json`: [CLS] ... [SEP], unpadded."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(path))
        self._tokenizer.no_padding()
        self.pad_id = int(self._tokenizer.token_to_id("[PAD]") or 0)

    def encode(self, texts: list[str], max_length: int) -> list[list[int]]:
        """One list of token ids per text, at most `max_length` ([CLS] and [SEP] included)."""
        self._tokenizer.enable_truncation(max_length)
        return [encoding.ids for encoding in self._tokenizer.encode_batch(texts)]


@dataclass(frozen=True)
class BertFolder:
    """A folder both BERT implementations can run: its settings, weight naming and files."""

    settings: BertSettings
    naming: Naming
    weights: Path
    tokenizer: Path


def bert_folder(folder: str | Path) -> BertFolder | None:
    """The BERT-family model in `folder`, or None when it is not one tmr runs itself (another model
    type, relative or sinusoidal positions, another activation, no safetensors weights, no
    tokenizer.json)."""
    folder = Path(folder)
    files = [folder / name for name in ("config.json", "model.safetensors", "tokenizer.json")]
    if not all(file.is_file() for file in files):
        return None
    config = json.loads(files[0].read_text(encoding="utf-8"))
    naming = _NAMINGS.get(config.get("model_type"))
    if naming is None or config.get("position_embedding_type", "absolute") != "absolute":
        return None
    if config.get("sinusoidal_pos_embds") or config.get("hidden_act", config.get("activation")) not in ACTIVATIONS:
        return None
    return BertFolder(BertSettings.from_config(config), naming, files[1], files[2])
