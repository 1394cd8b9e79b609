"""Encoding throughput, tmr side by side with the structure the official TMR code runs.

The reference is built here from torch alone, as the official `ACTORStyleEncoder` is: a projection,
learnable distribution tokens, sinusoidal positions and a plain `torch.nn.TransformerEncoder`
(post-norm, GELU, batch-first) in eval mode, which takes torch's nested-tensor fast path; it gets a
copy of tmr's weights, so both sides compute the same embeddings (the largest difference is printed).
For texts end to end the reference side runs the backbone through transformers' AutoModel on batches
padded as they come, as the official `TextToEmb` does; tmr runs `Retriever.encode_texts`.

Rows (items per second, median of --repeats runs, tmr and reference alternating in one process):
    text encoder     token features of real captions (KIT-ML), batches in the order they come
    motions 2-10 s   feature sequences of 40-200 frames, batches in the order they come
    texts e2e        tokeniser, frozen backbone and text encoder
Target: tmr at least 1.0x the reference on every row. Both sides run under the same thread choice
(tmr's, `model/threads.py`) and with OMP_WAIT_POLICY=PASSIVE, as the CLI sets it.

Usage: .venv/bin/python benchmarks/encode.py [--checkpoint NAME] [--threads 2] [--repeats 5] [--rows motions ...]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its thread pool, as `tmr` does

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import Tensor, nn  # noqa: E402

from common import DEFAULT_DATA, machine  # noqa: E402
from model import Padded, Retriever, TextBackbone, load_checkpoint  # noqa: E402
from model.config import TMRConfig  # noqa: E402
from model.network import ActorEncoder, sinusoidal_table  # noqa: E402
from model.text import resolve_text_model  # noqa: E402
from model.threads import threads_for, torch_threads  # noqa: E402

BATCH_SIZES = (1, 64)
ITEMS = {1: 16, 64: 256}  # items encoded per timed run at each batch size
ROWS = ("text-encoder", "motions", "texts-e2e")


class ReferenceEncoder(nn.Module):
    """The official ACTORStyleEncoder's structure on torch's nn.TransformerEncoder, with tmr's weights."""

    def __init__(self, ours: ActorEncoder, config: TMRConfig) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(
            config.latent_dim, config.num_heads, config.ff_size, config.dropout, config.activation, batch_first=True
        )
        self.seqTransEncoder = nn.TransformerEncoder(layer, config.num_layers, enable_nested_tensor=True)
        self.seqTransEncoder.layers.load_state_dict(ours.layers.state_dict())
        self.projection = nn.Linear(ours.projection.in_features, config.latent_dim)
        self.projection.load_state_dict(ours.projection.state_dict())
        self.tokens = nn.Parameter(ours.dist_tokens.detach().clone())
        self.register_buffer("pe", sinusoidal_table(1024, config.latent_dim))
        self.eval()

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """x (B, L, n_inputs), mask (B, L) True = real -> mu (B, D)."""
        batch, n_tokens = len(x), len(self.tokens)
        seq = torch.cat([self.tokens.expand(batch, -1, -1), self.projection(x)], dim=1)
        seq = seq + self.pe[: seq.shape[1]]
        full_mask = torch.cat([torch.ones(batch, n_tokens, dtype=torch.bool), mask], dim=1)
        return self.seqTransEncoder(seq, src_key_padding_mask=~full_mask)[:, 0]


class ReferenceTexts:
    """Texts end to end as the official TextToEmb does it: transformers tokeniser and AutoModel,
    each batch padded to its longest text, then the reference encoder."""

    def __init__(self, folder: str, encoder: ReferenceEncoder) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
        self.encoder = encoder

    def __call__(self, texts: list[str]) -> Tensor:
        encoded = self.tokenizer(texts, return_tensors="pt", padding=True)
        hidden = self.model(**encoded).last_hidden_state
        return self.encoder(hidden, encoded["attention_mask"].bool())


def _captions(data: Path, count: int) -> list[str]:
    annotations = data / "humanml3d-ref" / "tmr" / "annotations" / "kitml" / "annotations.json"
    if not annotations.is_file():
        raise SystemExit(f"error: {annotations}: not found (pass --data, the shared data folder)")
    entries = json.loads(annotations.read_text()).values()
    texts = sorted({a["text"] for entry in entries for a in entry["annotations"]})
    return random.Random(0).sample(texts, count)


def _batches(items: list, batch_size: int) -> list[list]:
    return [items[i : i + batch_size] for i in range(0, len(items), batch_size)]


