"""Import of official TMR runs, tested on files laid out exactly like the reference's.

The reference modules below are written from the reference's description (ACTORStyleEncoder /
ACTORStyleDecoder of Mathux/TMR `src/model/actor.py`): the same attribute names, torch's own
Transformer modules, and their forward passes spelled out step by step. Their state dicts therefore
have the official keys and shapes, which the first test pins down explicitly.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from model import TMR, CheckpointError, Provenance, import_official_run, load_checkpoint, save_checkpoint
from model.text import resolve_text_model
from model_helpers import write_backbone
from tmrcli.app import app

LATENT, FF, LAYERS, HEADS, TEXT, MOTION = 256, 1024, 6, 4, 768, 263


def _positions(length: int, dim: int) -> torch.Tensor:
    table = np.zeros((length, dim))
    for pos in range(length):
        for i in range(0, dim, 2):
            table[pos, i] = math.sin(pos * math.exp(-i * math.log(10000.0) / dim))
            table[pos, i + 1] = math.cos(pos * math.exp(-i * math.log(10000.0) / dim))
    return torch.tensor(table, dtype=torch.float32)


class OfficialEncoder(nn.Module):
    def __init__(self, nfeats: int) -> None:
        super().__init__()
        self.projection = nn.Linear(nfeats, LATENT)
        self.tokens = nn.Parameter(torch.randn(2, LATENT))
        layer = nn.TransformerEncoderLayer(LATENT, HEADS, FF, 0.1, "gelu", batch_first=True)
        self.seqTransEncoder = nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        seq = torch.cat([self.tokens.expand(len(x), -1, -1), self.projection(x)], dim=1)
        seq = seq + _positions(seq.shape[1], LATENT)
        full_mask = torch.cat([torch.ones(len(x), 2, dtype=torch.bool), mask], dim=1)
        return self.seqTransEncoder(seq, src_key_padding_mask=~full_mask)[:, :2]


class OfficialDecoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        layer = nn.TransformerDecoderLayer(LATENT, HEADS, FF, 0.1, "gelu", batch_first=True)
        self.seqTransDecoder = nn.TransformerDecoder(layer, LAYERS)
        self.final_layer = nn.Linear(LATENT, MOTION)

    def forward(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        queries = _positions(mask.shape[1], LATENT).expand(len(z), -1, -1)
        out = self.final_layer(self.seqTransDecoder(tgt=queries, memory=z[:, None], tgt_key_padding_mask=~mask))
        out[~mask] = 0
        return out


ATTENTION = {
    "in_proj_weight": (768, 256), "in_proj_bias": (768,), "out_proj.weight": (256, 256), "out_proj.bias": (256,)
}
MLP_AND_NORMS = {
    "linear1.weight": (1024, 256), "linear1.bias": (1024,), "linear2.weight": (256, 1024), "linear2.bias": (256,),
    "norm1.weight": (256,), "norm1.bias": (256,), "norm2.weight": (256,), "norm2.bias": (256,),
}


def _expected_layout(module: str) -> dict[str, tuple[int, ...]]:
    if module == "motion_decoder":
        per_layer = {
            **{f"self_attn.{k}": s for k, s in ATTENTION.items()},
            **{f"multihead_attn.{k}": s for k, s in ATTENTION.items()},
            **MLP_AND_NORMS,
            "norm3.weight": (256,),
            "norm3.bias": (256,),
        }
        layout = {"final_layer.weight": (263, 256), "final_layer.bias": (263,)}
        prefix = "seqTransDecoder.layers"
    else:
        per_layer = {**{f"self_attn.{k}": s for k, s in ATTENTION.items()}, **MLP_AND_NORMS}
        width = TEXT if module == "text_encoder" else MOTION
        layout = {"tokens": (2, 256), "projection.weight": (256, width), "projection.bias": (256,)}
        prefix = "seqTransEncoder.layers"
    layout.update({f"{prefix}.{i}.{k}": s for i in range(6) for k, s in per_layer.items()})
    return layout


def _run_config() -> dict:
    part = {"latent_dim": 256, "ff_size": 1024, "num_layers": 6, "num_heads": 4, "dropout": 0.1, "activation": "gelu"}
    return {
        "ckpt": "last",
        "run_dir": "outputs/tmr_humanml3d_guoh3dfeats",
        "data": {
            "_target_": "src.data.text_motion.TextMotionDataset",
            "path": "datasets/annotations/humanml3d",
            "text_to_token_emb": {"_target_": "src.data.text.TokenEmbeddings", "modelname": "distilbert-base-uncased"},
            "text_to_sent_emb": {
                "_target_": "src.data.text.SentenceEmbeddings",
                "modelname": "sentence-transformers/all-mpnet-base-v2",
            },
            "motion_loader": {"_target_": "src.data.motion.AMASSMotionLoader", "fps": 20.0, "nfeats": 263,
                              "normalizer": {"base_dir": "stats/humanml3d/guoh3dfeats", "eps": 1e-12}},
        },
        "model": {
            "_target_": "src.model.TMR",
            "motion_encoder": {"_target_": "src.model.ACTORStyleEncoder", "nfeats": 263, "vae": True, **part},
            "text_encoder": {"_target_": "src.model.ACTORStyleEncoder", "nfeats": 768, "vae": True, **part},
            "motion_decoder": {"_target_": "src.model.ACTORStyleDecoder", "nfeats": 263, **part},
            "vae": True,
            "lmd": {"recons": 1.0, "latent": 1e-05, "kl": 1e-05, "contrastive": 0.1},
            "lr": 0.0001, "temperature": 0.1, "threshold_selfsim": 0.8, "threshold_selfsim_metrics": 0.95,
        },
        "seed": 1234,
    }


@pytest.fixture(scope="module")
def official(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, nn.Module]]:
    torch.manual_seed(0)
    modules = {
        "text_encoder": OfficialEncoder(TEXT),
        "motion_encoder": OfficialEncoder(MOTION),
        "motion_decoder": OfficialDecoder(),
    }
    root = tmp_path_factory.mktemp("official")
    run = root / "tmr_humanml3d_guoh3dfeats"
    (run / "last_weights").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(_run_config(), indent=4))
    for name, module in modules.items():
        module.eval()
        torch.save(module.state_dict(), run / "last_weights" / f"{name}.pt")
    stats = root / "stats"
    stats.mkdir()
    rng = np.random.default_rng(0)
    torch.save(torch.tensor(rng.normal(size=263), dtype=torch.float32), stats / "mean.pt")
    torch.save(torch.tensor(rng.uniform(0.5, 2, size=263), dtype=torch.float32), stats / "std.pt")
    return run, stats, modules


@pytest.fixture(scope="module")
def distilbert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 768-d DistilBERT saved by transformers (random weights, one layer, a cut vocabulary): the shape
    of the official runs' distilbert-base-uncased, small on disk."""
    folder = tmp_path_factory.mktemp("models") / "distilbert-base-uncased"
    return write_backbone(folder, "distilbert", width=TEXT, layers=1, vocab=3000)


