"""A BERT encoder in plain torch, for inference: the same `last_hidden_state` as transformers' BertModel.

Why: importing transformers (5.x) and building a model through `AutoModel` costs about 2.3 s on two
CPU cores, more than `tmr search` may take from a cold start. A BERT-type backbone (the packaged
all-MiniLM-L6-v2 is one) only needs its `config.json`, `model.safetensors` and `tokenizer.json`:
this module reads those with safetensors and the `tokenizers` library (both import in milliseconds)
and runs the standard post-LayerNorm BERT layers. Folders of other model types return None from
`load_bert`, and the caller falls back to transformers.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

__all__ = ["BertSettings", "BertEncoder", "BertTokenizer", "load_bert"]

_GELU = {"gelu": nn.GELU(), "gelu_new": nn.GELU(approximate="tanh"), "relu": nn.ReLU()}


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
        """Picks the fields from a parsed `config.json`; KeyError when one is missing."""
        return cls(**{name: config[name] for name in cls.__dataclass_fields__})


class _Layer(nn.Module):
    """Self-attention then feed-forward, each followed by a residual and LayerNorm (post-norm BERT)."""

    def __init__(self, s: BertSettings) -> None:
        super().__init__()
        width = s.hidden_size
        self.heads = s.num_attention_heads
        self.query, self.key, self.value = nn.Linear(width, width), nn.Linear(width, width), nn.Linear(width, width)
        self.attention_out = nn.Linear(width, width)
        self.attention_norm = nn.LayerNorm(width, eps=s.layer_norm_eps)
        self.intermediate = nn.Linear(width, s.intermediate_size)
        self.activation = _GELU[s.hidden_act]
        self.output = nn.Linear(s.intermediate_size, width)
        self.output_norm = nn.LayerNorm(width, eps=s.layer_norm_eps)

    def forward(self, x: Tensor, bias: Tensor) -> Tensor:
        b, length, width = x.shape

        def split(t: Tensor) -> Tensor:  # (b, L, width) -> (b, heads, L, width / heads)
            return t.view(b, length, self.heads, width // self.heads).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(width // self.heads) + bias  # (b, heads, L, L)
        context = (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, length, width)
        x = self.attention_norm(x + self.attention_out(context))
        return self.output_norm(x + self.output(self.activation(self.intermediate(x))))


class BertEncoder(nn.Module):
    """Token ids -> last hidden states; padding positions are masked out of the attention."""

    def __init__(self, settings: BertSettings) -> None:
        super().__init__()
        s = settings
        self.word_embeddings = nn.Embedding(s.vocab_size, s.hidden_size)
        self.position_embeddings = nn.Embedding(s.max_position_embeddings, s.hidden_size)
        self.token_type_embeddings = nn.Embedding(s.type_vocab_size, s.hidden_size)
        self.embedding_norm = nn.LayerNorm(s.hidden_size, eps=s.layer_norm_eps)
        self.layers = nn.ModuleList(_Layer(s) for _ in range(s.num_hidden_layers))
        self.width = s.hidden_size

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """(b, L) ids and (b, L) 1/0 mask -> (b, L, width) float32."""
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions) + self.token_type_embeddings.weight[0]
        x = self.embedding_norm(x)
        bias = torch.zeros(attention_mask.shape, dtype=x.dtype, device=x.device)
        bias = bias.masked_fill(attention_mask == 0, torch.finfo(x.dtype).min)[:, None, None, :]  # (b, 1, 1, L)
        for layer in self.layers:
            x = layer(x, bias)
        return x


# transformers' parameter names -> ours (per layer the prefix `encoder.layer.{i}.` becomes `layers.{i}.`).
_RENAMES = {
    "embeddings.word_embeddings.": "word_embeddings.",
    "embeddings.position_embeddings.": "position_embeddings.",
    "embeddings.token_type_embeddings.": "token_type_embeddings.",
    "embeddings.LayerNorm.": "embedding_norm.",
    "attention.self.query.": "query.",
    "attention.self.key.": "key.",
    "attention.self.value.": "value.",
    "attention.output.dense.": "attention_out.",
    "attention.output.LayerNorm.": "attention_norm.",
    "intermediate.dense.": "intermediate.",
    "output.dense.": "output.",
    "output.LayerNorm.": "output_norm.",
}


def _rename(key: str) -> str | None:
    key = key.removeprefix("bert.")
    if key.startswith("encoder.layer."):
        index, rest = key.removeprefix("encoder.layer.").split(".", 1)
        for old, new in _RENAMES.items():
            if rest.startswith(old):
                return f"layers.{index}.{new}{rest.removeprefix(old)}"
        return None
    for old, new in _RENAMES.items():
        if key.startswith(old):
            return new + key.removeprefix(old)
    return None  # pooler, position_ids, heads: not part of last_hidden_state


class BertTokenizer:
    """A `tokenizers` fast tokenizer from `tokenizer.json`: [CLS] ... [SEP], truncated, unpadded."""

    def __init__(self, path: Path, max_length: int) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(path))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length)
        self.pad_id = int(self._tokenizer.token_to_id("[PAD]") or 0)

    def encode(self, texts: list[str]) -> list[list[int]]:
        """One list of token ids per text."""
        return [encoding.ids for encoding in self._tokenizer.encode_batch(texts)]


def load_bert(folder: str | Path, max_length: int) -> tuple[BertEncoder, BertTokenizer] | None:
    """The encoder (eval mode, frozen) and tokenizer of a local BERT-type folder, or None when the folder
    is not one this module can run (another model type, no safetensors weights, no tokenizer.json)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    files = [folder / name for name in ("config.json", "model.safetensors", "tokenizer.json")]
    if not all(file.is_file() for file in files):
        return None
    config = json.loads(files[0].read_text(encoding="utf-8"))
    if config.get("model_type") != "bert" or config.get("position_embedding_type", "absolute") != "absolute":
        return None
    if config.get("hidden_act") not in _GELU:
        return None
    encoder = BertEncoder(BertSettings.from_config(config))
    weights = {new: value for key, value in load_file(str(files[1])).items() if (new := _rename(key)) is not None}
    encoder.load_state_dict(weights, strict=True)
    return encoder.eval().requires_grad_(False), BertTokenizer(files[2], max_length)