def _side_by_side(ours: Callable[[], object], theirs: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median seconds of each, the two alternating so both see the same machine load."""
    ours(), theirs()  # warm-up: allocator, kernels, lazy initialisation
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for run, out in ((ours, times[0]), (theirs, times[1])):
            start = time.perf_counter()
            run()
            out.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def _run_padded(encoder: Callable[[Tensor, Tensor], Tensor], batches: list[Padded], rows: int) -> Tensor:
    with torch_threads(threads_for(rows)):
        return torch.cat([encoder(b.x, b.mask) for b in batches])


def _encoder_row(
    name: str, ours: Callable[[Tensor, Tensor], Tensor], theirs: ReferenceEncoder, sequences: list[Tensor], repeats: int
) -> list[tuple[str, int, float, float, float]]:
    rows = []
    for batch_size in BATCH_SIZES:
        items = sequences[: ITEMS[batch_size]]
        batches = [Padded.from_sequences(group) for group in _batches(items, batch_size)]
        n_rows = max(len(s) for s in items) * batch_size  # the rows of one call
        diff = (_run_padded(ours, batches, n_rows) - _run_padded(theirs, batches, n_rows)).abs().max().item()
        t_ours, t_theirs = _side_by_side(
            lambda: _run_padded(ours, batches, n_rows), lambda: _run_padded(theirs, batches, n_rows), repeats
        )
        rows.append((name, batch_size, len(items) / t_ours, len(items) / t_theirs, diff))
    return rows


def _text_e2e_rows(retriever: Retriever, reference: ReferenceTexts, texts: list[str], repeats: int) -> list:
    rows = []
    for batch_size in BATCH_SIZES:
        items = texts[: ITEMS[batch_size]]
        n_rows = sum(len(t.split()) + 2 for t in items[:batch_size])

        def theirs() -> Tensor:
            with torch_threads(threads_for(n_rows)):
                return torch.cat([reference(group) for group in _batches(items, batch_size)])

        def ours() -> np.ndarray:
            return retriever.encode_texts(items, batch_size=batch_size)

        want = torch.nn.functional.normalize(theirs(), dim=-1).numpy()
        diff = float(np.abs(ours() - want).max())
        t_ours, t_theirs = _side_by_side(ours, theirs, repeats)
        rows.append(("texts e2e", batch_size, len(items) / t_ours, len(items) / t_theirs, diff))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="default", help="checkpoint file or registered name")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="CPU threads (default: cores)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per figure (median reported)")
    parser.add_argument("--rows", nargs="+", choices=ROWS, default=list(ROWS), help="which rows to measure")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    checkpoint = load_checkpoint(args.checkpoint)
    model, config = checkpoint.model.eval(), checkpoint.config
    backbone = TextBackbone(config.text_model, max_length=config.max_text_length, cache=False)
    retriever = Retriever(checkpoint, backbone=backbone, device="cpu")
    texts = _captions(args.data, max(ITEMS.values()))
    rng = np.random.default_rng(0)
    motions = [torch.from_numpy(rng.normal(size=(int(n), config.n_feats)).astype(np.float32))
               for n in rng.integers(40, 201, size=max(ITEMS.values()))]
    text_reference = ReferenceEncoder(model.text_encoder, config)
    motion_reference = ReferenceEncoder(model.motion_encoder, config)

    print(f"{machine()}, {args.threads} torch threads")
    print(f"torch {torch.__version__}, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}; "
          f"{len(texts)} KIT-ML captions, checkpoint {args.checkpoint}")
    print(f"{'what':<16}{'batch':>6}{'tmr/s':>10}{'reference/s':>13}{'ratio':>8}{'target':>9}{'max |diff|':>12}")
    with torch.inference_mode():
        if "text-encoder" in args.rows:
            _print_rows(_encoder_row("text encoder", lambda x, m: model.encode_texts(Padded(x, m)), text_reference,
                                     backbone.token_features(texts), args.repeats))
        if "motions" in args.rows:
            _print_rows(_encoder_row("motions 2-10 s", lambda x, m: model.encode_motions(Padded(x, m)),
                                     motion_reference, motions, args.repeats))
        if "texts-e2e" in args.rows:
            reference_texts = ReferenceTexts(resolve_text_model(config.text_model), text_reference)
            _print_rows(_text_e2e_rows(retriever, reference_texts, texts, args.repeats))


def _print_rows(rows: list[tuple[str, int, float, float, float]]) -> None:
    for name, batch_size, ours, theirs, diff in rows:
        ratio = ours / theirs
        print(f"{name:<16}{batch_size:>6}{ours:>10.1f}{theirs:>13.1f}{ratio:>7.2f}x{'>= 1.0x':>9}{diff:>12.1e}"
              f"{'' if ratio >= 1.0 else '  below target'}")

if __name__ == "__main__":
    main()