def test_reference_modules_have_the_documented_layout(official) -> None:
    _, _, modules = official
    for name, module in modules.items():
        layout = {key: tuple(value.shape) for key, value in module.state_dict().items()}
        assert layout == _expected_layout(name), name


def test_import_reproduces_the_official_outputs(official, distilbert, tmp_path: Path) -> None:
    run, stats, modules = official
    imported = import_official_run(run, stats_dir=stats, text_model=distilbert)
    config = imported.config
    assert (config.text_model, config.text_width) == ("distilbert-base-uncased", 768)
    assert (config.n_feats, config.latent_dim, config.num_layers, config.max_text_length) == (263, 256, 6, 512)
    assert imported.has_decoder and "humanml3d" in imported.provenance.trained_on
    np.testing.assert_array_equal(imported.normalizer.mean, torch.load(stats / "mean.pt").numpy())

    lengths = [40, 17]
    mask = torch.arange(40)[None] < torch.tensor(lengths)[:, None]
    motion, tokens = torch.randn(2, 40, MOTION) * mask[..., None], torch.randn(2, 40, TEXT) * mask[..., None]
    z = torch.randn(2, LATENT)
    path = tmp_path / "official.tmr"
    save_checkpoint(path, imported.model, imported.normalizer, imported.provenance)
    for model in (imported.model, load_checkpoint(path).model):
        with torch.inference_mode():
            pairs = ((model.motion_encoder, "motion_encoder", motion), (model.text_encoder, "text_encoder", tokens))
            for ours, theirs, x in pairs:
                torch.testing.assert_close(ours(x, mask), modules[theirs](x, mask), atol=1e-4, rtol=1e-4)
            decoded = modules["motion_decoder"](z, mask)
            torch.testing.assert_close(model.decode(z, lengths), decoded, atol=1e-4, rtol=1e-4)


