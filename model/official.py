"""Import of official TMR runs (github Mathux/TMR): the one place that knows their layout.

A run folder, as the reference `extract.py` leaves it (for example `models/tmr_humanml3d_guoh3dfeats`
or `models/tmr_kitml_guoh3dfeats` from its download script), holds:

    config.json                         the resolved Hydra config of the run
    last_weights/text_encoder.pt        plain state dicts (torch.save), one per module
    last_weights/motion_encoder.pt
    last_weights/motion_decoder.pt      (optional here: without it the import is inference-only)

Used from config.json: model.{text_encoder,motion_encoder,motion_decoder}.{nfeats, latent_dim,
ff_size, num_layers, num_heads, dropout, activation}, model.{text_encoder,motion_encoder}.vae,
data.text_to_token_emb.modelname (the frozen backbone, distilbert-base-uncased), data.motion_loader.fps
and data.path (dataset name). The feature statistics are not in the run folder: they are the TMR repo's
`stats/{humanml3d,kitml}/guoh3dfeats/{mean,std}.pt` (or `.npy` copies), passed as `stats_dir`.

Expected keys and shapes, for the released runs (768-d text features, 263-d motion, d = 256,
ff 1024, 6 layers, 4 heads, VAE), and where each lands in `TMR.state_dict()`:

    text_encoder.pt (ACTORStyleEncoder)                           -> text_encoder.
        tokens                                        (2, 256)        dist_tokens
        projection.weight / .bias                     (256, 768) / (256,)   projection.weight / .bias
        seqTransEncoder.layers.{0-5}.<layer key>                       layers.{0-5}.<layer key>
    motion_encoder.pt                                             -> motion_encoder.
        the same, with projection.weight              (256, 263)
    motion_decoder.pt (ACTORStyleDecoder)                         -> motion_decoder.
        seqTransDecoder.layers.{0-5}.<layer key>                       layers.{0-5}.<layer key>
        final_layer.weight / .bias                    (263, 256) / (263,)   output.weight / .bias

    <layer key> (torch nn.TransformerEncoderLayer / DecoderLayer, kept as is):
        self_attn.in_proj_weight (768, 256), self_attn.in_proj_bias (768,),
        self_attn.out_proj.weight (256, 256), self_attn.out_proj.bias (256,),
        multihead_attn.* (decoder only, same shapes as self_attn.*),
        linear1.weight (1024, 256), linear1.bias (1024,), linear2.weight (256, 1024), linear2.bias (256,),
        norm1.weight / .bias (256,), norm2.*, norm3.* (decoder only)

The positional table (`sequence_pos_encoding.pe`) is not persistent in the reference; older files that
carry it are accepted and the table dropped, since it is a fixed function of the shape.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.checkpoint import TEXT_FOLDER_KEY, Checkpoint, Provenance, load_state_strict
from model.config import TMRConfig
from model.errors import CheckpointError, TextModelError
from model.network import TMR
from model.normalizer import Normalizer

__all__ = ["import_official_run", "map_official_state_dict", "OFFICIAL_MODULES"]

OFFICIAL_MODULES = ("text_encoder", "motion_encoder", "motion_decoder")
_SHARED_KEYS = ("latent_dim", "ff_size", "num_layers", "num_heads", "dropout", "activation")
# (their prefix, ours); a name without a trailing dot must match whole. Any other key is unexpected.
_ENCODER_RENAMES = (("seqTransEncoder.layers.", "layers."), ("projection.", "projection."), ("tokens", "dist_tokens"))
_RENAMES = {
    "text_encoder": _ENCODER_RENAMES,
    "motion_encoder": _ENCODER_RENAMES,
    "motion_decoder": (("seqTransDecoder.layers.", "layers."), ("final_layer.", "output.")),
}
_IGNORED = "sequence_pos_encoding.pe"


def map_official_state_dict(module: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An official module's state dict -> the matching entries of `TMR.state_dict()` (prefixed with the
    module name). Raises CheckpointError naming any key that belongs to no known parameter."""
    mapped, unknown = {}, []
    for key, value in state.items():
        if key == _IGNORED:
            continue
        for theirs, ours in _RENAMES[module]:
            if key == theirs or (theirs.endswith(".") and key.startswith(theirs)):
                mapped[f"{module}.{ours}{key[len(theirs):]}"] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise CheckpointError(None, f"{module}: unexpected keys for an official TMR module: {unknown[:5]}")
    return mapped


