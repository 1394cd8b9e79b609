"""The inference encoders in numpy, float32: the BERT text backbone and TMR's two ACTOR-style encoders.

Why: a cold `tmr search` spends more importing torch (2.5-3 s on two cores) than the 1.2 s it may take
in all, while one query sentence or one motion is a few hundred rows of small matrix products, which
numpy computes as fast. Both networks are stacks of the same post-norm Transformer layer (fused
query-key-value projection, attention, residual and LayerNorm, feed-forward, residual and LayerNorm),
so one `PostNormLayer` runs both; they differ in embeddings, LayerNorm eps and activation.

The computation is the torch modules' (`model/bert.py`, `model/network.py` in eval mode) on dense
inputs (no padding, hence no attention mask): texts go one at a time, windows of one size together.
Two functions numpy lacks are approximated: erf, for the exact GELU (`erf`, below), and the sinusoidal
table's frequencies are rounded from float64 where torch's float32 `exp` is off by one ulp on a few
channels (positions then differ by at most 2e-5 over the first 300 rows). `tests/test_small_work.py`
holds the embeddings to torch's within 1e-5 on real sentences and clips.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from model.bert_files import BertSettings
from model.config import TMRConfig

__all__ = [
    "erf",
    "gelu",
    "ACTIVATIONS",
    "Linear",
    "LayerNorm",
    "PostNormLayer",
    "sinusoidal_table",
    "WordRows",
    "NumpyBert",
    "NumpyActorEncoder",
    "actor_weight_shapes",
]

Array = np.ndarray

# erf(x) = x P(x^2) / Q(x^2) on [-4, 4] (beyond, erf is +-1 to float32 precision): the rational
# approximation of Eigen's and XLA's float erf, evaluated here in float64. Largest error against
# Python's math.erf on a 2e-6 grid of [-6, 6]: 6.5e-8, so GELU is within 5e-7 of the exact one in float32.
_ERF_P = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06, -5.69250639462346e-05,
          -7.34990630326855e-04, -2.95459980854025e-03, -1.60960333262415e-02)  # fmt: skip
_ERF_Q = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03, -7.37332916720468e-03,
          -1.42647390514189e-02)  # fmt: skip


def erf(x: Array) -> Array:
    """The error function, elementwise, in float64 (see `_ERF_P` for its accuracy)."""
    x = np.clip(np.asarray(x, dtype=np.float64), -4.0, 4.0)
    x2 = x * x
    p = x2 * _ERF_P[0]
    for c in _ERF_P[1:-1]:
        p += c
        p *= x2
    p += _ERF_P[-1]
    q = x2 * _ERF_Q[0]
    for c in _ERF_Q[1:-1]:
        q += c
        q *= x2
    q += _ERF_Q[-1]
    p *= x
    p /= q
    return p


_GELU_CHUNK = 32_768  # elements per pass: the float64 temporaries of `erf` stay in the CPU's cache


def gelu(x: Array) -> Array:
    """The exact GELU, x * Phi(x) = x (1 + erf(x / sqrt 2)) / 2 (torch's default), as float32. Computed
    in chunks: on a take's windows (millions of values) a whole-array float64 pass per step is
    memory-bound, three times slower."""
    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    out = np.empty_like(flat)
    for start in range(0, flat.size, _GELU_CHUNK):
        part = flat[start : start + _GELU_CHUNK]
        phi = erf(part * np.float32(1.0 / math.sqrt(2.0)))
        phi += 1.0
        phi *= 0.5
        phi *= part
        out[start : start + _GELU_CHUNK] = phi
    return out.reshape(np.shape(x))


def _gelu_tanh(x: Array) -> Array:
    """GELU's tanh approximation (transformers' `gelu_new`)."""
    return (0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))).astype(np.float32)


def _relu(x: Array) -> Array:
    return np.maximum(x, np.float32(0.0))


# Activation names (transformers' and TMRConfig's) -> function.
ACTIVATIONS: dict[str, Callable[[Array], Array]] = {"gelu": gelu, "gelu_new": _gelu_tanh, "relu": _relu}


def _float32(weights: Mapping[str, Array], name: str) -> Array:
    return np.ascontiguousarray(weights[name], dtype=np.float32)


@dataclass(frozen=True)
class Linear:
    """y = x W^T + b, W (out, in) as torch stores it."""

    weight: Array
    bias: Array

    @classmethod
    def of(cls, weights: Mapping[str, Array], prefix: str) -> Linear:
        return cls(_float32(weights, prefix + "weight"), _float32(weights, prefix + "bias"))

    def __call__(self, x: Array) -> Array:
        """(..., in) -> (..., out), as one matrix product over every row (faster than one per batch item)."""
        rows = x.reshape(-1, x.shape[-1]) @ self.weight.T
        rows += self.bias
        return rows.reshape(*x.shape[:-1], -1)


@dataclass(frozen=True)
class LayerNorm:
    """Normalise the last axis to mean 0, variance 1 (biased, as torch), then scale and shift."""

    weight: Array
    bias: Array
    eps: float

    @classmethod
    def of(cls, weights: Mapping[str, Array], prefix: str, eps: float) -> LayerNorm:
        return cls(_float32(weights, prefix + "weight"), _float32(weights, prefix + "bias"), eps)

    def __call__(self, x: Array) -> Array:
        centred = x - x.mean(axis=-1, keepdims=True)
        variance = (centred * centred).mean(axis=-1, keepdims=True)
        return centred / np.sqrt(variance + np.float32(self.eps)) * self.weight + self.bias


@dataclass(frozen=True)
class PostNormLayer:
    """Self-attention then feed-forward, each followed by a residual and LayerNorm: BERT's layer and
    `nn.TransformerEncoderLayer(norm_first=False)` in eval mode, on a dense batch."""

    heads: int
    qkv: Linear  # rows: query, key, value
    attention_out: Linear
    attention_norm: LayerNorm
    intermediate: Linear
    activation: Callable[[Array], Array]
    output: Linear
    output_norm: LayerNorm

    def __call__(self, x: Array, n_queries: int | None = None) -> Array:
        """x (B, S, D) -> (B, Q, D): the outputs of the first `n_queries` positions (all when None)."""
        batch, length, width = x.shape
        head_dim = width // self.heads
        qkv = self.qkv(x).reshape(batch, length, 3, self.heads, head_dim).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (B, H, S, hd) each
        if n_queries is not None:
            q, x = q[:, :, :n_queries], x[:, :n_queries]
        scores = (q @ k.transpose(0, 1, 3, 2)) * np.float32(1.0 / math.sqrt(head_dim))  # (B, H, Q, S)
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        context = (scores / scores.sum(axis=-1, keepdims=True)) @ v  # (B, H, Q, hd)
        context = context.transpose(0, 2, 1, 3).reshape(batch, -1, width)
        h = self.attention_norm(x + self.attention_out(context))
        return self.output_norm(h + self.output(self.activation(self.intermediate(h))))


def sinusoidal_table(length: int, dim: int) -> Array:
    """(length, dim) float32 Transformer positions, as `model.network.sinusoidal_table`: sin on even
    channels, cos on odd ones."""
    exponents = np.arange(0, dim, 2, dtype=np.float32) * np.float32(-math.log(10000.0) / dim)
    freq = np.exp(exponents.astype(np.float64)).astype(np.float32)  # (D/2,)
    angles = (np.arange(length, dtype=np.float32)[:, None] * freq).astype(np.float64)  # float32 products
    table = np.empty((length, dim), dtype=np.float32)
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles)
    return table


# Token ids -> their rows of the word-embedding table (L, width): a table's own indexing, or a reader
# of only those rows from the weights file (the table is most of a small BERT's weights).
WordRows = Callable[[list[int]], Array]


@dataclass(frozen=True)
class NumpyBert:
    """Token ids of one text -> its last hidden states, as `model.bert.BertEncoder`."""

    word_rows: WordRows
    position_embeddings: Array
    token_type: Array | None  # the row of token type 0 (none for DistilBERT)
    embedding_norm: LayerNorm
    layers: tuple[PostNormLayer, ...]

    @classmethod
    def from_weights(cls, weights: Mapping[str, Array], s: BertSettings, word_rows: WordRows | None = None) -> NumpyBert:
        """From weights under `model/bert_files.py`'s names (query, key and value still apart);
        `word_rows` stands in for `word_embeddings.weight` when given."""
        eps, activation = s.layer_norm_eps, ACTIVATIONS[s.hidden_act]

        def layer(i: int) -> PostNormLayer:
            p = f"layers.{i}."
            parts = [Linear.of(weights, f"{p}{name}.") for name in ("query", "key", "value")]
            qkv = Linear(np.concatenate([l.weight for l in parts]), np.concatenate([l.bias for l in parts]))
            return PostNormLayer(
                s.num_attention_heads, qkv, Linear.of(weights, p + "attention_out."),
                LayerNorm.of(weights, p + "attention_norm.", eps), Linear.of(weights, p + "intermediate."),
                activation, Linear.of(weights, p + "output."), LayerNorm.of(weights, p + "output_norm.", eps),
            )  # fmt: skip

        if word_rows is None:
            table = _float32(weights, "word_embeddings.weight")
            word_rows = table.__getitem__
        token_type = _float32(weights, "token_type_embeddings.weight")[0] if s.type_vocab_size else None
        return cls(
            word_rows, _float32(weights, "position_embeddings.weight"), token_type,
            LayerNorm.of(weights, "embedding_norm.", eps), tuple(layer(i) for i in range(s.num_hidden_layers)),
        )  # fmt: skip

    @property
    def max_positions(self) -> int:
        return self.position_embeddings.shape[0]

    def __call__(self, ids: list[int]) -> Array:
        """(L,) token ids -> (L, width) float32."""
        x = self.word_rows(ids) + self.position_embeddings[: len(ids)]
        if self.token_type is not None:
            x = x + self.token_type
        x = self.embedding_norm(x)[None]  # (1, L, width)
        for layer in self.layers:
            x = layer(x)
        return x[0]


def actor_weight_shapes(n_inputs: int, config: TMRConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of an `ActorEncoder`'s weights (its `state_dict()`, without the prefix)."""
    d, ff = config.latent_dim, config.ff_size
    shapes: dict[str, tuple[int, ...]] = {
        "projection.weight": (d, n_inputs), "projection.bias": (d,), "dist_tokens": (config.n_dist_tokens, d),
    }  # fmt: skip
    for i in range(config.num_layers):
        p = f"layers.{i}."
        shapes |= {
            p + "self_attn.in_proj_weight": (3 * d, d), p + "self_attn.in_proj_bias": (3 * d,),
            p + "self_attn.out_proj.weight": (d, d), p + "self_attn.out_proj.bias": (d,),
            p + "linear1.weight": (ff, d), p + "linear1.bias": (ff,),
            p + "linear2.weight": (d, ff), p + "linear2.bias": (d,),
            p + "norm1.weight": (d,), p + "norm1.bias": (d,), p + "norm2.weight": (d,), p + "norm2.bias": (d,),
        }  # fmt: skip
    return shapes


