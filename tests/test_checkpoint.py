"""Checkpoint files: exact round trips, inference-only files, the registry, and one-line errors."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from model import CheckpointError, Normalizer, Provenance, file_sha256, load_checkpoint, save_checkpoint
from model.checkpoint import CheckpointRegistry, RegisteredCheckpoint, available_checkpoints, checkpoint_sha256
from model_helpers import TINY, tiny_model

PROVENANCE = Provenance(
    trained_on="test clips", commit="abc1234", created="2026-01-01T00:00:00Z", details={"epochs": 3}
)


def _stats() -> Normalizer:
    rng = np.random.default_rng(0)
    return Normalizer(rng.normal(size=263), rng.uniform(0.5, 2.0, size=263))


def _saved(tmp_path: Path, **kwargs: object) -> tuple[Path, str]:
    path = tmp_path / "model.tmr"
    return path, save_checkpoint(path, tiny_model(), _stats(), PROVENANCE, **kwargs)


def test_save_then_load_round_trips_exactly(tmp_path: Path) -> None:
    original = tiny_model()
    path = tmp_path / "sub" / "model.tmr"
    sha = save_checkpoint(path, original, _stats(), PROVENANCE)
    loaded = load_checkpoint(path)
    assert sha == file_sha256(path) == loaded.sha256 and loaded.path == path
    assert loaded.config == TINY and loaded.provenance == PROVENANCE and loaded.has_decoder
    assert not loaded.model.training
    want = original.state_dict()
    assert sorted(loaded.model.state_dict()) == sorted(want)
    for name, tensor in loaded.model.state_dict().items():
        assert torch.equal(tensor, want[name]), name
    np.testing.assert_array_equal(loaded.normalizer.mean, _stats().mean)
    np.testing.assert_array_equal(loaded.normalizer.std, _stats().std)
    # Saving the loaded checkpoint again gives the same bytes.
    assert save_checkpoint(tmp_path / "again.tmr", loaded.model, loaded.normalizer, loaded.provenance) == sha


def test_inference_checkpoint_leaves_the_decoder_out(tmp_path: Path) -> None:
    full, _ = _saved(tmp_path)
    small = tmp_path / "small.tmr"
    save_checkpoint(small, tiny_model(), _stats(), PROVENANCE, include_decoder=False)
    loaded = load_checkpoint(small)
    assert not loaded.has_decoder and small.stat().st_size < full.stat().st_size
    assert not any(name.startswith("motion_decoder.") for name in load_file(small))
    x = torch.randn(1, 12, 263)
    with torch.inference_mode():
        torch.testing.assert_close(
            loaded.model.motion_encoder(x, torch.ones(1, 12, dtype=torch.bool)),
            load_checkpoint(full).model.motion_encoder(x, torch.ones(1, 12, dtype=torch.bool)),
        )
    with pytest.raises(CheckpointError):
        loaded.model.decode(torch.zeros(1, TINY.latent_dim), [5])
    # Loading a full file for retrieval only leaves its decoder out too; the encoders are the same.
    encoders_only = load_checkpoint(full, with_decoder=False)
    assert not encoders_only.has_decoder
    want = {k: v for k, v in load_checkpoint(full).model.state_dict().items() if not k.startswith("motion_decoder.")}
    assert all(torch.equal(tensor, want[name]) for name, tensor in encoders_only.model.state_dict().items())
    assert sorted(encoders_only.model.state_dict()) == sorted(want)


def test_half_precision_file_is_half_the_size_and_loads_as_float32(tmp_path: Path) -> None:
    original = tiny_model()
    full = tmp_path / "full.tmr"
    compact = tmp_path / "compact.tmr"
    save_checkpoint(full, original, _stats(), PROVENANCE, include_decoder=False)
    save_checkpoint(compact, original, _stats(), PROVENANCE, include_decoder=False, half=True)
    assert compact.stat().st_size < 0.6 * full.stat().st_size
    loaded = load_checkpoint(compact)
    want = original.state_dict()
    for name, tensor in loaded.model.state_dict().items():
        assert tensor.dtype == torch.float32
        torch.testing.assert_close(tensor, want[name].half().float(), rtol=0, atol=0)
    np.testing.assert_array_equal(loaded.normalizer.std, _stats().std)  # statistics stay exact


def _rewrite(path: Path, change) -> None:
    """Re-save a checkpoint's tensors with edited metadata (weights checksum unchanged)."""
    header_size = struct.unpack("<Q", path.read_bytes()[:8])[0]
    metadata = json.loads(path.read_bytes()[8 : 8 + header_size])["__metadata__"]
    save_file(load_file(path), path, metadata=change(metadata))


