"""The writers' lock: a second writer is told who holds it; a dead holder never blocks anyone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tmrcli.library.errors import StoreLockedError
from tmrcli.library.lock import StoreLock

HOLD = (
    "import sys, time; from tmrcli.library.lock import StoreLock; "
    "StoreLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(60)"
)


def _holder(library: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(library)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_second_writer_is_told_who_holds_the_lock(tmp_path: Path) -> None:
    library = tmp_path / "library.h5"
    holder = _holder(library)
    try:
        with pytest.raises(StoreLockedError) as raised:
            StoreLock(library).acquire()
        error = raised.value
        assert error.path == str(library)
        assert f"pid {holder.pid}" in error.reason and os.uname().nodename in error.reason and "since" in error.reason
        assert error.hint
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_left_by_a_killed_process_is_taken(tmp_path: Path) -> None:
    library = tmp_path / "library.h5"
    holder = _holder(library)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert (tmp_path / "library.h5.lock").read_text()  # the dead holder's details are still there
    with StoreLock(library) as lock:
        assert f'"pid": {os.getpid()}' in lock.path.read_text()
    assert lock.path.read_text() == ""  # released: details cleared, file kept


def test_lock_is_exclusive_within_a_process_too(tmp_path: Path) -> None:
    library = tmp_path / "library.h5"
    with StoreLock(library):
        started = time.monotonic()
        with pytest.raises(StoreLockedError, match=f"pid {os.getpid()}"):
            StoreLock(library).acquire()
        assert time.monotonic() - started < 1  # fails at once, never hangs
    with StoreLock(library):
        pass
