"""Cold start of `tmr search`: the wall time of a fresh process, and where it goes.

Indexes a few shared clips into a temporary library, then
  - runs `tmr search "<text>" --json` in a new process --runs times (median wall time; target < 1.2 s);
  - in new processes, times the same steps one by one: interpreter and CLI imports, the search
    command's imports (torch among them), building and loading the checkpoint, loading the text
    backbone, encoding the query, searching the library (medians).

  - with `python -X importtime`, where the import time of those steps goes, by top-level package
    (self time summed over each package's modules), and the floor no change in tmr can go under:
    a fresh `python -c "import torch"` (median wall time).

Usage: .venv/bin/python benchmarks/cold_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import DEFAULT_DATA, REPO, machine

QUERY = "a person walks forward"
TARGET_SECONDS = 1.2
STEPS = ("python + CLI imports", "search imports (torch)", "checkpoint build + load", "text backbone", "encode query",
         "search library")


def split(store: str) -> dict[str, float]:
    """Seconds per step of `tmr search`, in this fresh process (nothing imported before)."""
    times, last = {}, time.perf_counter()

    def lap(step: str) -> None:
        nonlocal last
        now = time.perf_counter()
        times[step], last = now - last, now

    import tmrcli.app  # noqa: F401  (what `tmr` imports before any command runs)

    lap(STEPS[0])
    from model.checkpoint import load_checkpoint
    from model.inference import Retriever
    from tmrcli.library.search import search_library
    from tmrcli.library.store import MotionStore
    from tmrcli.views.render import render_hits  # noqa: F401

    lap(STEPS[1])
    checkpoint = load_checkpoint("default", with_decoder=False)
    lap(STEPS[2])
    retriever = Retriever(checkpoint)
    retriever.backbone  # noqa: B018  (loaded on first use)
    lap(STEPS[3])
    query = retriever.encode_texts([QUERY])[0]
    lap(STEPS[4])
    with MotionStore(Path(store)).snapshot() as view:
        search_library(view, query, 10, checkpoint_sha256=retriever.sha256)
    lap(STEPS[5])
    return times


SEARCH_IMPORTS = (
    "import tmrcli.app; from model.checkpoint import load_checkpoint; from model.inference import Retriever; "
    "from tmrcli.library.search import search_library; from tmrcli.library.store import MotionStore; "
    "from tmrcli.views.render import render_hits"
)


def import_split(env: dict[str, str]) -> dict[str, float]:
    """Seconds of import self time per top-level package for `tmr search`'s imports, in a fresh process."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", SEARCH_IMPORTS], check=True, capture_output=True,
                          text=True, env=env, cwd=REPO)
    totals: dict[str, float] = {}
    for row in done.stderr.splitlines():
        if not row.startswith("import time:") or "self [us]" in row:
            continue
        self_us, _, name = (part.strip() for part in row.removeprefix("import time:").split("|"))
        package = name.split(".")[0]
        totals[package] = totals.get(package, 0.0) + int(self_us) / 1e6
    return totals


def _median_wall(command: list[str], runs: int, env: dict[str, str]) -> float:
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env, cwd=REPO)
        walls.append(time.perf_counter() - start)
    return statistics.median(walls)


def _library(data: Path, folder: Path) -> Path:
    clips = folder / "clips"
    clips.mkdir()
    for line in (data / "splits" / "val.txt").read_text().split()[:6]:
        (clips / Path(line).name).symlink_to(data / line)
    store = folder / "library.h5"
    subprocess.run([str(Path(sys.executable).parent / "tmr"), "index", str(clips), "--store", str(store)],
                   check=True, capture_output=True)
    return store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per figure (median reported)")
    parser.add_argument("--split", metavar="STORE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.split:
        print(json.dumps(split(args.split)))
        return

    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}  # as `tmr` sets it
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        store = _library(args.data, Path(tmp))
        walls, splits = [], []
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run([str(Path(sys.executable).parent / "tmr"), "search", QUERY, "--store", str(store), "--json"],
                           check=True, capture_output=True, env=env)
            walls.append(time.perf_counter() - start)
            done = subprocess.run([sys.executable, __file__, "--split", str(store)], check=True, capture_output=True,
                                  text=True, env=env, cwd=REPO)
            splits.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"\ncold `tmr search` split (median of {args.runs} fresh processes)")
    for step in STEPS:
        print(f"  {step:<28}{statistics.median(s[step] for s in splits):>7.3f} s")
    total = statistics.median(sum(s.values()) for s in splits)
    print(f"  {'sum of steps':<28}{total:>7.3f} s")
    imports = [import_split(env) for _ in range(args.runs)]
    packages = {name for split_ in imports for name in split_}
    medians = sorted(((statistics.median(s.get(p, 0.0) for s in imports), p) for p in packages), reverse=True)
    print(f"\nimport self time by top-level package, `tmr search`'s imports (python -X importtime, median of {args.runs})")
    for seconds, package in medians[:12]:
        print(f"  {package:<28}{seconds:>7.3f} s")
    print(f"  {'(all others)':<28}{sum(s for s, _ in medians[12:]):>7.3f} s")
    print(f"  {'total':<28}{sum(s for s, _ in medians):>7.3f} s")
    floor = _median_wall([sys.executable, "-c", "import torch"], args.runs, env)
    print(f"\nfloor: a fresh `python -c 'import torch'` takes {floor:.2f} s (median of {args.runs})")
    wall = statistics.median(walls)
    print(f"\ncold `tmr search` wall time: {wall:.2f} s (median of {args.runs}; target < {TARGET_SECONDS} s)"
          f"{'' if wall < TARGET_SECONDS else '  above target'}")


if __name__ == "__main__":
    main()