def _copy_run(run: Path, target: Path) -> Path:
    (target / "last_weights").mkdir(parents=True)
    for path in run.rglob("*"):
        if path.is_file():
            (target / path.relative_to(run)).write_bytes(path.read_bytes())
    return target


def test_missing_and_extra_keys_are_refused(official, distilbert, tmp_path: Path) -> None:
    run, stats, modules = official
    cases = {
        "missing": lambda state: {k: v for k, v in state.items() if k != "seqTransEncoder.layers.3.linear1.bias"},
        "extra": lambda state: {**state, "seqTransEncoder.norm.weight": torch.ones(256)},
        "misshapen": lambda state: {**state, "tokens": torch.zeros(3, 256)},
    }
    reasons = {"missing": "missing", "extra": "unexpected keys", "misshapen": "misshapen"}
    for name, change in cases.items():
        copy = _copy_run(run, tmp_path / name)
        torch.save(change(modules["text_encoder"].state_dict()), copy / "last_weights" / "text_encoder.pt")
        with pytest.raises(CheckpointError, match=reasons[name]):
            import_official_run(copy, stats_dir=stats, text_model=distilbert)


def test_missing_files_and_inference_only_runs(official, distilbert, tmp_path: Path) -> None:
    run, stats, _ = official
    copy = _copy_run(run, tmp_path / "run")
    (copy / "last_weights" / "motion_decoder.pt").unlink()
    assert not import_official_run(copy, stats_dir=stats, text_model=distilbert).has_decoder
    with pytest.raises(CheckpointError, match="no mean.npy or mean.pt"):
        import_official_run(copy, stats_dir=tmp_path, text_model=distilbert)
    (copy / "last_weights" / "motion_encoder.pt").write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="not a readable torch state dict"):
        import_official_run(copy, stats_dir=stats, text_model=distilbert)
    (copy / "last_weights" / "motion_encoder.pt").unlink()
    with pytest.raises(CheckpointError, match="no such file"):
        import_official_run(copy, stats_dir=stats, text_model=distilbert)
    (copy / "config.json").write_text(json.dumps({"model": {}}))
    with pytest.raises(CheckpointError, match="not a TMR run config"):
        import_official_run(copy, stats_dir=stats, text_model=distilbert)


def test_reads_the_reference_statistics_files(official, distilbert, data_dir: Path, tmp_path: Path) -> None:
    """TMR's own stats/{dataset}/guoh3dfeats: the .pt files its code saved, or their .npy copies."""
    run, _, _ = official
    for dataset in ("humanml3d", "kitml"):
        stats = data_dir / "humanml3d-ref" / "tmr" / "stats" / dataset / "guoh3dfeats"
        pt_only = tmp_path / dataset
        pt_only.mkdir()
        for name in ("mean.pt", "std.pt"):
            (pt_only / name).write_bytes((stats / name).read_bytes())
        normalizer = import_official_run(run, stats_dir=pt_only, text_model=distilbert).normalizer
        np.testing.assert_array_equal(normalizer.mean, np.load(stats / "mean.npy"))
        np.testing.assert_array_equal(normalizer.std, np.load(stats / "std.npy"))


