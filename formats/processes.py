"""Worker processes that die with the process they work for: a killed `tmr` leaves no converters behind.

The kernel delivers SIGKILL to a process whose parent exits (Linux prctl PR_SET_PDEATHSIG), kill -9
included. A worker started through a forkserver has the forkserver as its parent, which may outlive
tmr, so it also watches tmr's own pid (a pidfd on Linux, polling elsewhere) and exits when that ends.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import signal
import sys
import threading
import time

__all__ = ["die_with_parent"]

_PR_SET_PDEATHSIG = 1


def die_with_parent(owner: int | None = None) -> None:
    """Call first thing in a worker process (a pool's initializer); `owner` is the pid of the process
    the worker serves, when that is not its direct parent."""
    parent = os.getppid()
    armed = sys.platform.startswith("linux") and _set_parent_death_signal()
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)
    watched = owner if owner not in (None, parent) else (None if armed else parent)
    if watched is not None:
        threading.Thread(target=_exit_when_gone, args=(watched,), daemon=True).start()


def _set_parent_death_signal() -> bool:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _exit_when_gone(pid: int) -> None:
    try:
        handle = os.pidfd_open(pid)  # readable once the process has exited
    except (AttributeError, OSError):
        handle = None
    if handle is not None:
        select.select([handle], [], [])
    else:
        while _exists(pid):
            time.sleep(0.5)
    os._exit(1)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
