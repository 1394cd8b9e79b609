"""Checkpoints: one safetensors file holding a TMR network, its config, normaliser and provenance.

Layout (format version 1)
-------------------------
Tensors (network weights float32, or float16 in compact files; statistics always float32):
    text_encoder.*, motion_encoder.*      the two encoders (names as `TMR.state_dict()`)
    motion_decoder.*                      only when metadata has_decoder is "true"
    normalizer.mean, normalizer.std       (n_feats,) feature statistics of the training data
Metadata (safetensors' string map):
    format            "tmr-checkpoint"
    format_version    "1"
    config            JSON of `TMRConfig.to_dict()`: backbone name and width, dimensions, layers, fps, ...
    provenance        JSON of `Provenance`: what it was trained on, commit, date, details
    has_decoder       "true" or "false" (inference checkpoints may leave the decoder out)
    weights_sha256    SHA256 of the tensor data, so damage anywhere in the file is detected

Loading reads tensors only (no pickle) and builds the network from the stored config, never from
tensor shapes. Known checkpoints are registered by name with their SHA256, which is verified before
use, as CLIP's `load` does; `load_checkpoint` takes a registered name or a path.

Reading and checking the file (registry, SHA256, header, metadata) needs no torch and lives in
`model/checkpoint_file.py`, whose public names are importable from here too; this module builds the
torch network from it and writes checkpoints.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as serialize_tensors

from formats.atomic import write_atomic
from model.checkpoint_file import (
    FORMAT,
    FORMAT_VERSION,
    SHIPPED,
    TEXT_FOLDER_KEY,
    CheckpointRegistry,
    Provenance,
    RegisteredCheckpoint,
    available_checkpoints,
    check_weight_shapes,
    checkpoint_reference,
    checkpoint_sha256,
    file_sha256,
    read_checkpoint_file,
    recorded_text_folder,
    registered_name,
    take_normalizer,
    tensor_data,
    with_checksum,
)
from model.config import TMRConfig
from model.network import TMR
from model.normalizer import Normalizer

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "Provenance",
    "Checkpoint",
    "save_checkpoint",
    "load_checkpoint",
    "available_checkpoints",
    "CheckpointRegistry",
    "RegisteredCheckpoint",
    "SHIPPED",
    "file_sha256",
    "checkpoint_sha256",
    "registered_name",
    "checkpoint_reference",
    "TEXT_FOLDER_KEY",
    "recorded_text_folder",
    "load_state_strict",
]


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """A loaded checkpoint: the network (eval mode), its normaliser and provenance, and the SHA256 and
    path of the file it came from (None for one not read from a file, such as an official import)."""

    model: TMR
    normalizer: Normalizer
    provenance: Provenance
    sha256: str | None = None
    path: Path | None = None

    @property
    def config(self) -> TMRConfig:
        """The architecture the network was built from."""
        return self.model.config

    @property
    def has_decoder(self) -> bool:
        """False for inference-only checkpoints."""
        return self.model.has_decoder


def save_checkpoint(
    path: str | Path,
    model: TMR,
    normalizer: Normalizer,
    provenance: Provenance,
    *,
    include_decoder: bool = True,
    half: bool = False,
) -> str:
    """Write `model` and its normaliser to one file, atomically; returns the file's SHA256.

    With include_decoder=False (or a model without one) the file is an inference checkpoint: a third
    smaller, enough to embed texts and motions, not to decode or resume training. With half=True the
    weights are stored as float16 (half the size; loading turns them back into float32), which is
    how the shipped model stays small.
    """
    if normalizer.n_feats != model.config.n_feats:
        raise ValueError(f"normaliser has {normalizer.n_feats} features, the model {model.config.n_feats}")
    has_decoder = include_decoder and model.has_decoder
    tensors = {
        name: value.detach().to("cpu", torch.float16 if half else torch.float32).contiguous()
        for name, value in model.state_dict().items()
        if has_decoder or not name.startswith("motion_decoder.")
    }
    tensors["normalizer.mean"] = torch.from_numpy(normalizer.mean.copy())
    tensors["normalizer.std"] = torch.from_numpy(normalizer.std.copy())
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "config": json.dumps(model.config.to_dict(), sort_keys=True),
        "provenance": json.dumps(asdict(provenance), sort_keys=True),
        "has_decoder": json.dumps(has_decoder),
    }
    blob = with_checksum(serialize_tensors(tensors, metadata))
    write_atomic(Path(path), lambda file: file.write(blob))
    return hashlib.sha256(blob).hexdigest()


def load_checkpoint(
    name_or_path: str | Path,
    *,
    device: torch.device | str = "cpu",
    with_decoder: bool = True,
    registry: CheckpointRegistry = SHIPPED,
) -> Checkpoint:
    """A registered checkpoint by name, or a checkpoint file by path; the network is in eval mode.
    `with_decoder=False` leaves a stored motion decoder out (retrieval never decodes: less to load).

    Raises CheckpointError (with the path and a reason) for an unknown name, a missing, truncated,
    damaged or foreign file, a newer format, or weights that do not fit the stored config.
    """
    file = read_checkpoint_file(name_or_path, registry=registry)
    tensors = tensor_data(file, load_tensors, with_decoder=with_decoder)
    config = file.config
    has_decoder = file.has_decoder and with_decoder
    with torch.device("meta"):  # shapes only: the loaded tensors become the weights (no random init)
        model = TMR(config, with_decoder=has_decoder)
    normalizer = take_normalizer(tensors, config, file.path)
    load_state_strict(model, tensors, file.path, assign=True)
    return Checkpoint(model.to(device).eval(), normalizer, file.provenance, sha256=file.sha256, path=file.path)


def load_state_strict(model: TMR, tensors: dict[str, torch.Tensor], path: Path, *, assign: bool = False) -> None:
    """Load `tensors` into `model` when names and shapes match exactly, else raise CheckpointError
    naming the first offending keys (shared with `model/official.py`). `assign` makes the tensors
    the model's own (for a model built on the meta device) instead of copying them in."""
    expected = model.state_dict()
    check_weight_shapes({k: tuple(v.shape) for k, v in expected.items()}, tensors, path)
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()}, assign=assign)
