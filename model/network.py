"""The TMR network: two ACTOR-style encoders and the TEMOS motion decoder (paper section 3.2).

Reading order, leaves first: sinusoidal positions, multi-head attention, encoder and decoder layers,
`ActorEncoder`, `MotionDecoder`, then `TMR`, which ties them to the losses of `model/losses.py`.

The layers compute exactly what torch's `nn.TransformerEncoderLayer` / `nn.TransformerDecoderLayer`
compute in the reference (post-norm, batch-first, GELU, dropout on attention weights and on each
residual branch), and keep their parameter names, so official weights map one to one
(`model/official.py`). Three things differ from calling those modules, none changing any output
beyond float rounding: the padding mask is built once per forward pass rather than in every layer,
the last encoder layer computes only the distribution tokens (mu, logvar), the only outputs an
encoder returns, and in inference the encoders run on packed rows (`model/packing.py`), skipping
padding as the nested-tensor fast path of `nn.TransformerEncoder` does; there, the float16 weights of a
compact checkpoint run on a float16-weight kernel for small work (`model/half_weights.py`).
When training on the CPU, dropout masks come from `model/dropout.py` (same rate and scaling, far
fewer random draws); elsewhere they are torch's.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from model.batching import Padded, TrainBatch, lengths_to_mask
from model.config import LossConfig, TMRConfig
from model.dropout import Dropout, attention_with_dropout, dropout
from model.errors import CheckpointError
from model.half_weights import linear
from model.losses import Gaussian, TMRLoss, TMROutputs
from model.packing import Packing
from model.similarity import cosine_similarity, cosine_to_score

__all__ = ["sinusoidal_table", "PositionalEncoding", "ActorEncoder", "MotionDecoder", "TMR"]

_PRECOMPUTED_POSITIONS = 5000  # as the reference; longer inputs get a table computed on the fly


def sinusoidal_table(length: int, dim: int) -> Tensor:
    """(length, dim) Transformer positions: sin on even channels, cos on odd ones (Vaswani et al.)."""
    position = torch.arange(length, dtype=torch.float32)[:, None]  # (L, 1)
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))  # (D/2,)
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq)
    return table


@functools.lru_cache(maxsize=8)
def _precomputed_table(dim: int, device: torch.device) -> Tensor:
    """The first rows of `sinusoidal_table`, computed once per width and device (outside inference
    mode, so training can use the same tensor)."""
    with torch.inference_mode(False):
        return sinusoidal_table(_PRECOMPUTED_POSITIONS, dim).to(device)


class PositionalEncoding(nn.Module):
    """Adds sinusoidal positions to a (B, L, D) sequence, then dropout (ACTOR / TEMOS).

    The table is a function of the shape, not a parameter or buffer: checkpoints need not carry it,
    and a network built without memory (on the meta device, before its weights are loaded) has
    nothing left to fill in."""

    def __init__(self, dim: int, dropout: float) -> None:
        super().__init__()
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        length, dim = x.shape[1], x.shape[2]
        if length <= _PRECOMPUTED_POSITIONS:
            table = _precomputed_table(dim, x.device)[:length]
        else:
            table = sinusoidal_table(length, dim).to(x.device)
        return self.dropout(x + table)  # (B, L, D)


class MultiheadAttention(nn.Module):
    """Scaled dot-product attention with `nn.MultiheadAttention`'s parameters and initialisation."""

    def __init__(self, dim: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.dropout = dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))  # rows: query, key, value
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, queries: Tensor, context: Tensor, attn_mask: Tensor | None = None) -> Tensor:
        """queries (B, Q, D) attend to context (B, S, D); attn_mask (B, 1, 1, S) True = may attend."""
        batch, n_queries, dim = queries.shape
        head_dim = dim // self.num_heads
        w_q, w_kv = self.in_proj_weight.split([dim, 2 * dim])
        b_q, b_kv = self.in_proj_bias.split([dim, 2 * dim])
        q = F.linear(queries, w_q, b_q).view(batch, n_queries, self.num_heads, head_dim).transpose(1, 2)
        k, v = F.linear(context, w_kv, b_kv).view(batch, -1, 2 * self.num_heads, head_dim).transpose(1, 2).chunk(2, 1)
        # q (B, H, Q, hd); k, v (B, H, S, hd)
        if self.training and self.dropout > 0 and q.device.type == "cpu":
            out = attention_with_dropout(q, k, v, attn_mask, self.dropout)
        else:
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0
            )  # (B, H, Q, hd)
        return self.out_proj(out.transpose(1, 2).reshape(batch, n_queries, dim))  # (B, Q, D)

    def forward_packed(
        self, rows: Tensor, packing: Packing, attn_mask: Tensor | None, query_rows: Tensor | None = None
    ) -> Tensor:
        """Self-attention over packed rows (N, D): projections run on real rows only, attention on the
        unpacked batch. Returns (N, D), or (len(query_rows), D) for the rows `query_rows` selects
        (the same number from every sequence)."""
        (batch, length), dim = packing.mask.shape, rows.shape[-1]
        head_dim = dim // self.num_heads
        # One projection of every row, queries included: it reads the weights once either way.
        qkv = linear(rows, self.in_proj_weight, self.in_proj_bias)  # (N, 3D)
        q, k, v = packing.unpack(qkv).view(batch, length, 3 * self.num_heads, head_dim).transpose(1, 2).chunk(3, 1)
        if query_rows is not None:
            q = qkv[query_rows, :dim].reshape(batch, -1, self.num_heads, head_dim).transpose(1, 2)
        # q (B, H, Q, hd); k, v (B, H, S, hd)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask).transpose(1, 2).reshape(batch, -1, dim)
        out = packing.pack(out) if query_rows is None else out.flatten(0, 1)
        return linear(out, self.out_proj.weight, self.out_proj.bias)


