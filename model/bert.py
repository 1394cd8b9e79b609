"""A BERT encoder in plain torch, for inference: the same `last_hidden_state` as transformers' BertModel.

Why: importing transformers (5.x) and building a model through `AutoModel` costs about 2.3 s on two
CPU cores, more than `tmr search` may take from a cold start. A BERT-family backbone (BERT, such as
the packaged all-MiniLM-L6-v2, and DistilBERT, such as the official TMR models' distilbert-base-uncased)
only needs its `config.json`, `model.safetensors` and `tokenizer.json`: this module reads those with
safetensors and the `tokenizers` library (both import in milliseconds) and runs the standard
post-LayerNorm BERT layers. DistilBERT is the same network without token-type embeddings, its fields
and weights under other names. Folders of other model types return None from `load_bert`, and the
caller falls back to transformers. Reading the folder (settings, weight names, tokenizer) needs no
torch and lives in `model/bert_files.py`.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from model.bert_files import BertSettings, BertTokenizer, bert_folder, rename
from model.packing import Packing

__all__ = ["BertSettings", "BertEncoder", "BertTokenizer", "load_bert"]

# Every name of `model.bert_files.ACTIVATIONS`.
_GELU = {"gelu": nn.GELU(), "gelu_new": nn.GELU(approximate="tanh"), "relu": nn.ReLU()}


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


def _fuse_qkv(weights: dict[str, Tensor], n_layers: int) -> dict[str, Tensor]:
    """Each layer's query, key and value weights and biases stacked into the one `qkv` projection."""
    fused = dict(weights)
    for i in range(n_layers):
        for kind in ("weight", "bias"):
            parts = [fused.pop(f"layers.{i}.{name}.{kind}") for name in ("query", "key", "value")]
            fused[f"layers.{i}.qkv.{kind}"] = torch.cat(parts)
    return fused


def load_bert(folder: str | Path) -> tuple[BertEncoder, BertTokenizer] | None:
    """The encoder (eval mode, frozen) and tokenizer of a local BERT or DistilBERT folder, or None when
    the folder is not one this module can run (`bert_folder`)."""
    from safetensors.torch import load_file

    found = bert_folder(folder)
    if found is None:
        return None
    settings = found.settings
    with torch.device("meta"):  # shapes only: the loaded tensors become the weights (no random init)
        encoder = BertEncoder(settings)
    # The network computes in float32.
    tensors = load_file(str(found.weights))
    weights = {new: value.float() for key, value in tensors.items() if (new := rename(key, found.naming))}
    encoder.load_state_dict(_fuse_qkv(weights, settings.num_hidden_layers), strict=True, assign=True)
    return encoder.eval().requires_grad_(False), BertTokenizer(found.tokenizer)
