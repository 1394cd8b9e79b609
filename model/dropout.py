"""Dropout that is cheap on the CPU.

torch draws one random number per element for a dropout mask (`bernoulli_`), which on a CPU costs
several times the matrix products of a TMR layer: in a CPU training step of the paper's network,
dropout masks took 29% of the time. Here one 64-bit draw yields four 15-bit uniform integers, so the
mask costs a quarter of the draws. The keep probability is 1 - p rounded to 1/32768, the scaling is
torch's (kept values divided by 1 - p), and the stream is torch's CPU generator, so `torch.manual_seed`
makes it repeatable. Other devices use torch's own dropout, which is already fast there.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["dropout", "Dropout", "cpu_keep_mask", "attention_with_dropout"]

_LEVELS = 1 << 15  # uniform integers per draw lane: [0, 32768)
_LANE_BITS = 0x7FFF  # the top lane of a non-negative int64 has only 15 random bits, so every lane keeps 15


def cpu_keep_mask(shape: torch.Size | tuple[int, ...], p: float) -> Tensor:
    """A boolean mask of `shape`, each element True with probability 1 - p (to 1/32768)."""
    count = 1
    for size in shape:
        count *= size
    words = torch.empty((count + 3) // 4, dtype=torch.int64).random_()  # [0, 2**63): 4 lanes of 16 bits
    lanes = words.view(torch.int16)[:count]
    return (lanes & _LANE_BITS).ge_(round(p * _LEVELS)).view(shape)


def dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """`F.dropout(x, p, training)`, with a cheaper mask on the CPU."""
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu" or p >= 1.0:
        return F.dropout(x, p, True)
    return x * cpu_keep_mask(x.shape, p).to(x.dtype).mul_(1.0 / (1.0 - p))


class Dropout(nn.Module):
    """`nn.Dropout` through `dropout` (no parameters, so state dicts are unchanged)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def attention_with_dropout(q: Tensor, k: Tensor, v: Tensor, attn_mask: Tensor | None, p: float) -> Tensor:
    """What `F.scaled_dot_product_attention` computes with dropout p on the attention weights, spelled
    out so that the weights' mask is this module's cheap one. q (B, H, Q, hd); k, v (B, H, S, hd);
    attn_mask broadcast to (B, H, Q, S), True = may attend."""
    scores = (q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5  # (B, H, Q, S)
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, float("-inf"))
    return dropout(scores.softmax(dim=-1), p, True) @ v  # (B, H, Q, hd)
