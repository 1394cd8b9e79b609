"""A BERT encoder in plain torch, for inference: the same `last_hidden_state` as transformers' BertModel.

Why: importing transformers (5.x) and building a model through `AutoModel` costs about 2.3 s on two
CPU cores, more than `tmr search` may take from a cold start. A BERT-family backbone (BERT, such as
the packaged all-MiniLM-L6-v2, and DistilBERT, such as the official TMR models' distilbert-base-uncased)
only needs its `config.json`, `model.safetensors` and `tokenizer.json`: this module reads those with
safetensors and the `tokenizers` library (both import in milliseconds) and runs the standard
post-LayerNorm BERT layers. DistilBERT is the same network without token-type embeddings, its fields
and weights under other names. Folders of other model types return None from `load_bert`, and the
caller falls back to transformers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from model.packing import Packing

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


class _Layer(nn.Module):
    """Self-attention then feed-forward, each followed by a residual and LayerNorm (post-norm BERT).

    Runs on packed rows (`model/packing.py`): only attention sees the padded batch, so padding costs
    no projection or feed-forward work. Query, key and value are one fused projection (`qkv`)."""

    def __init__(self, s: BertSettings) -> None:
        super().__init__()
        width = s.hidden_size
        self.heads = s.num_attention_heads
        self.qkv = nn.Linear(width, 3 * width)  # rows: query, key, value
        self.attention_out = nn.Linear(width, width)
        self.attention_norm = nn.LayerNorm(width, eps=s.layer_norm_eps)
        self.intermediate = nn.Linear(width, s.intermediate_size)
        self.activation = _GELU[s.hidden_act]
        self.output = nn.Linear(s.intermediate_size, width)
        self.output_norm = nn.LayerNorm(width, eps=s.layer_norm_eps)

    def forward(self, rows: Tensor, packing: Packing, attn_mask: Tensor | None) -> Tensor:
        """(N, width) packed hidden states, (b, 1, 1, L) bool mask (True = may attend; None when
        nothing is padded) -> (N, width)."""
        (b, length), width = packing.mask.shape, rows.shape[-1]
        qkv = packing.unpack(self.qkv(rows)).view(b, length, 3 * self.heads, width // self.heads)
        q, k, v = qkv.transpose(1, 2).chunk(3, dim=1)  # (b, heads, L, width / heads) each
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask).transpose(1, 2)  # (b, L, heads, hd)
        x = self.attention_norm(rows + self.attention_out(packing.pack(context.reshape(b, length, width))))
        return self.output_norm(x + self.output(self.activation(self.intermediate(x))))


def _uninitialised_embedding(count: int, width: int) -> nn.Embedding:
    """An embedding table left uninitialised: its weights always come from the model's files, and
    random initialisation on the meta device would pull in torch's symbolic-shape machinery."""
    return nn.Embedding(count, width, _weight=torch.empty(count, width))


class BertEncoder(nn.Module):
    """Token ids -> last hidden states; padding positions are masked out of the attention."""

    def __init__(self, settings: BertSettings) -> None:
        super().__init__()
        s = settings
        self.word_embeddings = _uninitialised_embedding(s.vocab_size, s.hidden_size)
        self.position_embeddings = _uninitialised_embedding(s.max_position_embeddings, s.hidden_size)
        # Token type 0 for every token: its row is a constant added to every position (none for DistilBERT).
        self.token_type_embeddings = (
            _uninitialised_embedding(s.type_vocab_size, s.hidden_size) if s.type_vocab_size else None
        )
        self.embedding_norm = nn.LayerNorm(s.hidden_size, eps=s.layer_norm_eps)
        self.layers = nn.ModuleList(_Layer(s) for _ in range(s.num_hidden_layers))
        self.width = s.hidden_size
        self.max_positions = s.max_position_embeddings

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """(b, L) ids and (b, L) 1/0 mask -> (b, L, width) float32, zeros at padding."""
        mask = attention_mask.bool()
        packing = Packing.from_mask(mask)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).expand_as(input_ids)
        ids, positions = packing.pack(input_ids[..., None])[:, 0], packing.pack(positions[..., None])[:, 0]
        x = self.word_embeddings(ids) + self.position_embeddings(positions)
        if self.token_type_embeddings is not None:
            x = x + self.token_type_embeddings.weight[0]
        rows = self.embedding_norm(x)  # (N, width)
        attn_mask = None if packing.is_dense else mask[:, None, None, :]  # (b, 1, 1, L); None: nothing to mask
        for layer in self.layers:
            rows = layer(rows, packing, attn_mask)
        return packing.unpack(rows)


@dataclass(frozen=True)
class _Naming:
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
# query, key and value are fused into qkv by _fuse_qkv.
_NAMINGS = {
    "bert": _Naming("bert.", "encoder.layer.", _EMBEDDINGS | {
        "attention.self.query.": "query.",
        "attention.self.key.": "key.",
        "attention.self.value.": "value.",
        "attention.output.dense.": "attention_out.",
        "attention.output.LayerNorm.": "attention_norm.",
        "intermediate.dense.": "intermediate.",
        "output.dense.": "output.",
        "output.LayerNorm.": "output_norm.",
    }),
    "distilbert": _Naming("distilbert.", "transformer.layer.", _EMBEDDINGS | {
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


def _rename(key: str, naming: _Naming) -> str | None:
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


def _fuse_qkv(weights: dict[str, Tensor], n_layers: int) -> dict[str, Tensor]:
    """Each layer's query, key and value weights and biases stacked into the one `qkv` projection."""
    fused = dict(weights)
    for i in range(n_layers):
        for kind in ("weight", "bias"):
            parts = [fused.pop(f"layers.{i}.{name}.{kind}") for name in ("query", "key", "value")]
            fused[f"layers.{i}.qkv.{kind}"] = torch.cat(parts)
    return fused


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


def load_bert(folder: str | Path) -> tuple[BertEncoder, BertTokenizer] | None:
    """The encoder (eval mode, frozen) and tokenizer of a local BERT or DistilBERT folder, or None when
    the folder is not one this module can run (another model type, relative or sinusoidal positions,
    another activation, no safetensors weights, no tokenizer.json)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    files = [folder / name for name in ("config.json", "model.safetensors", "tokenizer.json")]
    if not all(file.is_file() for file in files):
        return None
    config = json.loads(files[0].read_text(encoding="utf-8"))
    naming = _NAMINGS.get(config.get("model_type"))
    if naming is None or config.get("position_embedding_type", "absolute") != "absolute":
        return None
    if config.get("sinusoidal_pos_embds") or config.get("hidden_act", config.get("activation")) not in _GELU:
        return None
    settings = BertSettings.from_config(config)
    with torch.device("meta"):  # shapes only: the loaded tensors become the weights (no random init)
        encoder = BertEncoder(settings)
    # The network computes in float32.
    weights = {new: value.float() for key, value in load_file(str(files[1])).items() if (new := _rename(key, naming))}
    encoder.load_state_dict(_fuse_qkv(weights, settings.num_hidden_layers), strict=True, assign=True)
    return encoder.eval().requires_grad_(False), BertTokenizer(files[2])
