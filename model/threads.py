"""How many CPU threads an encoder call uses: one for small work, torch's setting otherwise.

Why: a single query or a single clip is a few hundred rows of small matrix products. Split over
threads, every layer ends in a barrier; on a machine where other processes hold the cores, the
thread that waits for a core stalls the others, and OpenMP's default busy-waiting burns the time
slices the working thread needed (measured: a batch-1 motion probe 8.4/s on one thread, 0.8/s on
two beside other work; `benchmarks/under_load.py`). Large batches keep every thread: their parallel
regions are long, so they gain from a second core even on a loaded machine, as long as waiting
threads sleep (OMP_WAIT_POLICY=PASSIVE, which the CLI sets before torch starts).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["SMALL_WORK_ROWS", "threads_for", "torch_threads"]

SMALL_WORK_ROWS = 512  # rows (tokens or frames) below which one call runs on one thread


def threads_for(rows: int) -> int:
    """Threads for an encoder call over `rows` rows: 1 for small work, else torch's current setting
    (the user's OMP_NUM_THREADS or torch's default of one per core, or an enclosing `torch_threads`)."""
    return 1 if rows < SMALL_WORK_ROWS else torch.get_num_threads()


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run torch on `count` threads (at least one) inside the block, then restore the setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, count))
    try:
        yield
    finally:
        torch.set_num_threads(before)
