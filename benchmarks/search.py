"""Search and index speed of `tmr`, and HNSW recall against exact search.

Prints, with the machine they were measured on (medians throughout):
  - end-to-end `tmr index` throughput on the shared corpus (a fresh process, conversion included);
  - store bytes per motion file (and per entry) of that library;
  - warm search latency: text encoding + library search (HNSW + exact re-ranking), in one process;
  - the wall time of a cold `tmr search` (a new process each time), with the default MiniLM model and,
    side by side (runs alternating), with a model imported the way `tmr import` leaves an official one:
    768-d distilbert-base-uncased token features, the backbone run by tmr's plain-torch BERT code;
  - HNSW recall@10 against exact search, and query time, at 100k and 1M vectors.

The ANN figures use synthetic 256-d unit vectors: "spectrum" vectors are drawn from a Gaussian with
the mean and covariance of the benchmark library's own embeddings (so they have the structure the
checkpoint gives real motions), "uniform" vectors are uniform on the sphere (structureless: the worst
case for any graph index, reported for reference).

Usage: .venv/bin/python benchmarks/search.py [--checkpoint NAME|PATH] [--distilbert FOLDER] [--sizes 100000 1000000]
Without a usable --checkpoint , a randomly initialised
checkpoint of the default architecture is used: the same computation, so the same speed. Likewise
without --distilbert (a local distilbert-base-uncased), a DistilBERT of its architecture and vocabulary
with random weights stands in for it, and the imported model's encoders are randomly initialised.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import DEFAULT_DATA, REPO, machine

sys.path.insert(0, str(REPO))

QUERIES = [
    "a person walks forward", "someone runs in a circle", "a man waves with his left hand",
    "a person raises both hands", "somebody kicks with the right leg", "a person bows politely",
    "someone walks backwards slowly", "a person turns left while walking", "the man dances happily",
    "a tired person walks", "someone punches forward twice", "a person jumps up and down",
    "a woman waves goodbye", "someone is jogging", "a person raises the right hand", "a person slashes with a sword",
    "an old man walks with small steps", "someone waves both hands above the head", "a person dribbles a ball",
    "a person hops on one leg", "the character walks to the right", "someone sits down", "a person stretches",
    "a child runs happily", "a person walks proudly", "someone throws a ball", "a person bends down",
    "a man walks and then stops", "a person looks around", "someone climbs stairs",
]  # fmt: skip


def _checkpoint(name: str, folder: Path) -> tuple[str, str]:
    from model import CheckpointError, load_checkpoint

    try:
        load_checkpoint(name)
        return name, name
    except CheckpointError as error:
        import torch

        from model import TMR, Normalizer, Provenance, TMRConfig, save_checkpoint

        torch.manual_seed(0)
        path = folder / "random-default-architecture.tmr"
        save_checkpoint(
            path,
            TMR(TMRConfig(), with_decoder=False),
            Normalizer.identity(263),
            Provenance("random"),
            include_decoder=False,
        )
        return str(path), f"random-init default architecture ({name!r}: {error.reason})"


def _tmr(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", "from tmrcli.app import main; main()", *args]
    return subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO)


def bench_index(data: Path, store: Path, checkpoint: str) -> dict:
    """A fresh `tmr index` of the whole shared corpus."""
    started = time.perf_counter()
    result = _tmr(
        "index",
        str(data / "bandai-namco"),
        str(data / "cmu-mocap"),
        "--store",
        str(store),
        "--checkpoint",
        checkpoint,
        "--json",
    )
    seconds = time.perf_counter() - started
    report = json.loads(result.stdout)
    info = json.loads(_tmr("info", "--store", str(store), "--json").stdout)
    files = report["added"]
    h5 = sum(p.stat().st_size for p in [store, *store.with_name(store.name + ".d").glob("*.h5")] if p.is_file())
    return {
        "files": files,
        "entries": report["entries"],
        "seconds": round(seconds, 1),
        "files_per_s": round(files / seconds, 1),
        "entries_per_s": round(report["entries"] / seconds, 1),
        "bytes_on_disk": info["bytes_on_disk"],
        "bytes_per_file": round(info["bytes_on_disk"] / files),
        "hdf5_bytes_per_file": round(h5 / files),
        "bytes_per_entry": round(info["bytes_on_disk"] / info["entries"]),
    }


def bench_warm(store: Path, checkpoint: str) -> dict:
    """Text encoding + library search in one warm process (each query a new text: no cache)."""
    from model import load_retriever
    from model.inference import torch_threads
    from tmrcli.library.search import search_library
    from tmrcli.library.store import MotionStore

    retriever = load_retriever(checkpoint)
    with MotionStore(store).snapshot() as view, torch_threads(1):  # as `tmr search` runs
        search_library(view, retriever.encode_texts(["warm up"])[0], 10, checkpoint_sha256=retriever.sha256)
        encode, lookup = [], []
        for text in QUERIES:
            retriever.backbone.clear_cache()
            t0 = time.perf_counter()
            query = retriever.encode_texts([text])[0]
            t1 = time.perf_counter()
            search_library(view, query, 10, checkpoint_sha256=retriever.sha256)
            t2 = time.perf_counter()
            encode.append(t1 - t0)
            lookup.append(t2 - t1)
    total = [a + b for a, b in zip(encode, lookup)]
    return {"total_ms": _ms(total), "text_encoding_ms": _ms(encode), "library_search_ms": _ms(lookup)}


def bench_cold(setups: dict[str, list[str]], runs: int = 5) -> dict:
    """Wall time of `tmr search` in a new process, page cache warm (as after any earlier command), for
    each setup (its --store, --checkpoint and other arguments), the setups alternating run by run."""
    times: dict[str, list[float]] = {name: [] for name in setups}
    for text in QUERIES[:runs]:
        for name, args in setups.items():
            started = time.perf_counter()
            _tmr("search", text, *args)
            times[name].append(time.perf_counter() - started)
    return {
        name: {"median_s": round(statistics.median(values), 2), "all_s": [round(t, 2) for t in values]}
        for name, values in times.items()
    }


def _distilbert_import(folder: Path, given: Path | None) -> tuple[str, Path, str]:
    """A checkpoint shaped as `tmr import` writes an official TMR run (768-d distilbert-base-uncased
    token features, max 512 tokens, no decoder; random encoders: the same computation) and the
    backbone's folder: `given`, else a randomly initialised DistilBERT of distilbert-base-uncased's
    architecture (transformers' DistilBertConfig defaults) with its uncased WordPiece vocabulary (the
    packaged MiniLM's tokenizer files are that vocabulary)."""
    import torch

    from model import TMR, Normalizer, Provenance, TMRConfig, save_checkpoint
    from model.text import resolve_text_model

    backbone, described = given, f"distilbert-base-uncased at {given}"
    if backbone is None:
        from transformers import DistilBertConfig, DistilBertModel

        torch.manual_seed(0)
        backbone = folder / "distilbert-base-uncased"
        DistilBertModel(DistilBertConfig()).eval().save_pretrained(backbone)
        minilm = Path(resolve_text_model("all-MiniLM-L6-v2"))
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
            (backbone / name).write_bytes((minilm / name).read_bytes())
        described = "random-init distilbert-base-uncased architecture"
    torch.manual_seed(0)
    config = TMRConfig(text_model="distilbert-base-uncased", text_width=768, max_text_length=512)
    path = folder / "imported-distilbert.tmr"
    save_checkpoint(path, TMR(config, with_decoder=False), Normalizer.identity(263), Provenance("random"),
                    include_decoder=False)  # fmt: skip
    return str(path), backbone, f"official-import layout, random encoders, backbone: {described}"


def _ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 2)


