"""Small shared pieces for the model tests: a tiny seeded config and one loaded text backbone."""

from __future__ import annotations

import functools

import torch

from model import TMR, TextBackbone, TMRConfig

# Small enough to run in milliseconds, large enough to exercise every code path (2 layers, 4 heads).
TINY = TMRConfig(latent_dim=32, ff_size=64, num_layers=2, num_heads=4)


def tiny_model(seed: int = 0, **changes: object) -> TMR:
    """A seeded randomly initialised TMR of the tiny config (plus any field changes)."""
    torch.manual_seed(seed)
    return TMR(TMRConfig(**{**TINY.to_dict(), **changes}))


@functools.lru_cache(maxsize=1)
def minilm() -> TextBackbone:
    """The packaged all-MiniLM-L6-v2, loaded once per test session (its cache is shared: tests that
    count backbone runs build their own)."""
    return TextBackbone()