class _FeedForward(nn.Module):
    """The position-wise MLP of a Transformer layer, with torch's parameter names (linear1, linear2)."""

    def __init__(self, config: TMRConfig) -> None:
        super().__init__()
        self.linear1 = nn.Linear(config.latent_dim, config.ff_size)
        self.dropout = Dropout(config.dropout)
        self.linear2 = nn.Linear(config.ff_size, config.latent_dim)
        self.activation = F.gelu if config.activation == "gelu" else F.relu

    def feed_forward(self, x: Tensor) -> Tensor:
        hidden = self.dropout(self.activation(linear(x, self.linear1.weight, self.linear1.bias)))
        return linear(hidden, self.linear2.weight, self.linear2.bias)


class EncoderLayer(_FeedForward):
    """Post-norm self-attention layer, as `nn.TransformerEncoderLayer(norm_first=False)`."""

    def __init__(self, config: TMRConfig) -> None:
        super().__init__(config)
        dim = config.latent_dim
        self.self_attn = MultiheadAttention(dim, config.num_heads, config.dropout)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.dropout1 = Dropout(config.dropout)
        self.dropout2 = Dropout(config.dropout)

    def forward(self, x: Tensor, attn_mask: Tensor, n_queries: int | None = None) -> Tensor:
        """x (B, S, D) -> (B, Q, D): outputs for the first `n_queries` positions (all when None)."""
        queries = x if n_queries is None else x[:, :n_queries]
        return self._residuals(queries, self.self_attn(queries, x, attn_mask))

    def forward_packed(
        self, rows: Tensor, packing: Packing, attn_mask: Tensor | None, query_rows: Tensor | None = None
    ) -> Tensor:
        """The same layer on packed rows (N, D) -> (N, D), or only the rows `query_rows` selects."""
        queries = rows if query_rows is None else rows[query_rows]
        return self._residuals(queries, self.self_attn.forward_packed(rows, packing, attn_mask, query_rows))

    def _residuals(self, queries: Tensor, attended: Tensor) -> Tensor:
        h = self.norm1(queries + self.dropout1(attended))
        return self.norm2(h + self.dropout2(self.feed_forward(h)))


class DecoderLayer(_FeedForward):
    """Post-norm decoder layer (self-attention, cross-attention, MLP), as `nn.TransformerDecoderLayer`."""

    def __init__(self, config: TMRConfig) -> None:
        super().__init__(config)
        dim = config.latent_dim
        self.self_attn = MultiheadAttention(dim, config.num_heads, config.dropout)
        self.multihead_attn = MultiheadAttention(dim, config.num_heads, config.dropout)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)
        self.dropout1 = Dropout(config.dropout)
        self.dropout2 = Dropout(config.dropout)
        self.dropout3 = Dropout(config.dropout)

    def forward(self, x: Tensor, memory: Tensor, attn_mask: Tensor) -> Tensor:
        """x (B, T, D) queries, memory (B, M, D), attn_mask (B, 1, 1, T) over x -> (B, T, D)."""
        x = self.norm1(x + self.dropout1(self.self_attn(x, x, attn_mask)))
        x = self.norm2(x + self.dropout2(self.multihead_attn(x, memory)))
        return self.norm3(x + self.dropout3(self.feed_forward(x)))