def _import(run: Path, stats: Path, output: Path, *extra: str, env: dict[str, str] | None = None):
    args = ["import", str(run), "--stats", str(stats), "-o", str(output), *extra]
    return CliRunner().invoke(app, args, env=env)


_QUERIES = itertools.count()


def _caption(checkpoint: Path, data_dir: Path, tmp_path: Path, *extra: str, env: dict[str, str] | None = None):
    """A text query through the CLI: `tmr caption` of a real HumanML3D motion against two sentences
    never asked before (text banks are cached)."""
    motion = data_dir / "humanml3d-ref" / "HumanML3D" / "new_joint_vecs" / "012314.npy"
    texts = tmp_path / "texts.txt"
    query = next(_QUERIES)
    texts.write_text(f"a person walks forward {query} steps\nsomeone waves {query} times with the left hand\n")
    args = ["caption", str(motion), "--texts", str(texts), "--json", "--checkpoint", str(checkpoint), *extra]
    return CliRunner().invoke(app, args, env=env)


def _one_line_error(result, code: int = 1) -> str:
    assert result.exit_code == code, result.output
    assert result.output.startswith("error:") and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 2  # the error, and a hint
    return result.output


def test_tmr_import_writes_a_checkpoint_every_command_can_use(official, distilbert: Path, tmp_path: Path) -> None:
    run, stats, modules = official
    output = tmp_path / "tmr_humanml3d.safetensors"
    result = _import(run, stats, output, "--text-model", str(distilbert))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(output)
    imported = load_checkpoint(output)
    # The name is stored, not the path: the checkpoint can travel.
    assert imported.config.text_model == "distilbert-base-uncased" and not imported.has_decoder
    mask = torch.ones(1, 12, dtype=torch.bool)
    motion = torch.randn(1, 12, MOTION)
    with torch.inference_mode():
        torch.testing.assert_close(
            imported.model.motion_encoder(motion, mask), modules["motion_encoder"](motion, mask), atol=1e-4, rtol=1e-4
        )
    broken = _import(tmp_path, stats, output, "--text-model", str(distilbert))
    _one_line_error(broken)


def test_import_without_a_local_text_model_fails_at_import(official, tmp_path: Path) -> None:
    """No --text-model and no copy in $TMR_TEXT_MODEL or the Hugging Face cache: a one-line error at
    import that names the model and where it was looked for, and no checkpoint is written."""
    run, stats, _ = official
    output = tmp_path / "out.safetensors"
    hub = tmp_path / "hf"
    error = _one_line_error(_import(run, stats, output, env={"HF_HOME": str(hub), "TMR_TEXT_MODEL": None}))
    assert "distilbert-base-uncased" in error and "text model not found" in error
    assert "$TMR_TEXT_MODEL (not set)" in error and str(hub / "hub") in error and "--text-model" in error
    assert not output.exists()


def test_import_finds_the_text_model_by_name(official, distilbert: Path, tmp_path: Path) -> None:
    """In a folder of models named by $TMR_TEXT_MODEL, and in the Hugging Face cache layout."""
    run, stats, _ = official
    by_env = _import(run, stats, tmp_path / "a.safetensors", env={"TMR_TEXT_MODEL": str(distilbert.parent)})
    assert by_env.exit_code == 0, by_env.output
    snapshot = tmp_path / "hf" / "hub" / "models--distilbert--distilbert-base-uncased" / "snapshots" / "12040ac"
    shutil.copytree(distilbert, snapshot)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("12040ac")
    by_cache = _import(run, stats, tmp_path / "b.safetensors", env={"HF_HOME": str(tmp_path / "hf")})
    assert by_cache.exit_code == 0, by_cache.output
    for name, folder in (("a", distilbert), ("b", snapshot)):
        imported = load_checkpoint(tmp_path / f"{name}.safetensors")
        assert imported.config.text_model == "distilbert-base-uncased"
        assert imported.provenance.details["text_model_folder"] == str(folder)  # the copy found, recorded


