"""Cosine similarity between embeddings, the unit normaliser, and the [0, 1] score shown to people:
(cos + 1) / 2. Torch is imported only by `cosine_similarity`, so numpy callers (evaluation, the library)
use the same score and the same normaliser without it."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["cosine_similarity", "cosine_to_score", "unit_rows", "UNIT_EPS"]

# Norms are floored here before dividing, as torch.nn.functional.normalize does by default, so numpy and
# torch normalise alike (and a zero vector stays zero instead of becoming NaN).
UNIT_EPS = 1e-12

Similarity = TypeVar("Similarity", "Tensor", np.ndarray, float)


def cosine_similarity(a: Tensor, b: Tensor) -> Tensor:
    """(N, D), (M, D) -> (N, M) cosine of every pair; inputs need not be unit norm."""
    import torch

    a = torch.nn.functional.normalize(a, dim=-1, eps=UNIT_EPS)
    b = torch.nn.functional.normalize(b, dim=-1, eps=UNIT_EPS)
    return a @ b.T


def cosine_to_score(sim: Similarity) -> Similarity:
    """Map cosine in [-1, 1] to the score in [0, 1] used by the paper (filtering threshold 0.8, protocol
    (b) threshold 0.95) and by the CLI; a tensor, an array or a number."""
    return (sim + 1.0) / 2.0


def unit_rows(x: np.ndarray) -> np.ndarray:
    """`x` (..., D) with each last-axis vector scaled to unit norm (numpy's `F.normalize`)."""
    x = np.asarray(x)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), UNIT_EPS)
