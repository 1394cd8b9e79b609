"""Real `tmr index` processes killed with SIGKILL at several points, and run two at a time: nothing
committed is ever lost, the library always opens, the next run completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tmrcli.library.errors import StoreError
from tmrcli.library.store import MotionStore
from store_helpers import bandai_clips, tiny_checkpoint  # noqa: F401 (fixture)

N_FILES = 24


@pytest.fixture(scope="module")
def corpus(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    for source in bandai_clips(data_dir, N_FILES, take="005"):
        (root / source.name).symlink_to(source)
    return root


def _start(corpus: Path, store: Path, checkpoint: Path) -> subprocess.Popen:
    command = [sys.executable, "-c", "from tmrcli.app import main; main()", "index", str(corpus)]
    command += ["--store", str(store), "--checkpoint", str(checkpoint), "--batch-size", "2", "--jobs", "2"]
    # Own process group, so the pool's workers can be cleaned up after their parent is killed.
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _held(store: Path) -> dict[str, str]:
    """path -> content hash of everything the library holds now ({} before the first commit)."""
    try:
        with MotionStore(store).snapshot() as view:
            table = view.live_files()
            return {path: table.record(i).content_sha256 for i, path in enumerate(table.paths)}
    except StoreError as error:
        assert "no library here yet" in error.reason, error
        return {}


def _kill_when(process: subprocess.Popen, ready: Callable[[], bool], timeout: float = 60.0) -> bool:
    """SIGKILL the process as soon as `ready()`; False when it finished first."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if ready():
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.005)
    process.wait(timeout=timeout)
    return False


def _reap(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the orphaned workers of the killed run, if any are left
    except ProcessLookupError:
        pass


def test_kill_9_at_several_points_loses_nothing(corpus: Path, tmp_path: Path, tiny_checkpoint: Path) -> None:
    store = tmp_path / "library.h5"
    lock = tmp_path / "library.h5.lock"

    def started() -> bool:
        return lock.is_file() and lock.stat().st_size > 0

    def grew_by(n: int) -> Callable[[], bool]:
        return lambda: len(_held(store)) >= len(before) + n

    def compacted() -> bool:
        return store.is_file() and store.stat().st_ino != base_inode and len(_held(store)) > len(before)

    def after(seconds: float) -> Callable[[], bool]:
        return lambda: started() and time.monotonic() - since > seconds

    points = {
        "lock taken, nothing written": started,
        "first batch committed": grew_by(2),
        "a few batches committed": grew_by(6),
        "base rewritten": compacted,
        "0.4 s into the run": after(0.4),
        "every file committed (compaction or index build)": lambda: len(_held(store)) == N_FILES,
    }
    killed = []
    before: dict[str, str] = {}
    for name, ready in points.items():
        base_inode = store.stat().st_ino if store.is_file() else None
        since = time.monotonic()
        if lock.exists():
            lock.write_text("")  # what the killed holder left: the next run's details show it started
        process = _start(corpus, store, tiny_checkpoint)
        try:
            if _kill_when(process, ready):
                killed.append(name)
        finally:
            _reap(process)
        now = _held(store)
        assert before.items() <= now.items(), f"killed at {name!r}: lost {set(before) - set(now)}"
        before = now
        if len(before) == N_FILES:
            break
    print("killed at:", killed)
    assert len(killed) >= 4 and killed[:2] == list(points)[:2], killed
    final = _start(corpus, store, tiny_checkpoint)
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    assert len(_held(store)) == N_FILES and "Traceback" not in err
    assert not [p for p in tmp_path.rglob("*") if "tmr-partial" in p.name]  # what tmr wrote, cleaned up
    with MotionStore(store).snapshot() as view:
        assert (
            view.deltas == []
            and store.with_name("library.h5.d").joinpath(f"ann-{view.base.header.file_id}.hnsw").is_file()
        )


def test_two_concurrent_runs_never_corrupt_the_library(corpus: Path, tmp_path: Path, tiny_checkpoint: Path) -> None:
    store = tmp_path / "library.h5"
    first, second = _start(corpus, store, tiny_checkpoint), _start(corpus, store, tiny_checkpoint)
    reads = 0
    try:
        while first.poll() is None or second.poll() is None:  # a reader meanwhile: always a consistent view
            held = _held(store)
            assert len(held) <= N_FILES
            reads += 1
            time.sleep(0.02)
        results = [(p.returncode, p.communicate()[1], p.pid) for p in (first, second)]
    finally:
        _reap(first)
        _reap(second)
    assert reads > 10
    print("exit codes:", [code for code, _, _ in results])
    assert sorted(code for code, _, _ in results)[0] == 0
    for (code, err, _), (_, _, other_pid) in zip(results, reversed(results)):
        assert "Traceback" not in err
        if code != 0:
            assert code == 1 and f"locked by `tmr index {corpus}" in err and f"pid {other_pid} " in err
    assert len(_held(store)) == N_FILES
    again = _start(corpus, store, tiny_checkpoint)
    _, err = again.communicate(timeout=120)
    assert again.returncode == 0 and f"0 added, 0 updated, {N_FILES} unchanged" in err


def _alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
        return True
    except ProcessLookupError:
        return False


def _children_of(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(status.parent.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_converting_workers_die_with_a_killed_index(corpus: Path, tmp_path: Path, tiny_checkpoint: Path) -> None:
    process = _start(corpus, tmp_path / "library.h5", tiny_checkpoint)
    try:
        deadline = time.monotonic() + 60
        descendants: list[int] = []
        while process.poll() is None and time.monotonic() < deadline and len(descendants) < 3:
            # The forkserver and its two workers.
            descendants = [g for c in _children_of(process.pid) for g in [c, *_children_of(c)]]
            time.sleep(0.01)
        assert len(descendants) >= 3, "the run ended before its workers started"
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        deadline = time.monotonic() + 10
        while _alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(process.pid), "workers outlived the killed run"
    finally:
        _reap(process)
