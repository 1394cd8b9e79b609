"""A checkpoint file without torch: the registry of shipped checkpoints, the SHA256 check, the
safetensors header and the metadata (config, provenance, feature statistics) it carries.

Why apart from `model/checkpoint.py`: a one-query `tmr search` or a first `tmr caption` runs its
encoders in numpy (`model/small_work.py`) and must not pay torch's import (seconds on two cores) to
read the file it loads. `model/checkpoint.py` builds the torch network from what this module reads,
and re-exports its public names; the layout is documented there.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from safetensors import SafetensorError

from formats.digest import file_sha256
from model.config import TMRConfig
from model.errors import CheckpointError
from model.normalizer import Normalizer

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "TEXT_FOLDER_KEY",
    "RegisteredCheckpoint",
    "CheckpointRegistry",
    "SHIPPED",
    "Provenance",
    "CheckpointFile",
    "read_checkpoint_file",
    "tensor_data",
    "take_normalizer",
    "check_weight_shapes",
    "available_checkpoints",
    "file_sha256",
    "checkpoint_sha256",
    "registered_name",
    "checkpoint_reference",
    "recorded_text_folder",
    "with_checksum",
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
            _CHECKPOINT_DIR / "every-source.safetensors", "7547f5973d50152f309eb8b4ed91afb15bc2771f49af4e4705596a085893a899"
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
class CheckpointFile:
    """A checkpoint file read and checked, its tensors not yet decoded: the bytes, the stored config
    and provenance, and the file's path and SHA256."""

    path: Path
    sha256: str
    blob: bytes
    metadata: dict[str, str]
    config: TMRConfig
    provenance: Provenance

    @property
    def has_decoder(self) -> bool:
        """Whether the file stores a motion decoder."""
        return self.metadata.get("has_decoder") == "true"


def read_checkpoint_file(name_or_path: str | Path, *, registry: CheckpointRegistry = SHIPPED) -> CheckpointFile:
    """A registered checkpoint by name, or a checkpoint file by path, read and checked: CheckpointError
    (with the path and a reason) for an unknown name, a missing, truncated, damaged or foreign file, a
    SHA256 other than the registered one, a newer format, or an unreadable config or provenance."""
    path, expected_sha = registry.locate(name_or_path)
    try:
        blob = path.read_bytes()
    except OSError as error:
        raise CheckpointError(path, f"cannot read the file ({error.strerror})") from None
    sha256 = hashlib.sha256(blob).hexdigest()
    if expected_sha is not None and sha256 != expected_sha:
        raise CheckpointError(path, "SHA256 mismatch: the shipped checkpoint is damaged", hint="reinstall tmr")
    header, data = _split_header(blob, path)
    metadata = header.get("__metadata__", {})
    # A file with its registered SHA256 holds exactly the bytes shipped: its weights' checksum held then.
    _check_metadata(metadata, None if expected_sha is not None else data, path)
    config = _parse_config(metadata.get("config", ""), path)
    provenance = _parse_provenance(metadata.get("provenance", "{}"), path)
    return CheckpointFile(path, sha256, blob, metadata, config, provenance)


def tensor_data(
    file: CheckpointFile, load: Callable[[bytes], dict[str, Any]], *, with_decoder: bool = True
) -> dict[str, Any]:
    """The file's tensors decoded by `load` (safetensors' torch or numpy `load`), the motion decoder's
    left out unless `with_decoder` (retrieval never decodes); CheckpointError when the tensor data
    cannot be decoded."""
    try:
        tensors = load(file.blob)
    except SafetensorError as error:
        raise CheckpointError(file.path, f"damaged tensor data ({error})") from None
    if with_decoder or not file.has_decoder:
        return tensors
    return {key: value for key, value in tensors.items() if not key.startswith("motion_decoder.")}


def take_normalizer(tensors: dict[str, Any], config: TMRConfig, path: Path) -> Normalizer:
    """Remove the feature statistics from `tensors` (numpy arrays or CPU tensors) and return them as a
    Normalizer; CheckpointError when they are missing or misshapen."""
    mean, std = tensors.pop("normalizer.mean", None), tensors.pop("normalizer.std", None)
    if mean is None or std is None or tuple(mean.shape) != (config.n_feats,) or tuple(std.shape) != (config.n_feats,):
        raise CheckpointError(path, f"missing or misshapen feature statistics (expected {config.n_feats} values)")
    return Normalizer(np.asarray(mean), np.asarray(std))


def check_weight_shapes(expected: Mapping[str, tuple[int, ...]], tensors: Mapping[str, Any], path: Path) -> None:
    """CheckpointError naming the first offending keys unless `tensors` has exactly the names of
    `expected`, each of its shape."""
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    misshapen = sorted(k for k in set(expected) & set(tensors) if tuple(tensors[k].shape) != tuple(expected[k]))
    problems = [
        f"{label} {keys[:3]}{' ...' if len(keys) > 3 else ''}"
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("misshapen", misshapen))
        if keys
    ]
    if problems:
        raise CheckpointError(path, "weights do not match the stored config: " + "; ".join(problems))


class _FromFile(Protocol):
    sha256: str | None
    path: Path | None


class _WithProvenance(Protocol):
    provenance: Provenance


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


def checkpoint_reference(checkpoint: _FromFile) -> str | None:
    """What `load_checkpoint` takes to load this checkpoint (a `Checkpoint` or a `CheckpointFile`)
    again: its registered name, else the absolute path of its file (None for one not read from a
    file). A library records it, so that later commands on the library use the model that made it
    without being told."""
    name = registered_name(checkpoint.sha256)
    if name is not None:
        return name
    return str(checkpoint.path.expanduser().absolute()) if checkpoint.path is not None else None


def recorded_text_folder(checkpoint: _WithProvenance) -> str | None:
    """The folder the checkpoint's text backbone was found in when it was made, if it says."""
    folder = checkpoint.provenance.details.get(TEXT_FOLDER_KEY)
    return folder if isinstance(folder, str) else None


def _split_header(blob: bytes, path: Path | None) -> tuple[dict[str, Any], bytes]:
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


def with_checksum(blob: bytes) -> bytes:
    """Add the tensor data's SHA256 to the metadata and write the header with sorted keys, so that the
    same weights always give the same bytes (safetensors orders metadata arbitrarily)."""
    header, data = _split_header(blob, None)
    header["__metadata__"]["weights_sha256"] = hashlib.sha256(data).hexdigest()
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # safetensors aligns the data to 8 bytes with trailing spaces
    return struct.pack("<Q", len(text)) + text + data


def _check_metadata(metadata: dict[str, str], data: bytes | None, path: Path) -> None:
    """The format and version, and the tensor data against its checksum (unless `data` is None)."""
    if metadata.get("format") != FORMAT:
        raise CheckpointError(path, "not a tmr checkpoint (a safetensors file without tmr metadata)")
    version = metadata.get("format_version", "")
    if not version.isdigit():
        raise CheckpointError(path, f"bad format version {version!r}")
    if int(version) > FORMAT_VERSION:
        reason = f"format version {version} is newer than this tmr reads ({FORMAT_VERSION})"
        raise CheckpointError(path, reason, hint="upgrade tmr")
    if data is not None and hashlib.sha256(data).hexdigest() != metadata.get("weights_sha256"):
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
