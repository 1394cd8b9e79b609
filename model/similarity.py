"""Cosine similarity between embeddings and the [0, 1] score shown to people: (cos + 1) / 2."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["cosine_similarity", "cosine_to_score"]


def cosine_similarity(a: Tensor, b: Tensor) -> Tensor:
    """(N, D), (M, D) -> (N, M) cosine of every pair; inputs need not be unit norm."""
    a = torch.nn.functional.normalize(a, dim=-1)
    b = torch.nn.functional.normalize(b, dim=-1)
    return a @ b.T


def cosine_to_score(sim: Tensor) -> Tensor:
    """Map cosine in [-1, 1] to the score in [0, 1] used by the paper (filtering threshold 0.8, protocol
    (b) threshold 0.95) and by the CLI."""
    return (sim + 1.0) / 2.0
