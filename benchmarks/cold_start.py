"""Cold start of `tmr search`: the wall time of a fresh process, and where it goes.

Indexes a few shared clips into a temporary library, then
  - runs `tmr search "<text>" --json` in a new process --runs times (median wall time and CPU
    seconds; target < 1.2 s), alternating with the same search through the torch `Retriever` in a
    new process (the path `tmr search` took before small work ran in numpy), for the ratio;
  - in new processes, times the steps of `tmr search` one by one: interpreter and CLI imports, the
    search command's imports (no torch), reading the checkpoint into the numpy encoders
    (`model/small_work.py`), loading the text backbone, encoding the query, the text bank's shipped
    embeddings, searching the library (medians).

  - with `python -X importtime`, where the import time of those steps goes, by top-level package
    (self time summed over each package's modules), and the floor no change in tmr can go under:
    a fresh `python -c "import torch"` (median wall time).

Usage: .venv/bin/python benchmarks/cold_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# `common` imports numpy and formats/: the split (below) must start before them, so it is imported in main.

QUERY = "a person walks forward"
TARGET_SECONDS = 1.2
STEPS = ("python + CLI imports", "search imports (no torch)", "checkpoint read (numpy)", "text backbone (numpy)",
         "encode query", "text bank (shipped)", "search library")


def split(store: str) -> dict[str, float]:
    """Seconds per step of `tmr search`, in this fresh process (nothing imported before)."""
    times, last = {}, time.perf_counter()

    def lap(step: str) -> None:
        nonlocal last
        now = time.perf_counter()
        times[step], last = now - last, now

    import tmrcli.app  # noqa: F401  (what `tmr` imports before any command runs)

    lap(STEPS[0])
    from model.bank import default_text_bank
    from model.small_work import load_small_work_retriever
    from tmrcli.library.caption import bank_embeddings
    from tmrcli.library.search import search_library
    from tmrcli.library.store import MotionStore
    from tmrcli.views.render import render_hits  # noqa: F401

    lap(STEPS[1])
    retriever = load_small_work_retriever("default")
    lap(STEPS[2])
    retriever._numpy_backbone()  # loaded on first use
    lap(STEPS[3])
    query = retriever.encode_texts([QUERY])[0]
    lap(STEPS[4])
    bank = bank_embeddings(retriever, default_text_bank())
    lap(STEPS[5])
    with MotionStore(Path(store)).snapshot() as view:
        search_library(view, query, 10, checkpoint_sha256=retriever.sha256, bank=bank)
    lap(STEPS[6])
    assert "torch" not in sys.modules
    return times


# The same search through the torch Retriever (what `tmr search` ran before), in a fresh process.
TORCH_SEARCH = (
    "import sys, tmrcli.app; from pathlib import Path; from model.inference import load_retriever; "
    "from tmrcli.library.search import find_motions; from tmrcli.library.store import MotionStore; "
    f"find_motions(MotionStore(Path(sys.argv[1])), load_retriever('default'), 10, text={QUERY!r})"
)


SEARCH_IMPORTS = (
    "import tmrcli.app; from model.small_work import load_small_work_retriever; "
    "from tmrcli.library.search import search_library; from tmrcli.library.store import MotionStore; "
    "from tmrcli.views.render import render_hits; import safetensors.numpy, tokenizers"
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


def _run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env, cwd=REPO)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _median_wall(command: list[str], runs: int, env: dict[str, str]) -> float:
    return statistics.median(_run(command, env)[0] for _ in range(runs))


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
    if sys.argv[1:2] == ["--split"]:  # a fresh process timing the steps: nothing imported yet
        sys.path.insert(0, str(REPO))
        print(json.dumps(split(sys.argv[2])))
        return
    from common import DEFAULT_DATA, installed_env, machine

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per figure (median reported)")
    args = parser.parse_args()

    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        env = installed_env(Path(tmp) / "pycache")
        store = _library(args.data, Path(tmp))
        runs, torch_runs, splits = [], [], []
        tmr = [str(Path(sys.executable).parent / "tmr"), "search", QUERY, "--store", str(store), "--json"]
        for command in (tmr, [sys.executable, "-c", TORCH_SEARCH, str(store)], [sys.executable, "-c", "import torch"]):
            _run(command, env)  # untimed: fills the bytecode cache
        for _ in range(args.runs):  # alternating, so that both see the same load
            runs.append(_run(tmr, env))
            torch_runs.append(_run([sys.executable, "-c", TORCH_SEARCH, str(store)], env))
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
        print(f"\nfor reference: a fresh `python -c 'import torch'` takes {floor:.2f} s (median of {args.runs}), "
              "the floor of any process that imports torch")
        wall, cpu = (statistics.median(run[i] for run in runs) for i in (0, 1))
        torch_wall, torch_cpu = (statistics.median(run[i] for run in torch_runs) for i in (0, 1))
        print(f"\nthe same search through the torch Retriever, fresh process: {torch_wall:.2f} s ({torch_cpu:.2f} CPU s)")
        print(f"cold `tmr search` wall time: {wall:.2f} s ({cpu:.2f} CPU s; median of {args.runs}, alternating; "
              f"target < {TARGET_SECONDS} s){'' if wall < TARGET_SECONDS else '  above target'}; "
              f"{torch_wall / wall:.2f}x faster than through torch ({torch_cpu / cpu:.2f}x in CPU time)")
        print(f"load average after the runs: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
