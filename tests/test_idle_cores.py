"""The cores other processes left idle (`model/idle_cores.py`): what `tmr serve` gives a lone query."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from model.idle_cores import IdleCores

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _write_stat(path: Path, idle_seconds: float) -> None:
    """A /proc/stat whose cores have been idle `idle_seconds` in all (user, nice, system, idle, iowait...)."""
    idle = round(idle_seconds * TICKS)
    path.write_text(f"cpu  5000 10 700 {idle - 3} 3 0 20 0 0 0\ncpu0 2500 5 350 0 0 0 10 0 0 0\n")


def _watched(path: Path, window: float = 0.2) -> tuple[IdleCores, float]:
    """An IdleCores over a stat file that starts at 1000 idle seconds, and when it started watching."""
    _write_stat(path, 1000.0)
    started = time.monotonic()
    return IdleCores(window=window, stat=path), started


def _idle_since(path: Path, started: float, cores: float) -> None:
    """Advances the stat file as if `cores` cores had been idle since `started` (timed now, so a
    sleep that overran on a loaded machine does not change the figure)."""
    _write_stat(path, 1000.0 + cores * (time.monotonic() - started))


def _usable() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def test_idle_cores_over_the_window_are_left_to_the_process(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    cores, started = _watched(stat)
    time.sleep(0.3)
    _idle_since(stat, started, 2.0)  # both of two cores idle the whole time
    assert cores.cores() == pytest.approx(min(2.0, _usable()), abs=0.25)
    assert cores.threads() == min(2, _usable())


def test_cores_busy_with_other_processes_leave_one_thread(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    cores, started = _watched(stat)
    time.sleep(0.3)
    _idle_since(stat, started, 0.3)  # another process kept the cores busy but for 0.3 of one
    assert cores.cores() == pytest.approx(1.0) and cores.threads() == 1


def test_a_core_half_used_by_another_process_is_not_taken(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    cores, started = _watched(stat)
    time.sleep(0.4)
    _idle_since(stat, started, 1.5)  # one core idle, the other half busy
    if _usable() < 2:
        pytest.skip("one usable core")
    assert 1.3 < cores.cores() < 1.7 and cores.threads() == 1


def test_this_process_own_cpu_counts_as_left(tmp_path: Path) -> None:
    """A core this process keeps busy (its own encoder, its event loop) is its own, not another's."""
    stat = tmp_path / "stat"
    cores, started = _watched(stat)
    cpu = time.process_time()
    while time.monotonic() - started < 0.4:
        pass
    own = (time.process_time() - cpu) / (time.monotonic() - started)
    _idle_since(stat, started, 1.0)  # the other core idle, this one ours
    if _usable() < 2:
        pytest.skip("one usable core")
    assert cores.cores() == pytest.approx(min(2.0, 1.0 + own), abs=0.15)


def test_only_the_last_window_counts(tmp_path: Path) -> None:
    """An idle past does not hide a load that has lasted the whole window since."""
    stat = tmp_path / "stat"
    cores, started = _watched(stat)
    time.sleep(0.3)
    _idle_since(stat, started, 2.0)
    assert cores.threads() == min(2, _usable())  # idle so far
    for _ in range(6):  # then busy for longer than the window, asked every 0.1 s
        time.sleep(0.1)
        assert cores.cores() >= 1.0
    assert cores.threads() == 1


def test_without_a_readable_stat_one_core() -> None:
    cores = IdleCores(stat=Path("/nonexistent/stat"))
    assert cores.cores() == 1.0 and cores.threads() == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/stat is Linux's")
def test_the_real_machine_gives_a_count_within_the_usable_cores() -> None:
    cores = IdleCores(window=0.1)
    time.sleep(0.15)
    assert 1.0 <= cores.cores() <= _usable() and 1 <= cores.threads() <= _usable()