def _unit(x: np.ndarray) -> np.ndarray:
    from model.similarity import unit_rows

    return unit_rows(x).astype(np.float32)


def _sampler(kind: str, embeddings: np.ndarray, rng: np.random.Generator):
    """Draws n synthetic unit vectors of the given kind."""
    dim = embeddings.shape[1]
    if kind == "uniform":
        return lambda n: _unit(rng.normal(size=(n, dim)))
    mean, cov = embeddings.mean(axis=0), np.cov(embeddings, rowvar=False)
    values, vectors = np.linalg.eigh(cov)
    transform = vectors * np.sqrt(np.clip(values, 0, None))  # (dim, dim): N(0, I) -> N(0, cov)
    return lambda n: _unit(mean + rng.normal(size=(n, dim)) @ transform.T)


def _exact_top10(base: np.ndarray, queries: np.ndarray) -> np.ndarray:
    best = []
    for q in queries:
        sims = base @ q
        top = np.argpartition(-sims, 10)[:10]
        best.append(set(top.tolist()))
    return best


def bench_ann(sizes: list[int], embeddings: np.ndarray, kinds: list[str], n_queries: int = 200) -> list[dict]:
    """Recall@10 of the library's HNSW settings against exact search, and query time."""
    from tmrcli.library.ann import EF_CONSTRUCTION, M, ann_candidates, build_ann, ef_for

    rows = []
    for kind in kinds:
        for n in sizes:
            sample = _sampler(kind, embeddings, np.random.default_rng(n))
            base = np.concatenate([sample(min(100_000, n - i)) for i in range(0, n, 100_000)])
            queries = sample(n_queries)
            started = time.perf_counter()
            index = build_ann([base[i : i + 100_000] for i in range(0, n, 100_000)], n, base.shape[1])
            build = time.perf_counter() - started
            truth = _exact_top10(base, queries)
            times, recalls = [], []
            for q, true in zip(queries, truth):
                t0 = time.perf_counter()
                found = ann_candidates(index, q, 10)
                times.append(time.perf_counter() - t0)
                recalls.append(len(true & set(found.tolist())) / 10)
            rows.append({
                "vectors": kind, "n": n, "M": M, "ef_construction": EF_CONSTRUCTION, "ef": ef_for(10),
                "build_s": round(build, 1), "recall_at_10": round(float(np.mean(recalls)), 4), "query_ms": _ms(times),
            })  # fmt: skip
            if kind == "spectrum" and n == max(sizes):
                rows[-1]["library_search_ms"] = _library_search_at_scale(base, index, queries)
            print(json.dumps(rows[-1]), flush=True)
            del index, base
    return rows