def import_official_run(
    run_dir: str | Path, *, stats_dir: str | Path, text_model: str | Path | None = None
) -> Checkpoint:
    """Build the paper's model from an official run folder and the TMR statistics folder.

    The result names the run's backbone (distilbert-base-uncased), which must be on this machine:
    `text_model`, the folder of a local copy, or one found by name (`$TMR_TEXT_MODEL`, the Hugging Face
    cache; `model/text_location.py`). It is loaded once here, so that a missing backbone or one of the
    wrong width fails now rather than at the first query. The checkpoint stores the name (and, as a last
    place to look, the folder). Save it in tmr's own format with `save_checkpoint`. Raises
    CheckpointError for a missing file, an unexpected config or key, or a tensor of the wrong shape,
    TextModelError for a backbone that is missing or of the wrong width.
    """
    run_dir = Path(run_dir)
    run_config = _read_json(run_dir / "config.json")
    config = _tmr_config(run_config, run_dir / "config.json")
    backbone_folder = _check_backbone(config, text_model)
    weights_dir = run_dir / "last_weights"
    has_decoder = (weights_dir / "motion_decoder.pt").is_file()
    model = TMR(config, with_decoder=has_decoder)
    state: dict[str, torch.Tensor] = {}
    for module in OFFICIAL_MODULES[: 3 if has_decoder else 2]:
        path = weights_dir / f"{module}.pt"
        try:
            state.update(map_official_state_dict(module, _torch_load(path)))
        except CheckpointError as error:
            raise CheckpointError(path, error.reason) from None
    load_state_strict(model, state, weights_dir)
    dataset = Path(str(_get(run_config, ("data", "path"), run_dir.name))).name
    provenance = Provenance(
        trained_on=f"{dataset} (official TMR run {run_dir.name!r}, Petrovich et al., ICCV 2023)",
        details={
            "source": "Mathux/TMR", "run": run_dir.name, "dataset": dataset, TEXT_FOLDER_KEY: str(backbone_folder)
        },
    )  # fmt: skip
    return Checkpoint(model.eval(), _read_stats(Path(stats_dir), config.n_feats), provenance)


def _check_backbone(config: TMRConfig, text_model: str | Path | None) -> Path:
    """The folder of the run's backbone, once loaded and checked to give `config.text_width`-d tokens."""
    from model.text import TextBackbone

    backbone = TextBackbone(config.text_model, folder=text_model, max_length=config.max_text_length, cache=False)
    if backbone.width != config.text_width:
        raise TextModelError(
            backbone.folder,
            f"token features are {backbone.width}-d but the run's text encoder reads {config.text_width}-d "
            f"({config.text_model})",
            hint=f"pass --text-model with a local copy of {config.text_model}",
        )
    return backbone.folder


def _tmr_config(run_config: dict[str, Any], path: Path) -> TMRConfig:
    parts = {name: _get(run_config, ("model", name), None) for name in OFFICIAL_MODULES}
    if not all(isinstance(part, dict) for part in parts.values()):
        raise CheckpointError(path, "not a TMR run config: no model.text_encoder, motion_encoder, motion_decoder")
    try:
        shared = {key: parts["motion_encoder"][key] for key in _SHARED_KEYS}
        differing = [k for k in _SHARED_KEYS if any(part.get(k) != shared[k] for part in parts.values())]
        if differing or parts["text_encoder"]["vae"] != parts["motion_encoder"]["vae"]:
            raise CheckpointError(path, f"encoders and decoder differ in {differing or ['vae']}; tmr needs them equal")
        if parts["motion_decoder"]["nfeats"] != parts["motion_encoder"]["nfeats"]:
            raise CheckpointError(path, "the decoder's feature width differs from the motion encoder's")
        return TMRConfig(
            n_feats=int(parts["motion_encoder"]["nfeats"]),
            text_model=str(_get(run_config, ("data", "text_to_token_emb", "modelname"), "distilbert-base-uncased")),
            text_width=int(parts["text_encoder"]["nfeats"]),
            # The reference tokenises without truncation; BERT-style backbones stop at 512 tokens.
            max_text_length=512,
            vae=bool(parts["motion_encoder"]["vae"]),
            fps=float(_get(run_config, ("data", "motion_loader", "fps"), 20.0)),
            **shared,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(path, f"unexpected TMR run config ({type(error).__name__}: {error})") from None


def _get(tree: dict[str, Any], keys: tuple[str, ...], default: Any) -> Any:
    for key in keys:
        if not isinstance(tree, dict) or key not in tree:
            return default
        tree = tree[key]
    return tree


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise CheckpointError(path, f"cannot read ({error.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(path, f"not JSON ({error})") from None
    if not isinstance(data, dict):
        raise CheckpointError(path, "not a TMR run config (not a JSON object)")
    return data


def _torch_load(path: Path) -> Any:
    """Tensors only: weights_only refuses any pickled code."""
    if not path.is_file():
        raise CheckpointError(path, "no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, EOFError, RuntimeError, ValueError) as error:
        raise CheckpointError(path, f"not a readable torch state dict ({str(error).splitlines()[0]})") from None
    return state


def _read_stats(stats_dir: Path, n_feats: int) -> Normalizer:
    arrays = {}
    for name in ("mean", "std"):
        npy, pt = stats_dir / f"{name}.npy", stats_dir / f"{name}.pt"
        if npy.is_file():
            arrays[name] = np.load(npy, allow_pickle=False)
        elif pt.is_file():
            arrays[name] = np.asarray(_torch_load(pt))
        else:
            raise CheckpointError(stats_dir, f"no {name}.npy or {name}.pt feature statistics here")
        if arrays[name].shape != (n_feats,):
            raise CheckpointError(stats_dir, f"{name} has shape {arrays[name].shape}, expected ({n_feats},)")
    return Normalizer(arrays["mean"], arrays["std"])
