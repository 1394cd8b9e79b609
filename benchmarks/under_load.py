"""The encoders beside a CPU hog: does `tmr` degrade gracefully on a loaded machine?

Each thread setting runs in a fresh process (OpenMP reads its wait policy when torch starts):
    1 thread             the floor every other setting is held to
    N threads, spin      OpenMP's default: waiting threads busy-spin
    N threads, passive   OMP_WAIT_POLICY=PASSIVE: waiting threads sleep
    tmr                  what the CLI does: PASSIVE, and one thread for small work (`model/threads.py`)
and measures a text query (batch 1), a 10 s motion (batch 1) and 64 motions of 10 s (batch 64), first
with the machine as it is, then beside --hogs busy-looping processes this script starts and stops
(each also ends by itself after --hog-seconds). The settings alternate: --rounds times, each setting
once per round, so a burst of other work falls on every setting alike. Figures are items per second,
medians over the rounds of each round's median; each ratio is the median of the rounds' own ratios
(a setting against the 1-thread run of the same round).
Target: the `tmr` row beside the hog at least the 1-thread row beside the hog, on every column.

Usage: .venv/bin/python benchmarks/under_load.py [--hogs 2] [--repeats 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from common import REPO, machine

SETTINGS = {  # name -> (threads, OMP_WAIT_POLICY or None for OpenMP's default, tmr's per-call choice)
    "1 thread": (1, None, False),
    "N threads, spin": (0, None, False),
    "N threads, passive": (0, "PASSIVE", False),
    "tmr": (0, "PASSIVE", True),
}
WORKLOADS = ("text query", "motion 10 s", "64 motions")
_HOG = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"


def probe(threads: int, per_call: bool, repeats: int) -> dict[str, float]:
    """Items per second of each workload in this process (torch imported here, after the environment
    is set). threads 0 = torch's default; per_call applies tmr's one-thread-for-small-work choice."""
    import time

    import numpy as np
    import torch

    from model import Padded, TextBackbone, load_checkpoint
    from model.threads import text_rows, threads_for, torch_threads

    if threads:
        torch.set_num_threads(threads)
    checkpoint = load_checkpoint("default")
    model, backbone = checkpoint.model.eval(), TextBackbone(cache=False)
    rng = np.random.default_rng(0)
    motions = [torch.from_numpy(rng.normal(size=(200, 263)).astype(np.float32)) for _ in range(64)]
    queries = ["a person walks forward and then turns around", "someone jumps twice", "a man waves his left hand"]

    def texts() -> None:
        for text in queries:  # the backbone too runs under the call's thread count, as in `Retriever`
            with torch_threads(threads_for(text_rows([text])) if per_call else torch.get_num_threads()):
                for _, padded in backbone.padded_batches([text]):
                    model.encode_texts(padded)

    def motions_of(count: int) -> None:
        for start in range(0, 4 if count == 1 else 64, count):
            batch = Padded.from_sequences(motions[start : start + count])
            with torch_threads(threads_for(batch.x.shape[0] * batch.x.shape[1]) if per_call else torch.get_num_threads()):
                model.encode_motions(batch)

    runs = {"text query": (texts, len(queries)), "motion 10 s": (lambda: motions_of(1), 4),
            "64 motions": (lambda: motions_of(64), 64)}
    rates = {}
    with torch.inference_mode():
        for name, (run, items) in runs.items():
            run()  # warm-up
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                run()
                times.append(time.perf_counter() - start)
            rates[name] = items / statistics.median(times)
    return rates


def _probe_in_fresh_process(setting: str, repeats: int) -> dict[str, float]:
    threads, policy, per_call = SETTINGS[setting]
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    command = [sys.executable, __file__, "--probe", str(threads), str(int(per_call)), "--repeats", str(repeats)]
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _beside_hogs(hogs: int, seconds: float, run):
    processes = [subprocess.Popen([sys.executable, "-c", _HOG.format(seconds=seconds)]) for _ in range(hogs)]
    try:
        return run()
    finally:
        for process in processes:
            process.kill()
            process.wait()


def _alternating(rounds: int, run) -> list[dict[str, dict[str, float]]]:
    """Every setting once per round, `run(setting)` giving its rates: one dict per round."""
    return [{setting: run(setting) for setting in SETTINGS} for _ in range(rounds)]


def _ratio(rounds: list[dict[str, dict[str, float]]], setting: str, workload: str) -> float:
    """The median over rounds of `setting`'s rate against the same round's 1-thread rate."""
    return statistics.median(r[setting][workload] / r["1 thread"][workload] for r in rounds)


def _print(title: str, rounds: list[dict[str, dict[str, float]]]) -> None:
    print(f"\n{title}")
    print(f"{'setting':<22}" + "".join(f"{w:>22}" for w in WORKLOADS))
    for setting in SETTINGS:
        cells = "".join(
            f"{statistics.median(r[setting][w] for r in rounds):>11.1f}/s {_ratio(rounds, setting, w):>7.2f}x"
            for w in WORKLOADS
        )
        print(f"{setting:<22}{cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hogs", type=int, default=len(os.sched_getaffinity(0)), help="busy processes (default: cores)")
    parser.add_argument("--hog-seconds", type=float, default=120.0, help="each hog ends by itself after this")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per figure (median reported)")
    parser.add_argument("--rounds", type=int, default=3, help="times every setting runs, alternating")
    parser.add_argument("--probe", nargs=2, type=int, metavar=("THREADS", "PER_CALL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(args.probe[0], bool(args.probe[1]), args.repeats)))
        return

    cores = len(os.sched_getaffinity(0))
    print(f"{machine()}; N = {cores}; {args.rounds} alternating rounds")
    as_is = _alternating(args.rounds, lambda setting: _probe_in_fresh_process(setting, args.repeats))
    _print("as the machine is (ratio to 1 thread)", as_is)
    loaded = _alternating(
        args.rounds,
        lambda setting: _beside_hogs(args.hogs, args.hog_seconds, lambda: _probe_in_fresh_process(setting, args.repeats)),
    )
    _print(f"beside {args.hogs} busy processes (ratio to 1 thread; target for tmr: >= 1.00x)", loaded)
    worst = min(_ratio(loaded, "tmr", w) for w in WORKLOADS)
    print(f"\ntmr beside the hog: worst ratio to 1 thread {worst:.2f}x (target >= 1.00x)"
          f"{'' if worst >= 1.0 else '  below target'}")


if __name__ == "__main__":
    main()
