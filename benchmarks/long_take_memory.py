"""Peak memory and wall time of `tmr index` on one very long take: a BVH file of about 200 MB.

The file is made in a temporary folder from a real clip of the shared corpus (a 100-joint CMU take at
60 fps by default) whose MOTION rows are repeated until the file reaches --megabytes; it is never
kept. Each checkout given by --code (this one by default) then indexes it in a fresh process
(`tmr index FILE --store LIB`), so several versions are measured side by side on one machine in one
run. Peak memory is that process's maximum resident set size (its rusage, read when it is reaped).

Target (issue 15): a 200 MB file indexes in well under 2 GB.

Usage: .venv/bin/python benchmarks/long_take_memory.py [--megabytes 200] [--clip PATH] [--code DIR ...] [--runs 1]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import DEFAULT_DATA, REPO, machine

CLIP = DEFAULT_DATA / "cmu-mocap" / "iclone_cc_rig" / "001_01.bvh"
TARGET_BYTES = 2 << 30


def make_long_bvh(clip: Path, target_bytes: int, out: Path) -> tuple[int, float]:
    """Write `clip` with its MOTION rows repeated until the file holds `target_bytes`; returns the
    frame count and the frame time."""
    raw = clip.read_bytes()
    head, _, motion = raw.partition(b"\nMOTION")
    timing = re.match(rb"\s*Frames:\s*(\d+)\s*\n\s*Frame Time:\s*(\S+)\s*\n", motion)
    if timing is None:
        raise SystemExit(f"{clip}: not a BVH file this script can repeat")
    rows = motion[timing.end() :].strip() + b"\n"
    copies = max(1, -(-(target_bytes - len(head)) // len(rows)))
    frames = int(timing.group(1)) * copies
    frame_time = float(timing.group(2))
    with out.open("wb") as file:
        file.write(head + b"\nMOTION\nFrames: %d\nFrame Time: %s\n" % (frames, timing.group(2)))
        for _ in range(copies):
            file.write(rows)
    return frames, frame_time


def index_once(code: Path, motion: Path, store: Path, max_duration: float) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of `tmr index` run from the checkout `code`, in a new process;
    exits when the run did not index the file."""
    command = [sys.executable, "-c", "from tmrcli.app import main; main()", "index", str(motion),
               "--store", str(store), "--max-duration", f"{max_duration:g}", "--json"]  # fmt: skip
    output, errors = store.with_suffix(".out"), store.with_suffix(".err")
    start = time.perf_counter()
    with output.open("wb") as out, errors.open("wb") as err:
        child = subprocess.Popen(command, cwd=code, stdout=out, stderr=err)
        # wait4 gives this child's own rusage (RUSAGE_CHILDREN would mix in every earlier run).
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    exit_code = os.waitstatus_to_exitcode(status)
    report = json.loads(output.read_text()) if exit_code == 0 else {}
    if report.get("added") != 1 or report.get("failed"):
        raise SystemExit(f"{code}: tmr index did not index the file (exit {exit_code}): {errors.read_text()[-2000:]}")
    return seconds, usage.ru_maxrss * 1024  # Linux reports kilobytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=float, default=200.0)
    parser.add_argument("--clip", type=Path, default=CLIP)
    parser.add_argument("--code", type=Path, action="append", help="a checkout to run tmr from (repeatable)")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    codes = [path.resolve() for path in args.code or [REPO]]
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="tmr-long-take-") as folder:
        motion = Path(folder) / "long_take.bvh"
        frames, frame_time = make_long_bvh(args.clip, int(args.megabytes * 1e6), motion)
        seconds = frames * frame_time
        print(f"file: {motion.stat().st_size / 1e6:.0f} MB, {frames:,} frames at {1 / frame_time:.0f} fps "
              f"({seconds / 60:.1f} min), rows of {args.clip.name}")  # fmt: skip
        results: dict[Path, list[tuple[float, int]]] = {code: [] for code in codes}
        for run in range(args.runs):  # the checkouts take turns, so a change in load hits them alike
            for number, code in enumerate(codes):
                store = Path(folder) / f"lib-{number}-{run}.h5"
                results[code].append(index_once(code, motion, store, seconds + 60))
        for code, runs in results.items():
            wall = statistics.median(r[0] for r in runs)
            peak = statistics.median(r[1] for r in runs)
            verdict = "under" if peak < TARGET_BYTES else "OVER"
            print(f"{code}: peak RSS {peak / 2**20:,.0f} MiB ({verdict} the 2 GiB target), wall {wall:.1f} s "
                  f"(median of {args.runs})")  # fmt: skip

if __name__ == "__main__":
    main()
