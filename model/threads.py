"""How many CPU threads an encoder call uses: one for small work, torch's setting otherwise.

Why: a single query or a single clip is a few hundred rows of small matrix products. Split over
threads, every layer ends in a barrier; on a machine where other processes hold the cores, the
thread that waits for a core stalls the others, and OpenMP's default busy-waiting burns the time
slices the working thread needed (measured: a batch-1 motion probe 8.4/s on one thread, 0.8/s on
two beside other work; `benchmarks/under_load.py`). Large batches keep every thread: their parallel
regions are long, so they gain from a second core even on a loaded machine, as long as waiting
threads sleep (OMP_WAIT_POLICY=PASSIVE, which the CLI sets before torch starts). Torch is imported
only by the functions, so the numpy encoders of small work (`model/small_work.py`) share the rule
without it. numpy's own BLAS (the OpenBLAS its wheels bundle) spins its waiting threads the same way
(a 100-row product 10x slower on two threads beside other work), so `numpy_threads` sets its count.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = ["SMALL_WORK_ROWS", "text_rows", "threads_for", "torch_threads", "numpy_threads"]

SMALL_WORK_ROWS = 512  # rows (tokens or frames) below which one call runs on one thread


def text_rows(texts: Sequence[str]) -> int:
    """About the token count of `texts` ([CLS], words, [SEP]), what `threads_for` weighs, without
    running the tokenizer."""
    return sum(len(text.split()) + 2 for text in texts)


def threads_for(rows: int) -> int:
    """Threads for an encoder call over `rows` rows: 1 for small work, else torch's current setting
    (the user's OMP_NUM_THREADS or torch's default of one per core, or an enclosing `torch_threads`)."""
    import torch

    return 1 if rows < SMALL_WORK_ROWS else torch.get_num_threads()


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run torch on `count` threads (at least one) inside the block, then restore the setting."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, count))
    try:
        yield
    finally:
        torch.set_num_threads(before)


# (get, set) thread-count functions of the OpenBLAS builds numpy's wheels bundle, newest naming first.
_OPENBLAS_FUNCTIONS = (
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
)


@functools.cache
def _openblas() -> tuple[Callable[[], int], Callable[[int], None]] | None:
    """numpy's OpenBLAS thread-count functions, or None where numpy uses another BLAS or it cannot be
    found (numpy has no API for it; its Linux wheels keep the library in numpy.libs/)."""
    import numpy

    libs = Path(numpy.__file__).resolve().parent.parent / "numpy.libs"
    for path in sorted(libs.glob("lib*openblas*.so*")) if libs.is_dir() else []:
        try:
            library = ctypes.CDLL(str(path))  # already loaded by numpy: the same handle
        except OSError:
            continue
        for get, set_ in _OPENBLAS_FUNCTIONS:
            if hasattr(library, get) and hasattr(library, set_):
                return getattr(library, get), getattr(library, set_)
    return None


@contextmanager
def numpy_threads(count: int) -> Iterator[None]:
    """Run numpy's matrix products on `count` threads (at least one) inside the block, then restore
    the setting; does nothing where numpy's BLAS is not a bundled OpenBLAS."""
    functions = _openblas()
    if functions is None:
        yield
        return
    get, set_ = functions
    before = int(get())
    set_(max(1, count))
    try:
        yield
    finally:
        set_(before)
