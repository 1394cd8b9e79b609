"""The README's 60-second tour, run for real: the test split of every shared source (the clips no model
was trained or tuned on) linked into a folder `mocap/`, indexed, searched, captioned and localised with
the default model, each command printed with its output as a terminal would show it.

Usage: .venv/bin/python benchmarks/tour.py [--checkpoint NAME|PATH]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import DEFAULT_DATA, machine

# The long take for `localize`: Bandai-Namco's 63 s dance, which has kicks in it.
LONG_TAKE = "bandai-namco/dataset-1/data/dataset-1_dance-short_normal_001.bvh"


def link_test_split(data: Path, folder: Path) -> dict[str, Path]:
    """Every test-split clip of clips.tsv as folder/<source>/<file> (siblings an ASF/AMC needs beside it
    too); returns source -> one of its linked clips."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from model.clips import read_clips_table

    first: dict[str, Path] = {}
    for row in read_clips_table(data):
        if row.split != "test" and row.path != LONG_TAKE:
            continue
        target = folder / row.source / Path(row.path).name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.symlink_to(data / row.path)
        for sibling in (data / row.path).parent.glob("*.asf"):
            if not (target.parent / sibling.name).exists():
                (target.parent / sibling.name).symlink_to(sibling)
        if row.split == "test":
            first.setdefault(row.source, target)
    return first


def run(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Print `$ tmr ...` and what it prints (stderr too, as a terminal shows both); returns seconds."""
    shown = " ".join(a if " " not in a else f'"{a}"' for a in args)
    print(f"$ tmr {shown}", flush=True)
    started = time.perf_counter()
    result = subprocess.run(["tmr", *args], cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    sys.stdout.write(result.stderr + result.stdout)
    if result.returncode:
        print(f"(exit code {result.returncode})")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    print(f"# {machine()}")
    with tempfile.TemporaryDirectory(prefix="tour-") as scratch:
        home = Path(scratch)
        first = link_test_split(args.data, home / "mocap")
        env = {**os.environ, "XDG_DATA_HOME": str(home / "data"), "XDG_CACHE_HOME": str(home / "cache"),
               "COLUMNS": "110", "TMR_CHECKPOINT": args.checkpoint}  # fmt: skip
        seconds = {"index": run(["index", "mocap"], home, env)}
        seconds["search"] = run(["search", "a person sits down", "-k", "5"], home, env)
        run(["search", "jumps twice", "-k", "3"], home, env)
        mhad = first.get("berkeley-mhad")
        if mhad is not None:
            run(["caption", str(mhad.relative_to(home)), "-k", "3"], home, env)
        long_take = home / "mocap" / "bandai-namco" / Path(LONG_TAKE).name
        run(["localize", str(long_take.relative_to(home)), "someone kicks", "--top", "2"], home, env)
        print(f"# index {seconds['index']:.1f} s, search (cold process) {seconds['search']:.1f} s")


if __name__ == "__main__":
    main()
