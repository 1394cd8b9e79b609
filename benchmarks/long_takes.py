"""Long takes: `tmr localize`, `tmr show` and `tmr caption` on a real 63 s take, each beside its target.

  - localize: the work of `tmr localize` once the model is loaded (read the take, embed the coarse
    pass and the windows around the best stretches, score them; median of --runs, target < 1.5 s),
    with the rows it put through the encoder against embedding every window of the grid, and the
    time of each of those three steps (the text's own encoding, a few ms, left out); and beside
    it, in the same run, the coarse pass's windows embedded in one pass against one clip each (the
    way before `Retriever.encode_windows`): the ratio between the two;
  - show: the default GIF of the whole take (median seconds, target < 5 s; its size, target < 2 MB);
  - caption: `tmr caption` in a fresh process with an empty cache (the first caption on a machine:
    the default model's text bank ships embedded, and the take is embedded in numpy without torch,
    `model/small_work.py`; target < 2 s), alternating with the same caption through the torch
    `Retriever` in a fresh process (the path it took before), and again with the cache filled
    (median of --runs);
  - the `tmr localize` and `tmr show` commands end to end in fresh processes, start-up included.
Fresh processes cache Python's bytecode, as an installed tmr does (`common.installed_env`).
Every figure is wall time with the CPU seconds it used beside it (on a busy machine, the CPU seconds
are the steadier figure).

Usage: .venv/bin/python benchmarks/long_takes.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from common import DEFAULT_DATA, installed_env, machine

TAKE = Path("bandai-namco/dataset-1/data/dataset-1_dance-short_normal_001.bvh")  # 63 s of dance
TEXT = "a person dances"
TARGETS = {"localize": 1.5, "show": 5.0, "caption cold": 2.0}
GIF_TARGET_MB = 2.0
TMR = str(Path(sys.executable).parent / "tmr")


def timed(work: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (this process) of `work`."""
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


# `tmr caption TAKE` through the torch Retriever (what the command ran before), in a fresh process.
TORCH_CAPTION = (
    "import sys, tmrcli.app; from pathlib import Path; from model.inference import load_retriever; "
    "from tmrcli.library.caption import caption_file; caption_file(Path(sys.argv[1]), load_retriever('default'), 5)"
)


