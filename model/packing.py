"""Packing a padded batch: the real rows of (B, S, D) concatenated into (N, D), and back.

Why: in a Transformer layer everything but attention works row by row (projections, feed-forward,
LayerNorm, residuals). Run on the packed rows, that work skips the padding entirely, which is what
torch's `nn.TransformerEncoder` fast path gets from nested tensors; attention alone needs the batch
layout, so it unpacks its projected queries, keys and values, attends with the padding mask and
packs its output again. Inference only: the results equal the padded computation up to float
rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["Packing"]


@dataclass(frozen=True)
class Packing:
    """Where the real rows of a (B, S) mask sit: `index` (N,) positions into the flattened B * S."""

    mask: Tensor
    index: Tensor
    is_dense: bool  # no padding at all: packing is a reshape

    @classmethod
    def from_mask(cls, mask: Tensor) -> Packing:
        """From a (B, S) bool mask, True = real row."""
        index = mask.flatten().nonzero().squeeze(1)
        return cls(mask=mask, index=index, is_dense=len(index) == mask.numel())

    def pack(self, x: Tensor) -> Tensor:
        """(B, S, D) -> (N, D): the real rows, batch by batch."""
        if self.is_dense:
            return x.reshape(-1, x.shape[-1])
        return x.flatten(0, 1).index_select(0, self.index)

    def unpack(self, rows: Tensor) -> Tensor:
        """(N, D) -> (B, S, D), zeros on padding."""
        batch, length = self.mask.shape
        if self.is_dense:
            return rows.view(batch, length, -1)
        out = rows.new_zeros(batch * length, rows.shape[-1])
        return out.index_copy_(0, self.index, rows).view(batch, length, -1)

    def first_rows(self, count: int) -> Tensor:
        """(B * count,) indices into the packed rows of the first `count` rows of every sequence
        (each sequence must have at least `count` real rows)."""
        lengths = self.mask.sum(dim=1)
        starts = torch.cumsum(lengths, 0) - lengths  # (B,) where each sequence begins in the packed rows
        return (starts[:, None] + torch.arange(count, device=starts.device)).flatten()
