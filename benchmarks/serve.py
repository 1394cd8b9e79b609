"""Latency of `tmr serve`'s /api/search under concurrent clients, on loopback.

Prints, with the machine it ran on, p50 and p99 latency (ms, request sent to answer read), the
error count and the server's CPU time per request (Linux) of GET /api/search?q=...&k=10 at 1, 8 and
32 concurrent clients, for two libraries:
  - the shared corpus (Bandai-Namco and CMU, as benchmarks/search.py), indexed with the model (or
    --corpus-store, a library of it made before);
  - a synthetic library of 100k entries (10k files of 10 windows; embeddings drawn from the corpus
    library's own mean and covariance, so they have the structure real motions get).
Every request asks a different sentence (no text is encoded twice, so no cache helps). Bounded: a
fixed number of requests per level, the server on 127.0.0.1 only, stopped at the end.
Targets on 2 cores: p50 under 20 ms at 1 client, p99 under 200 ms at 32 clients, no errors.

Usage: .venv/bin/python benchmarks/serve.py [--checkpoint NAME|PATH] [--corpus-store L.h5] [--libraries DIR]
       [--requests 320]
--libraries keeps both libraries in DIR and reuses them on the next run (a before/after comparison
then measures the servers, not the indexing).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import DEFAULT_DATA, REPO, machine

sys.path.insert(0, str(REPO))

SUBJECTS = [
    "a person", "someone", "a man", "a woman", "the character", "an old man", "a child", "a dancer",
]  # fmt: skip
ACTIONS = [
    "walks forward", "runs in a circle", "waves with the left hand", "raises both hands", "kicks with the right leg",
    "bows politely", "walks backwards", "turns left while walking", "dances happily", "punches forward twice",
    "jumps up and down", "hops on one leg", "sits down", "stretches the arms", "throws a ball", "bends down",
    "climbs stairs", "looks around", "jogs in place", "spins around",
]  # fmt: skip
MANNERS = ["", " slowly", " quickly", " twice", " carefully", " happily", " then stops", " while turning"]
LEVELS = (1, 8, 32)


def queries() -> list[str]:
    """1280 distinct sentences."""
    return [f"{s} {a}{m}" for m, s, a in itertools.product(MANNERS, SUBJECTS, ACTIONS)]


def corpus_library(folder: Path, data: Path, checkpoint: str) -> Path:
    """The shared corpus (its Bandai-Namco and CMU clips, as benchmarks/search.py) indexed into `folder`."""
    store = folder / "corpus.h5"
    started = time.perf_counter()
    command = [sys.executable, "-c", "from tmrcli.app import main; main()", "index", str(data / "bandai-namco"),
               str(data / "cmu-mocap"), "--store", str(store), "--checkpoint", checkpoint]  # fmt: skip
    # Exit status 1 says some files failed (listed on stderr); the library holds every other one.
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if not store.is_file():
        raise RuntimeError(f"tmr index wrote no library: {result.stderr[-2000:]}")
    print(f"indexed the shared corpus in {time.perf_counter() - started:.0f} s", flush=True)
    return store


def synthetic_library(folder: Path, corpus: Path, checkpoint: str, entries: int = 100_000, per_file: int = 10) -> Path:
    """A library of `entries` entries whose embeddings follow the corpus library's distribution."""
    from model.similarity import unit_rows
    from tmrcli.library.ann import ensure_ann
    from tmrcli.library.store import MotionStore
    from tmrcli.library.storefile import FileRecord, StoreRecord

    with MotionStore(corpus).snapshot() as view:
        real = np.concatenate([s.entry_column("embedding") for s in view.store_files])
        sha256 = view.checkpoint_sha256
    assert sha256 is not None
    rng = np.random.default_rng(0)
    mean, cov = real.mean(axis=0), np.cov(real, rowvar=False)
    values, vectors = np.linalg.eigh(cov)
    transform = vectors * np.sqrt(np.clip(values, 0, None))
    store = MotionStore(folder / "synthetic.h5")
    starts = np.arange(per_file, dtype=np.float32) * 2.0
    with store.writer(sha256, real.shape[1]) as writer:
        for first in range(0, entries // per_file, 1000):
            records = []
            for n in range(first, min(first + 1000, entries // per_file)):
                embeddings = unit_rows(mean + rng.normal(size=(per_file, real.shape[1])) @ transform.T).astype(np.float32)
                record = FileRecord(f"/synthetic/take_{n:06d}.bvh", f"{n:064x}", 1, 0, per_file * 40, 30.0, per_file * 2.0)
                records.append(StoreRecord(record, starts, starts + 4.0, embeddings))
            writer.commit(records)
        writer.compact()
    with store.snapshot() as view:
        assert view.base is not None
        ensure_ann(view.base, store.ann_path(view.base.header.file_id))
    return store.path


class Served:
    """`tmr serve --port 0` on loopback for one library, until the block ends."""

    def __init__(self, store: Path, checkpoint: str) -> None:
        self.command = [
            sys.executable, "-c", "from tmrcli.app import main; main()", "serve",
            "--store", str(store), "--checkpoint", checkpoint, "--host", "127.0.0.1", "--port", "0",
        ]  # fmt: skip

    def __enter__(self) -> Served:
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.process.kill()
            raise RuntimeError(f"tmr serve did not start: {self.process.stderr.read()}")
        return self

    def cpu_seconds(self) -> float | None:
        """CPU time the server has used so far (user + system, every thread), None where /proc is missing."""
        try:
            with open(f"/proc/{self.process.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


async def _level(url: str, texts: list[str], clients: int) -> tuple[list[float], int]:
    """Send every text once, `clients` at a time; each request's latency (s) and the errors."""
    import httpx

    pending = iter(texts)
    latencies: list[float] = []
    errors = 0

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal errors
        for text in pending:
            started = time.perf_counter()
            try:
                response = await http.get("/api/search", params={"q": text, "k": 10})
                response.json()
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - started)
            errors += not ok

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        await http.get("/api/search", params={"q": "a warm-up query", "k": 10})
        await asyncio.gather(*(client(http) for _ in range(clients)))
    return latencies, errors


def bench(name: str, store: Path, checkpoint: str, texts: list[str], requests: int) -> None:
    with Served(store, checkpoint) as served:
        for clients in LEVELS:
            batch = texts[:requests]
            texts = texts[requests:] + batch  # the next level asks other sentences first
            cpu_before = served.cpu_seconds()
            latencies, errors = asyncio.run(_level(served.url, batch, clients))
            cpu_after = served.cpu_seconds()
            ms = np.array(latencies) * 1000
            # CPU per request: what carries over from a loaded machine, where latency waits for cores.
            cpu = ""
            if cpu_before is not None and cpu_after is not None:
                cpu = f"  server CPU {(cpu_after - cpu_before) / len(ms) * 1000:5.1f} ms/request"
            print(
                f"{name:<26} {clients:>3} clients  {len(ms):>4} requests  p50 {np.percentile(ms, 50):7.1f} ms"
                f"  p99 {np.percentile(ms, 99):7.1f} ms  errors {errors}{cpu}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--corpus-store", type=Path, help="a library of the shared corpus made before")
    parser.add_argument("--libraries", type=Path, help="keep the libraries in this folder, reuse them when there")
    parser.add_argument("--requests", type=int, default=320, help="requests per concurrency level")
    args = parser.parse_args()
    print(machine(), flush=True)
    texts = queries()
    with tempfile.TemporaryDirectory(prefix="tmr-bench-serve-") as scratch:
        folder = args.libraries or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        corpus = args.corpus_store or folder / "corpus.h5"
        if not corpus.is_file():
            corpus = corpus_library(folder, args.data, args.checkpoint)
        synthetic, made = folder / "synthetic.h5", folder / "synthetic.complete"  # made: not one cut short
        if not made.is_file():
            for part in folder.glob("synthetic.h5*"):  # what a run cut short left
                shutil.rmtree(part) if part.is_dir() else part.unlink()
            synthetic = synthetic_library(folder, corpus, args.checkpoint)
            made.touch()
        for name, store in (("shared corpus", corpus), ("synthetic 100k entries", synthetic)):
            from tmrcli.library.info import library_info
            from tmrcli.library.store import MotionStore

            info = library_info(MotionStore(store))
            print(f"{name}: {info.files} files, {info.entries} entries", flush=True)
            bench(name, store, args.checkpoint, texts, args.requests)
    print("targets (2 cores): p50 < 20 ms at 1 client, p99 < 200 ms at 32 clients, no errors")


if __name__ == "__main__":
    main()