def command(args: list[str], runs: int, env: dict[str, str] | None = None, program: list[str] | None = None,
            ) -> tuple[float, float]:
    """Median wall seconds and CPU seconds of `tmr ARGS` (or `program ARGS`) in fresh processes."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter()
        subprocess.run([*(program or [TMR]), *args], check=True, capture_output=True, env=env)
        walls.append(time.perf_counter() - wall)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def _rows(spans) -> int:
    """Rows through the motion encoder to embed these windows."""
    return int((spans[:, 1] - spans[:, 0]).sum())


def line(name: str, figures: tuple[float, float], target: float | None = None) -> None:
    wall, cpu = figures
    verdict = "" if target is None else f"   target < {target:g} s{'' if wall < target else '  (above)'}"
    print(f"  {name:<44}{wall:>7.2f} s  ({cpu:5.2f} CPU s){verdict}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    parser.add_argument("--runs", type=int, default=3, help="repetitions per figure (median reported)")
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `tmr` sets it, before torch loads

    from formats.reading import LoadOptions, read_features
    from model import load_retriever
    from model.threads import torch_threads
    from tmrcli.library.localize import embed_windows, localize_query, localize_file
    from tmrcli.library.take_windows import MotionWindows, coarse_spans, window_grid
    from tmrcli.views.show import show_motion

    take = args.data / TAKE
    retriever = load_retriever("default", device="cpu")
    _, feats, _ = read_features(take, LoadOptions())
    spans, grid = coarse_spans(len(feats)), window_grid(len(feats))
    searched = embed_windows(retriever, feats, len(feats) / 20)
    localize_query(searched, retriever.encode_texts([TEXT])[0], 3)
    print(machine())
    print(f"take: {TAKE} ({len(feats) / 20:.1f} s): {len(grid)} windows of 2-8 s scored ({_rows(grid)} rows); "
          f"embedded for '{TEXT}', top 3: {len(searched.embedded())} ({_rows(searched.embedded())} rows), "
          f"the coarse pass {len(spans)} of them ({_rows(spans)} rows)\n")

    localize_file(take, TEXT, retriever, 3)  # caches filled, kernels warm
    print("in this process, model loaded")
    line("localize (read, embed windows, score)", timed(lambda: localize_file(take, TEXT, retriever, 3), args.runs),
         TARGETS["localize"])
    query = retriever.encode_texts([TEXT])[0]
    coarse = searched.first_only().embeddings
    line("  of which: read the take", timed(lambda: read_features(take, LoadOptions()), args.runs))
    line("  of which: the coarse pass", timed(lambda: retriever.encode_windows(feats, spans), args.runs))
    line("  of which: the fine pass, scoring", timed(lambda: localize_query(MotionWindows(
        spans, coarse, len(feats), len(feats) / 20, partial(retriever.encode_windows, feats)), query, 3), args.runs))
    with torch_threads(1):  # one thread, alternating: the steadiest comparison on a shared machine
        pairs = [(timed(lambda: retriever.encode_windows(feats, spans), 1),
                  timed(lambda: retriever.encode_motions([feats[a:b] for a, b in spans]), 1)) for _ in range(args.runs)]
    together = tuple(statistics.median(pair[0][i] for pair in pairs) for i in (0, 1))
    separate = tuple(statistics.median(pair[1][i] for pair in pairs) for i in (0, 1))
    line("  1 thread: coarse pass embedded in one pass", together)
    line("  1 thread: coarse pass embedded as separate clips", separate)
    ratio = statistics.median(pair[1][1] / pair[0][1] for pair in pairs)
    print(f"  {'  ratio (one pass faster by)':<44}{ratio:>7.2f}x CPU time (median of {args.runs} alternating pairs)")

    with tempfile.TemporaryDirectory() as tmp:
        gif = Path(tmp) / "take.gif"
        line("show, default GIF of the whole take", timed(
            lambda: show_motion(take, 0.0, None, LoadOptions(), gif, None), args.runs), TARGETS["show"])
        size = gif.stat().st_size / 1e6
        print(f"  {'  GIF size':<44}{size:>7.2f} MB   target < {GIF_TARGET_MB:g} MB"
              f"{'' if size < GIF_TARGET_MB else '  (above)'}")

        print("\nfresh processes, start-up included")
        cache = installed_env(Path(tmp) / "pycache") | {"XDG_CACHE_HOME": str(Path(tmp) / "cache")}
        torch_caption = [sys.executable, "-c", TORCH_CAPTION]
        for program in ([TMR, "caption"], torch_caption, [TMR, "localize"], [TMR, "show"]):
            subprocess.run([*program, "--help"] if program[0] == TMR else [*program, str(take)],
                           check=True, capture_output=True, env=cache)  # untimed: fills the bytecode cache
        cold, cold_torch = [], []
        for run in range(args.runs):  # alternating, so that both see the same load
            cache["XDG_CACHE_HOME"] = str(Path(tmp) / f"cache-{run}")  # empty
            cold.append(command(["caption", str(take), "--json"], 1, cache))
            cache["XDG_CACHE_HOME"] = str(Path(tmp) / f"cache-torch-{run}")
            cold_torch.append(command([str(take)], 1, cache, torch_caption))
        line("tmr caption, first (empty cache)", (statistics.median(c[0] for c in cold),
                                                   statistics.median(c[1] for c in cold)), TARGETS["caption cold"])
        line("  the same through the torch Retriever", (statistics.median(c[0] for c in cold_torch),
                                                         statistics.median(c[1] for c in cold_torch)))
        line("tmr caption, cache filled", command(["caption", str(take), "--json"], args.runs, cache))
        line("tmr localize", command(["localize", str(take), TEXT, "--json"], args.runs, cache))
        line("tmr show", command(["show", str(take), "-o", str(gif)], args.runs, cache))


if __name__ == "__main__":
    main()
