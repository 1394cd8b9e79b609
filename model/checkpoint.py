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
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as serialize_tensors

from formats.atomic import write_atomic
from formats.digest import file_sha256
from model.config import TMRConfig
from model.errors import CheckpointError
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
]

FORMAT = "tmr-checkpoint"
FORMAT_VERSION = 1
_CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
# Provenance detail: where the text backbone was when the checkpoint was made. The config stores the
# backbone's name; this folder is only the last place looked in (`model/text_location.py`).
TEXT_FOLDER_KEY = "text_model_folder"


@dataclass(frozen=True)
class RegisteredCheckpoint:
    """A checkpoint known by name: its file and the SHA256 the file must have."""

    path: Path
    sha256: str


@dataclass(frozen=True)
class CheckpointRegistry:
    """The names `load_checkpoint` accepts besides file paths; each name's hash is verified before use."""

    entries: Mapping[str, RegisteredCheckpoint]

    def names(self) -> list[str]:
        return sorted(self.entries)

    def locate(self, name_or_path: str | Path) -> tuple[Path, str | None]:
        """The file behind a registered name (with the SHA256 it must have) or a path (with None)."""
        name = str(name_or_path)
        if name in self.entries:
            entry = self.entries[name]
            if not entry.path.is_file():
                raise CheckpointError(
                    entry.path, f"the registered checkpoint {name!r} is not installed", hint="reinstall tmr"
                )
            return entry.path, entry.sha256
        path = Path(name_or_path).expanduser()
        if path.is_file():
            return path, None
        if path.exists():
            raise CheckpointError(path, "not a file")
        if path.suffix or len(path.parts) > 1:
            raise CheckpointError(path, "no such file")
        known = ", ".join(self.names()) or "none yet"
        raise CheckpointError(
            name, f"unknown checkpoint name (registered: {known})", hint="pass the path of a checkpoint file"
        )


# Checkpoints shipped with tmr, one line each: name -> (file in model/checkpoints/, SHA256 of the file).
# default: the paper's architecture on MiniLM token features, trained by `tmr train` on the shared
# Bandai-Namco + CMU corpus, its feature statistics floored so that other rigs read as ordinary input
# (README, "The default model"; its provenance says how).
# every-source: default fine-tuned on the train split of every source of the shared corpus; better on
# other rigs, worse on Bandai-Namco's fine distinctions (README, "A second model: every-source").
SHIPPED = CheckpointRegistry(
    {
        "default": RegisteredCheckpoint(
            _CHECKPOINT_DIR / "default.safetensors", "7142b4239f597c926197e9f60c50590b27e9684608fbe7ad2a169bfd9398f82c"
        ),
        "every-source": RegisteredCheckpoint(
            _CHECKPOINT_DIR / "every-source.safetensors", "8fd1bd77ff0ff876a2e9622e6d986c35b161ff57821be53ca6a4608b2d67f7aa"
        ),
    }
)


@dataclass(frozen=True)
class Provenance:
    """Where a checkpoint comes from: the training data in words, the code commit, the UTC date
    (ISO 8601), and free-form JSON-able details (training settings, source run, ...)."""

    trained_on: str
    commit: str | None = None
    created: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


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


def recorded_text_folder(checkpoint: Checkpoint) -> str | None:
    """The folder the checkpoint's text backbone was found in when it was made, if it says."""
    folder = checkpoint.provenance.details.get(TEXT_FOLDER_KEY)
    return folder if isinstance(folder, str) else None


def available_checkpoints() -> list[str]:
    """Names that `load_checkpoint` accepts besides file paths."""
    return SHIPPED.names()


def checkpoint_sha256(name_or_path: str | Path, *, registry: CheckpointRegistry = SHIPPED) -> str:
    """The SHA256 that `load_checkpoint(name_or_path).sha256` gives, without building the network: a
    registered checkpoint's recorded hash, else the file's."""
    path, expected_sha = registry.locate(name_or_path)
    return expected_sha or file_sha256(path)


def registered_name(sha256: str | None) -> str | None:
    """The registered name of the checkpoint with this SHA256, if tmr ships it."""
    return next((name for name, entry in SHIPPED.entries.items() if entry.sha256 == sha256), None)


