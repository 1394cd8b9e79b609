"""Padding variable-length sequences, masks from lengths, length-sorted batches and the training batch.

Masks are True on real frames or tokens and False on padding, everywhere in `model/`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["lengths_to_mask", "Padded", "TrainBatch", "collate_pairs", "length_sorted_batches"]


def lengths_to_mask(lengths: Sequence[int] | Tensor, device: torch.device | str | None = None) -> Tensor:
    """(B,) lengths -> (B, max length) bool mask, True on the first `length` positions of each row."""
    lengths = torch.as_tensor(lengths, dtype=torch.long, device=device)
    max_len = int(lengths.max()) if len(lengths) else 0
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]  # (B, L)


@dataclass(frozen=True)
class Padded:
    """A batch of variable-length sequences: `x` (B, L, D) zero-padded and `mask` (B, L), True = real."""

    x: Tensor
    mask: Tensor

    @classmethod
    def from_sequences(cls, sequences: Sequence[Tensor | np.ndarray]) -> Padded:
        """Pad (L_i, D) sequences to the longest one. Every sequence needs at least one row."""
        tensors = [torch.as_tensor(s, dtype=torch.float32) for s in sequences]
        if not tensors:
            raise ValueError("cannot pad an empty list of sequences")
        if any(t.ndim != 2 or len(t) == 0 for t in tensors):
            raise ValueError("every sequence must be a non-empty (L, D) array")
        x = torch.nn.utils.rnn.pad_sequence(tensors, batch_first=True)  # (B, L, D)
        return cls(x=x, mask=lengths_to_mask([len(t) for t in tensors], device=x.device))

    @property
    def lengths(self) -> Tensor:
        """(B,) number of real rows per sequence."""
        return self.mask.sum(dim=1)

    def to(self, device: torch.device | str) -> Padded:
        """The same batch on `device`."""
        return Padded(x=self.x.to(device, non_blocking=True), mask=self.mask.to(device, non_blocking=True))

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class TrainBatch:
    """What one TMR training step needs (reference `collate_text_motion`).

    motions: normalised 263-d features, (B, T, F) padded.
    texts: frozen backbone token features of each motion's caption, (B, L, D_text) padded.
    sentence_emb: unit-norm sentence embeddings of the captions (B, D_sent), used only to filter
        wrong negatives; None trains without filtering.
    partners: for the rows `partner_rows` (P,), a normalised motion of the same action from another
        source, (P, T', F) padded; None trains without the cross-rig term.
    """

    motions: Padded
    texts: Padded
    sentence_emb: Tensor | None = None
    partners: Padded | None = None
    partner_rows: Tensor | None = None

    def __post_init__(self) -> None:
        sizes = {len(self.motions), len(self.texts)}
        if self.sentence_emb is not None:
            sizes.add(len(self.sentence_emb))
        if len(sizes) != 1:
            raise ValueError(f"batch parts disagree in size: {sorted(sizes)}")
        if (self.partners is None) != (self.partner_rows is None):
            raise ValueError("partners and partner_rows come together")
        if self.partners is not None and len(self.partners) != len(self.partner_rows):
            raise ValueError(f"{len(self.partners)} partner motions for {len(self.partner_rows)} partner rows")

    def to(self, device: torch.device | str) -> TrainBatch:
        """The same batch on `device`."""
        emb = None if self.sentence_emb is None else self.sentence_emb.to(device, non_blocking=True)
        partners = None if self.partners is None else self.partners.to(device)
        rows = None if self.partner_rows is None else self.partner_rows.to(device)
        return TrainBatch(self.motions.to(device), self.texts.to(device), emb, partners, rows)


def collate_pairs(
    motions: Sequence[Tensor | np.ndarray],
    token_features: Sequence[Tensor],
    sentence_emb: Tensor | np.ndarray | None = None,
) -> TrainBatch:
    """Pad (T_i, F) normalised motions and (L_i, D) token features of their captions into a batch."""
    emb = None if sentence_emb is None else torch.as_tensor(sentence_emb, dtype=torch.float32)
    return TrainBatch(Padded.from_sequences(motions), Padded.from_sequences(token_features), emb)


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Indices cut into batches of similar lengths, longest first, so padding stays small.

    A batch holds at most `batch_size` items and at most `batch_size` x (mean length) padded rows:
    the few longest items of a long-tailed list then go in smaller batches instead of padding a full
    one (which also bounds memory). The concatenated batches are a permutation of
    range(len(lengths)); callers scatter results back.
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, not {batch_size}")
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    budget = batch_size * max(float(lengths.mean()), 1.0) if len(lengths) else 0.0
    batches, start = [], 0
    while start < len(order):
        longest = max(int(lengths[order[start]]), 1)
        size = int(min(batch_size, max(1, budget // longest)))
        batches.append(order[start : start + size])
        start += size
    return batches
