"""Small work without torch: a query sentence or one motion embedded in numpy, as `Retriever` embeds it.

Why: a fresh `tmr search "text"` or first `tmr caption FILE` spent 2.5-3 s of its ~4 s importing
torch (two cores), for a few hundred rows of small matrix products that numpy computes as fast, and a
GPU would not help one query (CUDA's start alone takes seconds). `SmallWorkRetriever` reads the
checkpoint without torch (`model/checkpoint_file.py`: the same registry, SHA256 check and one-line
errors), runs the encoders of `model/numpy_layers.py` on one thread (`model/threads.py`), and hands
big work to a torch `Retriever` loaded on first need, so callers need not know which ran:

- texts: numpy while they total under `SMALL_WORK_ROWS` tokens (`model/threads.py`) and the
  backbone is one `model/bert_files.py` accepts; otherwise (a bank of sentences, a backbone only
  transformers runs) torch;
- motions: numpy for up to `MOTION_ROWS` rows in one call (one clip, or the windows of one take of up
  to about seven minutes), torch beyond.

Embeddings agree with torch's to 1e-5 (max abs difference of the unit vectors; `tests/test_small_work.py`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from model.bank import shipped_default_bank_sentences
from model.bert_files import BertFolder, BertTokenizer, bert_folder, rename
from model.checkpoint_file import (
    SHIPPED,
    CheckpointFile,
    CheckpointRegistry,
    check_weight_shapes,
    read_checkpoint_file,
    recorded_text_folder,
    take_normalizer,
    tensor_data,
)
from model.encoder_inputs import check_motion, window_spans
from model.errors import TextModelError
from model.likeness import LIKENESS_BACKBONE, description_likeness
from model.numpy_layers import NumpyActorEncoder, NumpyBert, actor_weight_shapes
from model.similarity import cosine_to_score, unit_rows
from model.text_location import locate_text_model
from model.threads import SMALL_WORK_ROWS, numpy_threads, text_rows

if TYPE_CHECKING:
    from model.inference import Retriever

__all__ = ["MOTION_ROWS", "SmallWorkRetriever", "load_small_work_retriever"]

# Rows of motion one call embeds in numpy (the 5 s windows of a take of about seven minutes); beyond,
# the torch encoder's threads are worth its import.
MOTION_ROWS = 16_384
_ENCODERS = ("text_encoder", "motion_encoder")


def _numpy_bert(folder: BertFolder) -> tuple[NumpyBert, BertTokenizer]:
    """The backbone of a BERT-family folder in numpy, float32 (as `model.bert.load_bert` in torch).
    The word-embedding table (half of MiniLM's 90 MB) is never read whole: each text reads its rows."""
    from safetensors import safe_open

    weights_file = safe_open(str(folder.weights), framework="numpy")  # kept open for the word rows
    names = {new: key for key in weights_file.keys() if (new := rename(key, folder.naming))}
    words = weights_file.get_slice(names.pop("word_embeddings.weight"))

    def word_rows(ids: list[int]) -> np.ndarray:
        return np.concatenate([words[i : i + 1] for i in ids]).astype(np.float32, copy=False)

    weights = {new: weights_file.get_tensor(key) for new, key in names.items()}
    return NumpyBert.from_weights(weights, folder.settings, word_rows), BertTokenizer(folder.tokenizer)


class SmallWorkRetriever:
    """`Retriever`'s interface (encode_texts, encode_queries, encode_motions, encode_windows, scores,
    sha256, checkpoint) on one checkpoint: small work in numpy, the rest by a torch `Retriever`.

    Parameters
    ----------
    file: the checkpoint file, read and checked (`read_checkpoint_file`).
    source: what it was loaded by (a registered name or a path), for the torch `Retriever`.
    registry: where a registered name is looked up.
    text_model: the folder of the checkpoint's backbone, overriding the lookup (`--text-model`).
    """

    def __init__(
        self,
        file: CheckpointFile,
        *,
        source: str | Path | None = None,
        registry: CheckpointRegistry = SHIPPED,
        text_model: str | Path | None = None,
    ) -> None:
        self.checkpoint = file
        self.config = file.config
        self._source = source if source is not None else file.path
        self._registry = registry
        self._text_model = text_model
        from safetensors.numpy import load

        tensors = tensor_data(file, load, with_decoder=False)
        self.normalizer = take_normalizer(tensors, file.config, file.path)
        widths = {"text_encoder": file.config.text_width, "motion_encoder": file.config.n_feats}
        expected = {
            f"{encoder}.{name}": shape
            for encoder in _ENCODERS
            for name, shape in actor_weight_shapes(widths[encoder], file.config).items()
        }
        check_weight_shapes(expected, tensors, file.path)
        self._tensors = tensors
        self._encoders: dict[str, NumpyActorEncoder] = {}
        self._backbone: tuple[NumpyBert, BertTokenizer] | None | bool = False  # False: not looked up yet

    @property
    def sha256(self) -> str:
        """SHA256 of the checkpoint file: which model made an embedding."""
        return self.checkpoint.sha256

    @staticmethod
    def scores(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(N, D), (M, D) unit-norm embeddings -> (N, M) scores (cos + 1) / 2 in [0, 1]."""
        return cosine_to_score(a @ b.T).astype(np.float32)

    def encode_texts(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """(N,) texts -> (N, latent_dim) unit-norm float32 embeddings."""
        found = self._numpy_texts(texts)
        return self.torch.encode_texts(texts, batch_size) if found is None else found[0]

    def encode_queries(self, texts: Sequence[str], batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Text queries: embeddings, as `encode_texts`, and how much each reads like a description of a
        motion (`model/likeness.py`), as `Retriever.encode_queries`."""
        found = self._numpy_texts(texts)
        if found is None:
            return self.torch.encode_queries(texts, batch_size)
        embeddings, sentences = found
        if self.config.text_model != LIKENESS_BACKBONE:
            return embeddings, np.ones(len(texts), dtype=np.float32)
        bank_sentences = self._bank_sentences
        if bank_sentences is None:
            return self.torch.encode_queries(texts, batch_size)  # embeds the bank's sentences once
        return embeddings, description_likeness(sentences, bank_sentences)

    def _numpy_texts(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray] | None:
        """(N, latent_dim) unit-norm embeddings and (N, width) unit-norm sentence embeddings (the
        backbone's mean-pooled token features) in numpy, or None when this is work for torch."""
        backbone = self._numpy_backbone() if text_rows(texts) < SMALL_WORK_ROWS else None
        if backbone is None:
            return None
        bert, tokenizer = backbone
        max_length = min(self.config.max_text_length, bert.max_positions)
        encoder = self._encoder("text_encoder")
        out = np.zeros((len(texts), self.config.latent_dim), dtype=np.float32)
        sentences = np.zeros((len(texts), bert.position_embeddings.shape[1]), dtype=np.float32)
        with numpy_threads(1):
            for i, ids in enumerate(tokenizer.encode(list(texts), max_length)):
                hidden = bert(ids)  # (L, width)
                out[i] = encoder(hidden[None])[0]
                sentences[i] = hidden.mean(axis=0)
        return unit_rows(out).astype(np.float32), unit_rows(sentences).astype(np.float32)

    def encode_motions(self, motions: Sequence[np.ndarray], batch_size: int = 64) -> np.ndarray:
        """(T_i, n_feats) raw features at the checkpoint's fps -> (N, latent_dim) unit-norm float32
        embeddings. Raises ValueError for an array of the wrong shape or with NaN."""
        for i, feats in enumerate(motions):
            self._check_motion(i, feats)
        if sum(len(m) for m in motions) > MOTION_ROWS:
            return self.torch.encode_motions(motions, batch_size)
        encoder = self._encoder("motion_encoder")
        out = np.zeros((len(motions), self.config.latent_dim), dtype=np.float32)
        with numpy_threads(1):
            for i, feats in enumerate(motions):
                out[i] = encoder(self.normalizer.normalize(feats)[None])[0]
        return unit_rows(out).astype(np.float32)

    def encode_windows(self, feats: np.ndarray, spans: np.ndarray, batch_rows: int = 8192) -> np.ndarray:
        """The embeddings of windows of one motion, as `Retriever.encode_windows`: (T, n_feats) raw
        features and (N, 2) [start, end) rows -> (N, latent_dim); windows of one size in dense batches
        of at most `batch_rows` rows."""
        self._check_motion(0, feats)
        spans, sizes = window_spans(spans, len(feats))
        if sizes.sum() > MOTION_ROWS:
            return self.torch.encode_windows(feats, spans, batch_rows)
        normalised = self.normalizer.normalize(feats)
        encoder = self._encoder("motion_encoder")
        out = np.zeros((len(spans), self.config.latent_dim), dtype=np.float32)
        with numpy_threads(1):
            for size in np.unique(sizes)[::-1]:
                windows = np.flatnonzero(sizes == size)
                per_batch = max(1, batch_rows // int(size))
                for first in range(0, len(windows), per_batch):
                    batch = windows[first : first + per_batch]
                    out[batch] = encoder(normalised[spans[batch, 0][:, None] + np.arange(int(size))])
        return unit_rows(out).astype(np.float32)

    @functools.cached_property
    def _bank_sentences(self) -> np.ndarray | None:
        """The default bank's shipped sentence embeddings, read once: reading them (the caption table,
        its key, the npz) cost 8-10 ms, a quarter of every later query of a long-lived caller."""
        return shipped_default_bank_sentences(self.config.text_model)

    @functools.cached_property
    def torch(self) -> Retriever:
        """The torch `Retriever` of the same checkpoint, for big work (loaded, and torch imported, on
        first use)."""
        from model.checkpoint import load_checkpoint
        from model.inference import Retriever

        checkpoint = load_checkpoint(self._source, with_decoder=False, registry=self._registry)
        return Retriever(checkpoint, text_model=self._text_model)

    def _encoder(self, name: str) -> NumpyActorEncoder:
        if name not in self._encoders:
            prefix = name + "."
            weights = {k.removeprefix(prefix): v for k, v in self._tensors.items() if k.startswith(prefix)}
            self._encoders[name] = NumpyActorEncoder.from_weights(weights, self.config)
        return self._encoders[name]

    def _numpy_backbone(self) -> tuple[NumpyBert, BertTokenizer] | None:
        """The checkpoint's text backbone in numpy (loaded on first use), or None when
        `model/bert_files.py` does not accept its folder (then torch runs it). TextModelError when it
        is not found or its width is not the checkpoint's."""
        if self._backbone is False:
            recorded = recorded_text_folder(self.checkpoint)
            folder = locate_text_model(self.config.text_model, folder=self._text_model, recorded=recorded)
            found = bert_folder(folder)
            if found is not None and found.settings.hidden_size != self.config.text_width:
                raise TextModelError(
                    folder,
                    f"token features are {found.settings.hidden_size}-d but the checkpoint expects "
                    f"{self.config.text_width}-d",
                    hint=f"use the backbone it was trained with: {self.config.text_model}",
                )
            self._backbone = _numpy_bert(found) if found is not None else None
        return self._backbone  # type: ignore[return-value]

    def _check_motion(self, i: int, feats: np.ndarray) -> None:
        check_motion(i, feats, self.config.n_feats)


def load_small_work_retriever(
    name_or_path: str | Path, *, text_model: str | Path | None = None, registry: CheckpointRegistry = SHIPPED
) -> SmallWorkRetriever:
    """`read_checkpoint_file` then `SmallWorkRetriever`: what `load_retriever` is for the torch path, with
    the same CheckpointErrors."""
    file = read_checkpoint_file(name_or_path, registry=registry)
    return SmallWorkRetriever(file, source=name_or_path, registry=registry, text_model=text_model)