def checkpoint_reference(checkpoint: Checkpoint) -> str | None:
    """What `load_checkpoint` takes to load this checkpoint again: its registered name, else the
    absolute path of its file (None for one not read from a file). A library records it, so that
    later commands on the library use the model that made it without being told."""
    name = registered_name(checkpoint.sha256)
    if name is not None:
        return name
    return str(checkpoint.path.expanduser().absolute()) if checkpoint.path is not None else None


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
    blob = _with_checksum(serialize_tensors(tensors, metadata))
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
    path, expected_sha = registry.locate(name_or_path)
    try:
        blob = path.read_bytes()
    except OSError as error:
        raise CheckpointError(path, f"cannot read the file ({error.strerror})") from None
    sha256 = hashlib.sha256(blob).hexdigest()
    if expected_sha is not None and sha256 != expected_sha:
        raise CheckpointError(path, "SHA256 mismatch: the shipped checkpoint is damaged", hint="reinstall tmr")
    header, data = _split(blob, path)
    metadata = header.get("__metadata__", {})
    _check_metadata(metadata, data, path)
    try:
        tensors = load_tensors(blob)
    except SafetensorError as error:
        raise CheckpointError(path, f"damaged tensor data ({error})") from None
    config = _parse_config(metadata["config"], path)
    has_decoder = metadata.get("has_decoder") == "true" and with_decoder
    if metadata.get("has_decoder") == "true" and not with_decoder:
        tensors = {key: value for key, value in tensors.items() if not key.startswith("motion_decoder.")}
    with torch.device("meta"):  # shapes only: the loaded tensors become the weights (no random init)
        model = TMR(config, with_decoder=has_decoder)
    normalizer = _take_normalizer(tensors, config, path)
    load_state_strict(model, tensors, path, assign=True)
    provenance = _parse_provenance(metadata.get("provenance", "{}"), path)
    return Checkpoint(model.to(device).eval(), normalizer, provenance, sha256=sha256, path=path)


def _split(blob: bytes, path: Path | None) -> tuple[dict[str, Any], bytes]:
    """safetensors layout: an 8-byte little-endian header size, a JSON header, then the tensor data."""
    if len(blob) < 8:
        raise CheckpointError(path, "not a tmr checkpoint (file too short)")
    (header_size,) = struct.unpack("<Q", blob[:8])
    if header_size > len(blob) - 8:
        raise CheckpointError(path, "not a tmr checkpoint (no safetensors header), or truncated")
    try:
        header = json.loads(blob[8 : 8 + header_size])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(path, "not a tmr checkpoint (unreadable safetensors header)") from None
    if not isinstance(header, dict) or not isinstance(header.get("__metadata__", {}), dict):
        raise CheckpointError(path, "not a tmr checkpoint (malformed safetensors header)")
    return header, blob[8 + header_size :]


def _with_checksum(blob: bytes) -> bytes:
    """Add the tensor data's SHA256 to the metadata and write the header with sorted keys, so that the
    same weights always give the same bytes (safetensors orders metadata arbitrarily)."""
    header, data = _split(blob, None)
    header["__metadata__"]["weights_sha256"] = hashlib.sha256(data).hexdigest()
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # safetensors aligns the data to 8 bytes with trailing spaces
    return struct.pack("<Q", len(text)) + text + data


def _check_metadata(metadata: dict[str, str], data: bytes, path: Path) -> None:
    if metadata.get("format") != FORMAT:
        raise CheckpointError(path, "not a tmr checkpoint (a safetensors file without tmr metadata)")
    version = metadata.get("format_version", "")
    if not version.isdigit():
        raise CheckpointError(path, f"bad format version {version!r}")
    if int(version) > FORMAT_VERSION:
        reason = f"format version {version} is newer than this tmr reads ({FORMAT_VERSION})"
        raise CheckpointError(path, reason, hint="upgrade tmr")
    if hashlib.sha256(data).hexdigest() != metadata.get("weights_sha256"):
        raise CheckpointError(path, "damaged or truncated: the weights do not match their checksum")


def _parse_config(text: str, path: Path) -> TMRConfig:
    try:
        return TMRConfig.from_dict(json.loads(text))
    except (json.JSONDecodeError, TypeError, ValueError) as error:
        raise CheckpointError(path, f"bad stored config ({error})") from None


def _parse_provenance(text: str, path: Path) -> Provenance:
    try:
        return Provenance(**json.loads(text))
    except (json.JSONDecodeError, TypeError) as error:
        raise CheckpointError(path, f"bad stored provenance ({error})") from None


def _take_normalizer(tensors: dict[str, torch.Tensor], config: TMRConfig, path: Path) -> Normalizer:
    mean, std = tensors.pop("normalizer.mean", None), tensors.pop("normalizer.std", None)
    if mean is None or std is None or mean.shape != (config.n_feats,) or std.shape != (config.n_feats,):
        raise CheckpointError(path, f"missing or misshapen feature statistics (expected {config.n_feats} values)")
    return Normalizer(mean.numpy(), std.numpy())


def load_state_strict(model: TMR, tensors: dict[str, torch.Tensor], path: Path, *, assign: bool = False) -> None:
    """Load `tensors` into `model` when names and shapes match exactly, else raise CheckpointError
    naming the first offending keys (shared with `model/official.py`). `assign` makes the tensors
    the model's own (for a model built on the meta device) instead of copying them in."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    misshapen = sorted(k for k in set(expected) & set(tensors) if tensors[k].shape != expected[k].shape)
    problems = [
        f"{label} {keys[:3]}{' ...' if len(keys) > 3 else ''}"
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("misshapen", misshapen))
        if keys
    ]
    if problems:
        raise CheckpointError(path, "weights do not match the stored config: " + "; ".join(problems))
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()}, assign=assign)
