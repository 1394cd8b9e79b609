"""Conversion speed over the whole shared BVH corpus: read, map to SMPL-22, resample, features.

Run by hand: `.venv/bin/python benchmarks/convert.py [DATA_DIR] [--runs N] [--workers N]`. Prints the
machine and its load, then the median over the runs of clips/s and source frames/s, in one process and
with a pool of worker processes (one per core by default), plus where the time goes in one process.
Wall-clock figures need an otherwise idle machine, so each line also gives the rate per CPU second
spent (this process and its workers), which programs running beside it change much less.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from formats import canonicalize_joints, features_from_canonical, find_motion_files, load_motion
from formats.bvh import read_bvh

from common import DEFAULT_DATA, machine

# Our target on a 2-core machine (the issue's): a large library converts in minutes, not hours.
TARGET_FRAMES_PER_SECOND = 20_000


def convert(path: Path) -> int:
    """The work `tmr convert` does for one file, without writing; returns the feature rows."""
    motion = load_motion(path)
    return len(features_from_canonical(canonicalize_joints(motion.joints)))


def timed_pass(files: list[Path], workers: int) -> tuple[float, float]:
    """Wall-clock seconds and CPU seconds (this process and its finished workers) for converting
    every file once."""
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    if workers == 1:
        for path in files:
            convert(path)
    else:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(convert, files, chunksize=8))
    return time.perf_counter() - start, _cpu_seconds() - cpu_start


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def stage_times(files: list[Path]) -> tuple[float, float]:
    """Seconds spent reading (parse, map, units, resample) and extracting features, in one process."""
    start = time.perf_counter()
    motions = [load_motion(path) for path in files]
    read = time.perf_counter() - start
    start = time.perf_counter()
    for motion in motions:
        features_from_canonical(canonicalize_joints(motion.joints))
    return read, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()

    files = [path for path in find_motion_files([args.data]) if path.suffix.lower() == ".bvh"]
    source_frames = sum(read_bvh(path).num_frames for path in files)
    print(f"machine: {machine()}")
    print(f"corpus: {len(files)} BVH clips, {source_frames} source frames under {args.data}")
    print(f"target: {TARGET_FRAMES_PER_SECOND:,} source frames/s; medians of {args.runs} runs")
    for workers in sorted({1, args.workers}):
        runs = [timed_pass(files, workers) for _ in range(args.runs)]
        seconds = statistics.median(wall for wall, _ in runs)
        cpu = statistics.median(cpu for _, cpu in runs)
        print(
            f"{workers} process(es): {seconds:.2f} s wall, {len(files) / seconds:.0f} clips/s, "
            f"{source_frames / seconds:,.0f} source frames/s; per CPU second: {len(files) / cpu:.0f} clips, "
            f"{source_frames / cpu:,.0f} source frames; load average now {os.getloadavg()[0]:.1f}"
        )
    read, features = stage_times(files)
    print(f"one process, by stage: read+map+resample {read:.2f} s, canonicalise+features {features:.2f} s")


if __name__ == "__main__":
    main()