def _clones(make_layer: Callable[[], nn.Module], n: int) -> nn.ModuleList:
    # nn.TransformerEncoder / Decoder, which the reference uses, deep-copy one initialised layer, so
    # every layer starts from the same weights; kept for a faithful start of training. Built on the
    # meta device (to receive a checkpoint's weights) there is nothing to copy, and making each
    # layer afresh is far cheaper than deepcopy.
    layer = make_layer()
    if any(p.is_meta for p in layer.parameters()):
        return nn.ModuleList([layer] + [make_layer() for _ in range(n - 1)])
    return nn.ModuleList(copy.deepcopy(layer) for _ in range(n))


class ActorEncoder(nn.Module):
    """ACTOR-style encoder (reference `ACTORStyleEncoder`): project the inputs to the latent width,
    prepend learnable distribution tokens (mu, logvar), add positions, run the Transformer and return
    the outputs at those tokens."""

    def __init__(self, n_inputs: int, config: TMRConfig) -> None:
        super().__init__()
        self.projection = nn.Linear(n_inputs, config.latent_dim)
        # Drawn on the CPU even while a checkpoint is built on the meta device (random draws there
        # pull in torch's symbolic-shape machinery, ~1 s of imports); loading replaces it anyway.
        self.dist_tokens = nn.Parameter(torch.randn(config.n_dist_tokens, config.latent_dim, device="cpu"))
        self.positions = PositionalEncoding(config.latent_dim, config.dropout)
        self.layers = _clones(lambda: EncoderLayer(config), config.num_layers)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """x (B, L, n_inputs), mask (B, L) True = real -> (B, n_dist_tokens, D).

        Training runs on the padded batch; inference on packed rows, which skips the padding."""
        return self.forward_padded(x, mask) if self.training else self.forward_packed(x, mask)

    def forward_padded(self, x: Tensor, mask: Tensor) -> Tensor:
        """`forward` computed on the padded batch, padding rows included."""
        seq, attn_mask = self._sequence(x, mask)
        for layer in self.layers[:-1]:
            seq = layer(seq, attn_mask)
        return self.layers[-1](seq, attn_mask, n_queries=len(self.dist_tokens))  # (B, K, D)

    def forward_packed(self, x: Tensor, mask: Tensor) -> Tensor:
        """`forward` computed on the real rows only (`model/packing.py`): the same values up to rounding."""
        seq, attn_mask = self._sequence(x, mask)
        packing = Packing.from_mask(attn_mask[:, 0, 0])
        if packing.is_dense:
            attn_mask = None  # nothing to mask: attention takes its faster unmasked kernel
        rows = packing.pack(seq)  # (N, D)
        for layer in self.layers[:-1]:
            rows = layer.forward_packed(rows, packing, attn_mask)
        n_tokens = len(self.dist_tokens)
        tokens = self.layers[-1].forward_packed(rows, packing, attn_mask, packing.first_rows(n_tokens))
        return tokens.view(len(x), n_tokens, -1)  # (B, K, D)

    def _sequence(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """The distribution tokens, then the projected inputs, with positions: (B, K + L, D) and its
        attention mask (B, 1, 1, K + L)."""
        batch, n_tokens = len(x), len(self.dist_tokens)
        tokens = self.dist_tokens.expand(batch, -1, -1)  # (B, K, D)
        projected = linear(x, self.projection.weight, self.projection.bias)  # (B, L, D)
        seq = self.positions(torch.cat([tokens, projected], dim=1))  # (B, K + L, D)
        token_mask = torch.ones(batch, n_tokens, dtype=torch.bool, device=mask.device)
        return seq, torch.cat([token_mask, mask], dim=1)[:, None, None, :]


class MotionDecoder(nn.Module):
    """TEMOS / ACTOR decoder (reference `ACTORStyleDecoder`): non-autoregressive, one pass. Queries are
    sinusoidal time encodings of the wanted length; the memory is the single latent vector."""

    def __init__(self, config: TMRConfig) -> None:
        super().__init__()
        self.positions = PositionalEncoding(config.latent_dim, config.dropout)
        self.layers = _clones(lambda: DecoderLayer(config), config.num_layers)
        self.output = nn.Linear(config.latent_dim, config.n_feats)

    def forward(self, z: Tensor, mask: Tensor) -> Tensor:
        """z (B, D), mask (B, T) True = wanted frame -> motion features (B, T, n_feats), zero elsewhere."""
        batch, frames = mask.shape
        queries = self.positions(z.new_zeros(batch, frames, z.shape[1]))  # (B, T, D)
        memory = z[:, None]  # (B, 1, D)
        attn_mask = mask[:, None, None, :]  # (B, 1, 1, T)
        for layer in self.layers:
            queries = layer(queries, memory, attn_mask)
        return self.output(queries) * mask[..., None]  # (B, T, F)


class TMR(nn.Module):
    """TMR (Petrovich, Black, Varol, ICCV 2023): text and motion encoders into one latent space, plus
    the TEMOS decoder that is trained alongside them.

    Retrieval uses the means: `encode_texts` and `encode_motions` return mu. The frozen text backbone
    is not part of this module (see `model/text.py`): text inputs are its token features.
    `forward(batch)` is the training step's loss computation.
    """

    def __init__(
        self, config: TMRConfig | None = None, *, loss: LossConfig | None = None, with_decoder: bool = True
    ) -> None:
        super().__init__()
        self.config = config if config is not None else TMRConfig()
        self.text_encoder = ActorEncoder(self.config.text_width, self.config)
        self.motion_encoder = ActorEncoder(self.config.n_feats, self.config)
        self.motion_decoder = MotionDecoder(self.config) if with_decoder else None
        self.criterion = TMRLoss(loss)

    @property
    def has_decoder(self) -> bool:
        """False for inference-only models, which cannot decode or train."""
        return self.motion_decoder is not None

    def _encode(self, encoder: ActorEncoder, inputs: Padded) -> tuple[Tensor, Gaussian | None]:
        tokens = encoder(inputs.x, inputs.mask)  # (B, K, D)
        if not self.config.vae:
            return tokens[:, 0], None
        dist = Gaussian(mu=tokens[:, 0], logvar=tokens[:, 1])
        # The reference samples during training; retrieval and evaluation use the mean.
        return (dist.sample() if self.training else dist.mu), dist

    def encode_texts(self, texts: Padded) -> Tensor:
        """Token features (B, L, text_width) with mask -> mu (B, latent_dim)."""
        return self.text_encoder(texts.x, texts.mask)[:, 0]

    def encode_motions(self, motions: Padded) -> Tensor:
        """Normalised motion features (B, T, n_feats) with mask -> mu (B, latent_dim)."""
        return self.motion_encoder(motions.x, motions.mask)[:, 0]

    def decode(self, z: Tensor, lengths: list[int] | Tensor) -> Tensor:
        """Latents (B, latent_dim) -> normalised motions (B, max(lengths), n_feats); row i is zero after
        lengths[i] frames. Raises CheckpointError for an inference-only model."""
        if self.motion_decoder is None:
            raise CheckpointError(None, "this model has no motion decoder (inference-only checkpoint)")
        return self.motion_decoder(z, lengths_to_mask(lengths, device=z.device))

    @staticmethod
    def similarity(a: Tensor, b: Tensor) -> Tensor:
        """(N, D), (M, D) embeddings -> (N, M) scores (cos + 1) / 2 in [0, 1]."""
        return cosine_to_score(cosine_similarity(a, b))

    def encode_decode(self, batch: TrainBatch) -> TMROutputs:
        """Both encoders, a latent per modality, and both reconstructions (reference `compute_loss`)."""
        if self.motion_decoder is None:
            raise CheckpointError(None, "this model has no motion decoder and cannot be trained")
        text_z, text_dist = self._encode(self.text_encoder, batch.texts)
        motion_z, motion_dist = self._encode(self.motion_encoder, batch.motions)
        mask = batch.motions.mask
        # Partners are encoded only: the cross-rig term compares latents, nothing decodes them.
        partner_z = None if batch.partners is None else self._encode(self.motion_encoder, batch.partners)[0]
        return TMROutputs(
            text_dist=text_dist,
            motion_dist=motion_dist,
            text_z=text_z,
            motion_z=motion_z,
            text_recons=self.motion_decoder(text_z, mask),
            motion_recons=self.motion_decoder(motion_z, mask),
            partner_z=partner_z,
            partner_rows=batch.partner_rows,
        )

    def forward(self, batch: TrainBatch) -> dict[str, Tensor]:
        """Named losses (recons, kl, latent, contrastive, and cross_rig when the batch has partners) and
        their weighted sum under "loss"."""
        return self.criterion(self.encode_decode(batch), batch.motions.x, batch.sentence_emb)
