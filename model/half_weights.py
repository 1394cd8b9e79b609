"""Linear layers whose weights are float16 values, run on fbgemm's float16-weight kernel for small work.

Why: a compact checkpoint (`save_checkpoint(half=True)`, as the shipped default is) stores the TMR
encoders' weights as float16; loaded, they are float32 tensors that hold float16 values. On a query
(a few rows) a linear layer costs about the time to read its weights, so reading them as 2-byte
float16 instead of 4-byte float32 halves that: fbgemm (part of torch's x86 builds) converts each
weight to float32 in registers and multiplies in float32. A query's TMR text encoder ran in 5.3 ms
instead of 9.8 on a 2-core AMD EPYC. The products are exact (float16 converts to float32 exactly)
and the sums float32, so the outputs equal `F.linear`'s up to float rounding (1e-7 on the unit
embeddings). Large batches keep torch's float32 kernel, which is as fast or faster there; so do
weights that are not float16 values (a model being trained), gradients, and other devices.
"""

from __future__ import annotations

import functools
import weakref

import torch
import torch.nn.functional as F
from torch import Tensor

from model.threads import SMALL_WORK_ROWS

__all__ = ["linear"]

# id(weight) -> (a weak reference to it, what it was packed from, the packed weights or None)
_PACKED: dict[int, tuple[weakref.ref, tuple, object | None]] = {}


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """`F.linear(x, weight, bias)`: on the float16-weight kernel when the weights are float16 values
    and the work is small (under SMALL_WORK_ROWS rows, float32 on the CPU, no gradient wanted)."""
    if (
        x.device.type != "cpu" or x.dtype != torch.float32 or x.numel() >= SMALL_WORK_ROWS * x.shape[-1]
        or (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad))
        or not _kernel_available()
    ):  # fmt: skip
        return F.linear(x, weight, bias)
    packed = _packed(weight, bias)
    if packed is None:
        return F.linear(x, weight, bias)
    return torch.ops.quantized.linear_dynamic_fp16(x.contiguous(), packed)


@functools.cache
def _kernel_available() -> bool:
    return "fbgemm" in torch.backends.quantized.supported_engines


def _packed(weight: Tensor, bias: Tensor | None) -> object | None:
    """The weights packed for the kernel, or None when they are not float16 values. Kept for as long
    as the weight lives and its storage and version (bumped by every in-place change, such as an
    optimizer step) stay the same; nothing is attached to the tensor itself."""
    if weight.is_inference() or (bias is not None and bias.is_inference()):
        return None  # no version counter to tell a change by
    key = (weight.data_ptr(), weight._version, None if bias is None else (bias.data_ptr(), bias._version))
    kept = _PACKED.get(id(weight))
    if kept is not None and kept[0]() is weight and kept[1] == key:
        return kept[2]
    with torch.no_grad():
        exact = weight.dtype == torch.float32 and torch.equal(weight.half().float(), weight)
        packed = torch.ops.quantized.linear_prepack_fp16(weight.contiguous(), bias) if exact else None
    ident = id(weight)
    _PACKED[ident] = (weakref.ref(weight, lambda _: _PACKED.pop(ident, None)), key, packed)
    return packed
