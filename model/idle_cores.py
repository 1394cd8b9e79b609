"""How many cores other processes left to this one lately, from Linux's /proc/stat: whether small
work may take a second thread.

Why: small work runs on one thread (`model/threads.py`) because on a busy machine a second thread
waits for a core and stalls the first. On a machine nobody else uses, that leaves a core idle while
a lone query waits for one: a long-running process (`tmr serve`) can look at what the cores did over
the last second, and take the cores that were idle or its own. The figure lags by up to a second, so
a load that starts just then is seen at the next call; without /proc/stat (not Linux) it says one
core, the robust choice.
"""

from __future__ import annotations

import os
import time
from collections import deque
from pathlib import Path

__all__ = ["IdleCores"]

_STAT = Path("/proc/stat")


class IdleCores:
    """`cores()`: the cores, averaged over about the last `window` seconds (or since the previous call,
    when that is longer ago), that were idle or used by this process, at most the cores this process
    may run on and at least 1; `threads()` the whole cores of it.

    Parameters
    ----------
    window: seconds of history one estimate covers; samples are kept a quarter of it apart.
    stat: the file to read (Linux's /proc/stat; a test can point elsewhere).
    """

    def __init__(self, window: float = 1.0, stat: Path = _STAT) -> None:
        self.window = window
        self.stat = stat
        self._ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._samples: deque[tuple[float, float, float]] = deque()  # (wall s, idle cores·s, own CPU s)
        self._sample()

    def cores(self) -> float:
        """Cores left to this process over the last `window` seconds (1.0 when that cannot be told)."""
        now = self._sample()
        if now is None or len(self._samples) < 2:
            return 1.0
        first = self._samples[0]
        elapsed = now[0] - first[0]
        if elapsed <= 0:
            return 1.0
        left = (now[1] - first[1] + now[2] - first[2]) / elapsed
        return max(1.0, min(left, float(_usable_cores())))

    def threads(self) -> int:
        """Threads small work may take now: the cores left to this process, one counted when at least
        three quarters of it was left (another process using a quarter core is enough to lose it)."""
        return int(self.cores() + 0.25)

    def _sample(self) -> tuple[float, float, float] | None:
        """Reads the machine's idle time and this process's CPU time; keeps the samples spanning the
        window (the newest one at least `window` old, and those after it, a quarter window apart)."""
        idle = _idle_core_seconds(self.stat, self._ticks)
        if idle is None:
            return None
        sample = (time.monotonic(), idle, time.process_time())
        if not self._samples or sample[0] - self._samples[-1][0] >= self.window / 4:
            self._samples.append(sample)
        while len(self._samples) > 2 and sample[0] - self._samples[1][0] >= self.window:
            self._samples.popleft()
        return sample


def _idle_core_seconds(stat: Path, ticks: int) -> float | None:
    """Seconds the machine's cores have been idle since boot (idle + iowait, summed over cores)."""
    try:
        with open(stat) as file:
            fields = file.readline().split()
    except OSError:
        return None
    if len(fields) < 6 or fields[0] != "cpu":
        return None
    try:
        return (int(fields[4]) + int(fields[5])) / ticks
    except ValueError:
        return None


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