def test_a_backbone_of_the_wrong_width_is_refused_at_import(official, tmp_path: Path) -> None:
    run, stats, _ = official
    minilm_folder = resolve_text_model("all-MiniLM-L6-v2")  # 384-d, the run reads 768-d
    output = tmp_path / "out.safetensors"
    error = _one_line_error(_import(run, stats, output, "--text-model", minilm_folder))
    assert "384-d" in error and "768-d" in error and not output.exists()


def test_an_imported_checkpoint_travels(official, distilbert: Path, data_dir: Path, tmp_path: Path) -> None:
    """Moved with its backbone elsewhere, the checkpoint asks for the backbone by name; --text-model or
    $TMR_TEXT_MODEL then finds it, and text queries work."""
    run, stats, _ = official
    moving = tmp_path / "mine" / "distilbert-base-uncased"
    shutil.copytree(distilbert, moving)
    output = tmp_path / "imported.safetensors"
    assert _import(run, stats, output, "--text-model", str(moving)).exit_code == 0
    assert _caption(output, data_dir, tmp_path).exit_code == 0  # where it was at import: found
    moved = tmp_path / "elsewhere" / "distilbert-base-uncased"
    moved.parent.mkdir()
    moving.rename(moved)
    error = _one_line_error(_caption(output, data_dir, tmp_path))
    assert "distilbert-base-uncased" in error and "text model not found" in error and "Repo id" not in error
    assert str(moving) in error  # what was looked for, the folder of the import included
    for found in (_caption(output, data_dir, tmp_path, "--text-model", str(moved)),
                  _caption(output, data_dir, tmp_path, env={"TMR_TEXT_MODEL": str(moved.parent)})):  # fmt: skip
        assert found.exit_code == 0, found.output
        assert len(json.loads(found.stdout)) == 2
    wrong = _one_line_error(_caption(output, data_dir, tmp_path, "--text-model", resolve_text_model("all-MiniLM-L6-v2")))
    assert "384-d" in wrong and "768-d" in wrong


def test_older_checkpoints_holding_a_backbone_path_still_load(official, distilbert: Path, data_dir: Path, tmp_path: Path) -> None:
    """Checkpoints written before names were stored hold the backbone's absolute path: used where it exists,
    else looked up by its last part."""
    run, stats, _ = official
    imported = import_official_run(run, stats_dir=stats, text_model=distilbert)
    old_config = dataclasses.replace(imported.config, text_model=str(distilbert))
    old_model = TMR(old_config, with_decoder=False)
    old_model.load_state_dict(imported.model.state_dict(), strict=False)
    old = tmp_path / "old.safetensors"
    save_checkpoint(old, old_model, imported.normalizer, Provenance("an import by an older tmr"), include_decoder=False)
    assert _caption(old, data_dir, tmp_path).exit_code == 0
    gone = tmp_path / "gone" / "distilbert-base-uncased"
    old_config = dataclasses.replace(old_config, text_model=str(gone))
    moved = TMR(old_config, with_decoder=False)
    moved.load_state_dict(imported.model.state_dict(), strict=False)
    save_checkpoint(old, moved, imported.normalizer, Provenance("an import by an older tmr"), include_decoder=False)
    error = _one_line_error(_caption(old, data_dir, tmp_path))
    assert f"{gone} (no such folder)" in error
    found = _caption(old, data_dir, tmp_path, env={"TMR_TEXT_MODEL": str(distilbert.parent)})
    assert found.exit_code == 0, found.output
