"""The inference facade the CLI uses: numpy in, numpy out, one checkpoint, batched and length-sorted.

Embeddings returned here are the encoders' means mu, L2-normalised, float32 (N, latent_dim): cosine
similarity is then a dot product, and the score shown to people is (cos + 1) / 2 (`scores`).
The lower-level torch `TMR` returns raw mu.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from model.bank import default_text_bank, shipped_default_bank_sentences
from model.batching import Padded, length_sorted_batches
from model.checkpoint import Checkpoint, load_checkpoint, recorded_text_folder
from model.encoder_inputs import check_motion, window_spans
from model.errors import TextModelError
from model.likeness import LIKENESS_BACKBONE, description_likeness, mean_pooled
from model.similarity import UNIT_EPS, cosine_to_score
from model.text import TextBackbone
from model.threads import text_rows, threads_for, torch_threads

__all__ = ["Retriever", "load_retriever", "default_device", "encode_batches", "torch_threads"]


def default_device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@torch.inference_mode()
def encode_batches(
    batches: Iterable[tuple[np.ndarray, Padded]],
    encoder: Callable[[Padded], Tensor],
    count: int,
    latent_dim: int,
    device: torch.device,
) -> np.ndarray:
    """Run `encoder` over (indices, padded inputs) batches on `device`: (count, latent_dim) unit-norm
    float32 rows, each at its index."""
    out = np.zeros((count, latent_dim), dtype=np.float32)
    for batch, padded in batches:
        mu = encoder(padded.to(device))  # (b, latent_dim)
        out[batch] = torch.nn.functional.normalize(mu, dim=-1, eps=UNIT_EPS).float().cpu().numpy()
    return out


class Retriever:
    """Embeds texts and motions with one checkpoint.

    Parameters
    ----------
    checkpoint: a loaded checkpoint (see `load_checkpoint`).
    backbone: the text backbone to use; by default the checkpoint's own (`config.text_model`, looked
        up by name, `model/text_location.py`), loaded on the first `encode_texts`, so indexing motions
        never loads it.
    text_model: the folder of the checkpoint's backbone, overriding the lookup (for example a local
        distilbert-base-uncased for an imported official model).
    device: default CUDA when present, else CPU.
    """

    def __init__(
        self,
        checkpoint: Checkpoint,
        *,
        backbone: TextBackbone | None = None,
        text_model: str | Path | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        self.checkpoint = checkpoint
        self.device = torch.device(device) if device is not None else default_device()
        self.model = checkpoint.model.to(self.device).eval()
        self._text_folder = text_model
        self._backbone = backbone
        self._bank_sentence_embeddings: np.ndarray | None = None
        if backbone is not None:
            self._check_width(backbone)

    @property
    def sha256(self) -> str | None:
        """SHA256 of the checkpoint file: which model made an embedding."""
        return self.checkpoint.sha256

    @property
    def backbone(self) -> TextBackbone:
        """The frozen text backbone, loaded on first use."""
        if self._backbone is None:
            config = self.checkpoint.config
            backbone = TextBackbone(
                config.text_model, folder=self._text_folder, recorded=recorded_text_folder(self.checkpoint),
                max_length=config.max_text_length, device=self.device,
            )  # fmt: skip
            self._check_width(backbone)
            self._backbone = backbone
        return self._backbone

    def encode_texts(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """(N,) texts -> (N, latent_dim) unit-norm float32 embeddings."""
        batches = self.backbone.padded_batches(texts, batch_size)
        return self._encode(len(texts), batches, self.model.encode_texts, text_rows(texts))

    def encode_queries(self, texts: Sequence[str], batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Text queries: (N, latent_dim) embeddings, as `encode_texts`, and (N,) how much each reads like
        a description of a motion (`model/likeness.py`), from the same backbone run."""
        if self.backbone.name != LIKENESS_BACKBONE:
            return self.encode_texts(texts, batch_size), np.ones(len(texts), dtype=np.float32)
        sentences = np.zeros((len(texts), self.backbone.width), dtype=np.float32)

        def pooled(batches: Iterator[tuple[np.ndarray, Padded]]) -> Iterator[tuple[np.ndarray, Padded]]:
            for batch, padded in batches:
                sentences[batch] = mean_pooled(padded.x.float().cpu().numpy(), padded.mask.cpu().numpy())
                yield batch, padded

        batches = pooled(self.backbone.padded_batches(texts, batch_size))
        embeddings = self._encode(len(texts), batches, self.model.encode_texts, text_rows(texts))
        return embeddings, description_likeness(sentences, self._bank_sentences())

    def _bank_sentences(self) -> np.ndarray:
        """The default bank's sentence embeddings in the backbone: shipped, else computed once."""
        if self._bank_sentence_embeddings is None:
            shipped = shipped_default_bank_sentences(self.backbone.name)
            if shipped is None:
                shipped = self.backbone.sentence_embeddings(default_text_bank()).numpy()
            self._bank_sentence_embeddings = shipped
        return self._bank_sentence_embeddings

    def encode_motions(self, motions: Sequence[np.ndarray], batch_size: int = 64) -> np.ndarray:
        """(T_i, n_feats) raw (unnormalised) features at the checkpoint's fps -> (N, latent_dim) unit-norm
        float32 embeddings. Raises ValueError for an array of the wrong shape or with NaN."""
        for i, feats in enumerate(motions):
            self._check_motion(i, feats)
        normalised = [torch.from_numpy(self.checkpoint.normalizer.normalize(f)) for f in motions]
        batches = (
            (batch, Padded.from_sequences([normalised[i] for i in batch]))
            for batch in length_sorted_batches([len(m) for m in motions], batch_size)
        )
        return self._encode(len(motions), batches, self.model.encode_motions, sum(len(m) for m in motions))

    def encode_windows(self, feats: np.ndarray, spans: np.ndarray, batch_rows: int = 8192) -> np.ndarray:
        """The embeddings of windows of one motion: (T, n_feats) raw features and (N, 2) [start, end)
        rows -> (N, latent_dim), equal to `encode_motions([feats[a:b] for a, b in spans])` up to float
        rounding. Faster: the motion is normalised once, and windows of one size form dense batches of
        at most `batch_rows` rows (no padding, no attention mask). Raises ValueError as
        `encode_motions` does, or for a span outside the motion."""
        self._check_motion(0, feats)
        spans, sizes = window_spans(spans, len(feats))
        normalised = torch.from_numpy(self.checkpoint.normalizer.normalize(feats))

        def batches() -> Iterator[tuple[np.ndarray, Padded]]:
            for size in np.unique(sizes)[::-1]:
                windows = np.flatnonzero(sizes == size)
                per_batch = max(1, batch_rows // int(size))
                for first in range(0, len(windows), per_batch):
                    batch = windows[first : first + per_batch]
                    rows = torch.from_numpy(spans[batch, 0])[:, None] + torch.arange(int(size))  # (b, size)
                    yield batch, Padded(normalised[rows], torch.ones(rows.shape, dtype=torch.bool))

        return self._encode(len(spans), batches(), self.model.encode_motions, int(sizes.sum()))

    def _check_motion(self, i: int, feats: np.ndarray) -> None:
        check_motion(i, feats, self.checkpoint.config.n_feats)

    @staticmethod
    def scores(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(N, D), (M, D) unit-norm embeddings -> (N, M) scores (cos + 1) / 2 in [0, 1]."""
        return cosine_to_score(a @ b.T).astype(np.float32)

    def _encode(
        self,
        count: int,
        batches: Iterator[tuple[np.ndarray, Padded]],
        encoder: Callable[[Padded], Tensor],
        rows: int,
    ) -> np.ndarray:
        """Small work (a query, one clip) runs on one CPU thread (`model/threads.py`)."""
        threads = torch_threads(threads_for(rows)) if self.device.type == "cpu" else contextlib.nullcontext()
        with threads:
            return encode_batches(batches, encoder, count, self.checkpoint.config.latent_dim, self.device)

    def _check_width(self, backbone: TextBackbone) -> None:
        expected = self.checkpoint.config.text_width
        if backbone.width != expected:
            raise TextModelError(
                backbone.folder,
                f"token features are {backbone.width}-d but the checkpoint expects {expected}-d",
                hint=f"use the backbone it was trained with: {self.checkpoint.config.text_model}",
            )


def load_retriever(
    name_or_path: str | Path,
    *,
    text_model: str | Path | None = None,
    device: torch.device | str | None = None,
) -> Retriever:
    """`load_checkpoint` (without the motion decoder, which retrieval never runs) then `Retriever`:
    the one call the CLI needs."""
    return Retriever(load_checkpoint(name_or_path, with_decoder=False), text_model=text_model, device=device)

