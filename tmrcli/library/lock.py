"""One writer at a time: an advisory lock on `<library>.lock` that names its holder.

The lock is `flock` on the lock file, so the kernel releases it when its holder exits for any reason,
kill -9 included: a lock left behind by a dead process is never in the way (it is stale by
construction, and the next writer simply takes it). While held, the file holds the holder's pid,
host, command and start time, which is what a second writer is told. The file is never deleted:
removing a lock file that others may have open lets two processes lock two different files.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType

from tmrcli.library.errors import StoreError, StoreLockedError

__all__ = ["LockHolder", "StoreLock"]


@dataclass(frozen=True)
class LockHolder:
    """Who holds a lock: process id, host name, command line and start time (ISO 8601, local)."""

    pid: int
    host: str
    command: str
    started: str

    @classmethod
    def this_process(cls) -> LockHolder:
        """The running process."""
        command = " ".join(["tmr", *sys.argv[1:]]) if sys.argv else "tmr"
        return cls(os.getpid(), socket.gethostname(), command, time.strftime("%Y-%m-%d %H:%M:%S"))

    def describe(self) -> str:
        """One phrase for error messages."""
        return f"`{self.command}` (pid {self.pid} on {self.host}, since {self.started})"


class StoreLock:
    """Context manager: the exclusive write lock of the library at `library` (the lock file is
    `<library>.lock`); raises StoreLockedError when another process holds it."""

    def __init__(self, library: Path) -> None:
        self.library = Path(library)
        self.path = self.library.with_name(self.library.name + ".lock")
        self._fd: int | None = None

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock now or raise StoreLockedError naming the process that has it."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise StoreError(self.path, f"cannot create the lock file ({error.strerror or error})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            who = holder.describe() if holder else "another process"
            raise StoreLockedError(
                self.library, f"locked by {who}", hint="wait for it to finish, then run the command again"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(asdict(LockHolder.this_process())).encode(), 0)
        except OSError as error:  # a full disk, typically: nothing was written yet
            os.close(fd)
            raise StoreError(self.path, f"cannot write the lock file ({error.strerror or error})") from None
        self._fd = fd

    def release(self) -> None:
        """Clear the holder's details and drop the lock (a no-op when not held)."""
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def _read_holder(fd: int) -> LockHolder | None:
    """The details the holder wrote, or None while it has not written them yet (or they are garbled)."""
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"null")
        return LockHolder(**data) if isinstance(data, dict) else None
    except (ValueError, TypeError):
        return None
