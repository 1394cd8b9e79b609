"""Conversion speed over the shared corpus, one row per file format: read, map to SMPL-22, resample, features.

Run by hand: `.venv/bin/python benchmarks/convert.py [DATA_DIR] [--runs N] [--workers N] [--formats BVH,AMC]`.
Prints the machine and its load, then for each format the reader handles (BVH, AMC, DeepMimic; FBX
and glTF once their readers are in) the median over the runs of clips/s and source frames/s, in one
process and with a pool of worker processes (one per core by default), and where the time goes.
Wall-clock figures need an otherwise idle machine, so each line also gives the rate per CPU second
spent (this process and its workers), which programs running beside it change much less.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from formats import MOTION_SUFFIXES, TmrError, canonicalize_joints, features_from_canonical, find_motion_files, load_motion

from common import DEFAULT_DATA, REPO, machine

# Source frames/s on a 2-core machine (the issues'): a large library converts in minutes, not hours.
TARGETS = {"BVH": 20_000, "AMC": 20_000, "DeepMimic": 20_000, "FBX": 10_000, "glTF": 10_000}
FORMATS = {".bvh": "BVH", ".amc": "AMC", ".json": "DeepMimic", ".txt": "DeepMimic", ".fbx": "FBX", ".glb": "glTF", ".gltf": "glTF"}


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


def source_frames(path: Path) -> int | None:
    """Frames of the file at its own rate (the duration kept through resampling, times that rate);
    None for a file this build cannot convert."""
    try:
        motion = load_motion(path)
    except TmrError:
        return None
    return round(motion.duration * motion.source_fps)


def corpus_by_format(data: Path, wanted: set[str] | None) -> dict[str, list[Path]]:
    """The corpus's motion files of each format this build reads (feature .npy files left out)."""
    by_format: dict[str, list[Path]] = {}
    for path in find_motion_files([data]):
        name = FORMATS.get(path.suffix.lower())
        if name is not None and path.suffix.lower() in MOTION_SUFFIXES and (wanted is None or name in wanted):
            by_format.setdefault(name, []).append(path)
    return by_format


def report_format(name: str, files: list[Path], runs: int, workers: int) -> float:
    """Print the format's rows; returns its source frames per CPU second in one process."""
    counts = {path: source_frames(path) for path in files}
    files = [path for path, count in counts.items() if count is not None]
    frames = sum(count for count in counts.values() if count is not None)
    left_out = f" ({len(counts) - len(files)} that do not convert left out)" if len(files) < len(counts) else ""
    print(f"{name}: {len(files)} clips{left_out}, {frames} source frames; target {TARGETS[name]:,} source frames/s")
    per_cpu = {}
    for count in sorted({1, workers}):
        timed = [timed_pass(files, count) for _ in range(runs)]
        seconds = statistics.median(wall for wall, _ in timed)
        cpu = statistics.median(cpu for _, cpu in timed)
        per_cpu[count] = frames / cpu
        print(
            f"  {count} process(es): {seconds:.2f} s wall, {len(files) / seconds:.0f} clips/s, "
            f"{frames / seconds:,.0f} source frames/s; per CPU second: {len(files) / cpu:.0f} clips, "
            f"{frames / cpu:,.0f} source frames; load average now {os.getloadavg()[0]:.1f}"
        )
    read, features = stage_times(files)
    print(f"  one process, by stage: read+map+resample {read:.2f} s, canonicalise+features {features:.2f} s")
    return per_cpu[1]


def generated_gltf(data: Path, folder: Path) -> list[Path]:
    """The corpus holds no glTF: GLB files written into `folder` from 15 of its CMU BVH, 31- and
    100-joint rigs (tests/gltf_files.py: one node per joint, keys on every frame, as Blender exports them)."""
    sys.path.insert(0, str(REPO / "tests"))
    from gltf_files import write_gltf

    cmu = data / "cmu-mocap"
    bvh = [*sorted((cmu / "cgspeed_subject131").glob("*.bvh")), *sorted((cmu / "iclone_cc_rig").glob("*.bvh"))[:12]]
    return [write_gltf(folder / f"{path.stem}.glb", path) for path in bvh]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--formats", help="comma-separated formats to time (default: every one found)")
    args = parser.parse_args()

    wanted = set(args.formats.split(",")) if args.formats else None
    print(f"machine: {machine()}")
    print(f"corpus: {args.data}; medians of {args.runs} runs")
    with tempfile.TemporaryDirectory() as folder:
        by_format = corpus_by_format(args.data, wanted)
        if wanted is None or "glTF" in wanted:
            by_format.setdefault("glTF", generated_gltf(args.data, Path(folder)))
        rates = {name: report_format(name, files, args.runs, args.workers) for name, files in by_format.items()}
    if "BVH" in rates and len(rates) > 1:  # ratios hold on a busy machine, where wall-clock rates do not
        ratios = ", ".join(f"{name} {rate / rates['BVH']:.2f}x" for name, rate in rates.items() if name != "BVH")
        print(f"source frames per CPU second, one process, relative to BVH in this run: {ratios}")


if __name__ == "__main__":
    main()
