"""Padding helpers and length-sorted batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model import Padded, collate_pairs, lengths_to_mask
from model.batching import length_sorted_batches


def test_lengths_to_mask() -> None:
    mask = lengths_to_mask([3, 1, 4])
    assert mask.tolist() == [[True, True, True, False], [True, False, False, False], [True, True, True, True]]


def test_padded_from_sequences() -> None:
    padded = Padded.from_sequences([np.ones((2, 3)), np.full((4, 3), 2.0)])
    assert padded.x.shape == (2, 4, 3) and padded.lengths.tolist() == [2, 4]
    assert padded.x[0, 2:].eq(0).all() and padded.x.dtype == torch.float32
    with pytest.raises(ValueError):
        Padded.from_sequences([])
    with pytest.raises(ValueError):
        Padded.from_sequences([np.zeros((0, 3))])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_length_sorted_batches_cover_everything_once_with_bounded_padding(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lengths = np.concatenate([rng.integers(5, 20, size=200), rng.integers(40, 120, size=7)])  # a long tail
    batches = length_sorted_batches(lengths, 64)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))
    budget = 64 * lengths.mean()
    for batch in batches:
        assert 1 <= len(batch) <= 64
        assert len(batch) == 1 or len(batch) * lengths[batch].max() <= budget
    maxima = [lengths[b].max() for b in batches]
    assert maxima == sorted(maxima, reverse=True)
    assert [len(b) for b in length_sorted_batches([200] * 130, 64)] == [64, 64, 2]
    assert length_sorted_batches([], 8) == []


def test_collate_pairs_checks_sizes() -> None:
    batch = collate_pairs([np.zeros((5, 263))] * 2, [torch.zeros(3, 384)] * 2, np.ones((2, 384)))
    assert batch.motions.x.shape == (2, 5, 263) and batch.texts.x.shape == (2, 3, 384)
    with pytest.raises(ValueError, match="disagree"):
        collate_pairs([np.zeros((5, 263))] * 2, [torch.zeros(3, 384)] * 3)