def _library_search_at_scale(base: np.ndarray, index, queries: np.ndarray, per_file: int = 10) -> float:
    """`search_library` (HNSW candidates, HDF5 reads, exact re-ranking, one hit per file) on a library
    holding these vectors, `per_file` entries per file (like windows of long takes)."""
    from tmrcli.library.ann import save_ann
    from tmrcli.library.storefile import FileRecord, StoreRecord
    from tmrcli.library.search import search_library
    from tmrcli.library.store import MotionStore

    with tempfile.TemporaryDirectory() as folder:
        store = MotionStore(Path(folder) / "library.h5")
        starts = np.arange(per_file, dtype=np.float32) * 2.5
        records = []
        for i in range(len(base) // per_file):
            file = FileRecord(f"/synthetic/{i:07d}.bvh", "0" * 64, 1, 1, 600, 30.0, 30.0)
            records.append(StoreRecord(file, starts, starts + 5, base[i * per_file : (i + 1) * per_file]))
        with store.writer("synthetic", base.shape[1]) as writer:
            writer.commit(records)
            writer.compact()
        with store.snapshot() as view:
            save_ann(index, store.ann_path(view.base.header.file_id))
            search_library(view, queries[0], 10, checkpoint_sha256="synthetic")
            times = []
            for query in queries:
                started = time.perf_counter()
                search_library(view, query, 10, checkpoint_sha256="synthetic")
                times.append(time.perf_counter() - started)
    return _ms(times)


def _library_embeddings(store: Path) -> np.ndarray:
    from tmrcli.library.store import MotionStore

    with MotionStore(store).snapshot() as view:
        return np.concatenate([g.entry_column("embedding")[mask] for g, mask, _ in view.live_entries()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--distilbert", type=Path, help="A local distilbert-base-uncased folder.")
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--uniform-sizes", type=int, nargs="*", default=[100_000])
    args = parser.parse_args()
    print("machine:", machine(), flush=True)
    with tempfile.TemporaryDirectory() as folder:
        checkpoint, described = _checkpoint(args.checkpoint, Path(folder))
        print("checkpoint:", described, flush=True)
        store = Path(folder) / "library.h5"
        print("index:", json.dumps(bench_index(args.data, store, checkpoint)), flush=True)
        print("warm search:", json.dumps(bench_warm(store, checkpoint)), flush=True)
        imported, backbone, imported_described = _distilbert_import(Path(folder), args.distilbert)
        print("imported model:", imported_described, flush=True)
        imported_store = Path(folder) / "imported-library.h5"
        bench_index(args.data, imported_store, imported)
        setups = {
            "default (MiniLM)": ["--store", str(store), "--checkpoint", checkpoint],
            "imported (distilbert)": ["--store", str(imported_store), "--checkpoint", imported,
                                      "--text-model", str(backbone)],
        }  # fmt: skip
        print("cold tmr search:", json.dumps(bench_cold(setups)), flush=True)
        embeddings = _library_embeddings(store)
    if args.sizes:
        bench_ann(args.sizes, embeddings, ["spectrum"])
    if args.uniform_sizes:
        bench_ann(args.uniform_sizes, embeddings, ["uniform"])


if __name__ == "__main__":
    main()