_TORCH_LAYER_NORM_EPS = 1e-5  # nn.LayerNorm's default, which TMR's layers use


@dataclass(frozen=True)
class NumpyActorEncoder:
    """Inputs (B, L, n_inputs) -> mu (B, latent_dim), as `model.network.ActorEncoder` in eval mode:
    distribution tokens prepended, sinusoidal positions, the layers (the last one only for the
    tokens), mu the first token's output."""

    projection: Linear
    dist_tokens: Array
    layers: tuple[PostNormLayer, ...]

    @classmethod
    def from_weights(cls, weights: Mapping[str, Array], config: TMRConfig) -> NumpyActorEncoder:
        """From an encoder's checkpoint weights (names of `actor_weight_shapes`), float16 or float32."""
        eps, activation = _TORCH_LAYER_NORM_EPS, ACTIVATIONS[config.activation]

        def layer(i: int) -> PostNormLayer:
            p = f"layers.{i}."
            return PostNormLayer(
                config.num_heads,
                Linear(_float32(weights, p + "self_attn.in_proj_weight"), _float32(weights, p + "self_attn.in_proj_bias")),
                Linear.of(weights, p + "self_attn.out_proj."), LayerNorm.of(weights, p + "norm1.", eps),
                Linear.of(weights, p + "linear1."), activation, Linear.of(weights, p + "linear2."),
                LayerNorm.of(weights, p + "norm2.", eps),
            )  # fmt: skip

        layers = tuple(layer(i) for i in range(config.num_layers))
        return cls(Linear.of(weights, "projection."), _float32(weights, "dist_tokens"), layers)

    def __call__(self, x: Array) -> Array:
        batch, length, _ = x.shape
        n_tokens, width = self.dist_tokens.shape
        tokens = np.broadcast_to(self.dist_tokens, (batch, n_tokens, width))
        seq = np.concatenate([tokens, self.projection(x)], axis=1) + sinusoidal_table(n_tokens + length, width)
        for layer in self.layers[:-1]:
            seq = layer(seq)
        return self.layers[-1](seq, n_queries=n_tokens)[:, 0]  # (B, D)