def _damage_cases(path: Path, tmp_path: Path) -> dict[str, tuple[Path, str]]:
    blob = path.read_bytes()
    cases = {
        "truncated": (blob[: len(blob) // 2], "truncated"),
        "flipped byte": (blob[:-100] + bytes([blob[-100] ^ 0xFF]) + blob[-99:], "checksum"),
        "empty": (b"", "too short"),
        "random bytes": (np.random.default_rng(0).bytes(4096), "not a tmr checkpoint"),
        "text file": (b"hello, this is not a checkpoint at all\n" * 10, "not a tmr checkpoint"),
    }
    out = {}
    for name, (content, reason) in cases.items():
        target = tmp_path / f"{name.replace(' ', '_')}.tmr"
        target.write_bytes(content)
        out[name] = (target, reason)
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(3)}, plain)
    out["foreign safetensors"] = (plain, "without tmr metadata")
    return out


def test_damaged_or_foreign_files_give_one_line_errors(tmp_path: Path) -> None:
    path, _ = _saved(tmp_path)
    for name, (target, reason) in _damage_cases(path, tmp_path).items():
        with pytest.raises(CheckpointError) as caught:
            load_checkpoint(target)
        assert reason in caught.value.reason, name
        assert caught.value.path == str(target) and "\n" not in str(caught.value), name


def test_metadata_problems(tmp_path: Path) -> None:
    path, _ = _saved(tmp_path)
    cases = {
        "newer": (lambda m: {**m, "format_version": "99"}, "newer"),
        "bad config": (lambda m: {**m, "config": "{not json"}, "bad stored config"),
        "config not matching weights": (
            lambda m: {**m, "config": json.dumps({**json.loads(m["config"]), "num_layers": 3})},
            "weights do not match the stored config",
        ),
    }
    for name, (change, reason) in cases.items():
        target = tmp_path / f"{name.replace(' ', '_')}.tmr"
        target.write_bytes(path.read_bytes())
        _rewrite(target, change)
        with pytest.raises(CheckpointError, match=reason):
            load_checkpoint(target)


def test_missing_paths_and_unknown_names(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "absent.tmr")
    with pytest.raises(CheckpointError, match="not a file"):
        load_checkpoint(tmp_path)
    registered = re.escape(", ".join(available_checkpoints()) or "none yet")
    with pytest.raises(CheckpointError, match=rf"unknown checkpoint name \(registered: {registered}\)"):
        load_checkpoint("no-such-model")


def test_registry_verifies_the_sha256_before_use(tmp_path: Path) -> None:
    path, sha = _saved(tmp_path)
    registry = CheckpointRegistry(
        {
            "good": RegisteredCheckpoint(path, sha),
            "tampered": RegisteredCheckpoint(path, "0" * 64),
            "absent": RegisteredCheckpoint(tmp_path / "absent.tmr", sha),
        }
    )
    assert registry.names() == ["absent", "good", "tampered"]
    assert load_checkpoint("good", registry=registry).sha256 == sha
    assert checkpoint_sha256("tampered", registry=registry) == "0" * 64  # the recorded hash, file not read
    with pytest.raises(CheckpointError, match="SHA256 mismatch"):
        load_checkpoint("tampered", registry=registry)
    with pytest.raises(CheckpointError, match="'absent' is not installed"):
        load_checkpoint("absent", registry=registry)
    with pytest.raises(CheckpointError, match=r"registered: absent, good, tampered"):
        load_checkpoint("other", registry=registry)
