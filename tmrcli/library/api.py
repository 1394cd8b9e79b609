"""The Python API: what `tmr index`, `search`, `caption` and `localize` do, for a notebook or a script.

    from tmrcli import Library, load_model
    library = Library("motions.h5", load_model("default"))
    library.index(["mocap/"])
    hits = library.search("a person jumps twice", k=5)
    captions = library.caption(hits[0].path)

Results are the dataclasses the commands print: `dataclasses.asdict` of each is what `--json` gives.
The library checks its checkpoint itself: searching or indexing with a model other than the one that
embedded it raises `StoreError`, as the commands do; opened without a model, it uses the one that
indexed it (`tmrcli/library/defaults.py`, the commands' rule). Indexing converts files in worker
processes; a script (not a notebook) that indexes needs the usual `if __name__ == "__main__":` guard.
"""

from __future__ import annotations

import dataclasses

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from formats.reading import LoadOptions, available_cores, read_features
from tmrcli.library.caption import bank_embeddings, caption_motion
from tmrcli.library.defaults import DEFAULT_CHECKPOINT, library_path, load_library_model
from tmrcli.library.embedding import embed_whole
from tmrcli.library.indexing import IndexProgress, IndexReport, IndexRequest, run_index
from tmrcli.library.info import LibraryInfo, library_info
from tmrcli.library.localize import Localization, localize
from tmrcli.library.results import CaptionHit, SearchHit
from tmrcli.library.search import check_checkpoint, example_query, search_library, text_query
from tmrcli.library.store import MotionStore

if TYPE_CHECKING:
    from model import Retriever

__all__ = ["MotionFeatures", "load_model", "read_motion", "Library"]


@dataclass(frozen=True)
class MotionFeatures:
    """One motion file as the model sees it: (T-1, 263) HumanML3D features at 20 fps and the (T, 22, 3)
    canonical joints they come from; `duration` in seconds, `source_fps` the file's own rate."""

    path: str
    features: np.ndarray
    joints: np.ndarray
    duration: float
    source_fps: float


def load_model(
    name_or_path: str | Path = DEFAULT_CHECKPOINT, *, text_model: str | Path | None = None, device: str | None = None
) -> Retriever:
    """A model by registered name (`default`, the shipped one) or checkpoint file; CheckpointError
    with the reason when it cannot be used. Texts and motions in, unit embeddings out. `text_model`:
    the folder of its text backbone, when it is not found by name."""
    from model import load_retriever

    return load_retriever(name_or_path, text_model=text_model, device=device)


def read_motion(
    path: str | Path,
    *,
    skeleton_map: Mapping[str, str] | str | Path | None = None,
    fps: float | None = None,
    body_model: str | Path | None = None,
    asf: str | Path | None = None,
    skeleton: str | Path | None = None,
) -> MotionFeatures:
    """Read a motion file (.bvh, .amc, .fbx, .glb/.gltf, DeepMimic .json/.txt, .npz, .npy) as every command does; the
    options are the commands' --skeleton-map (a mapping, or its TOML / JSON file), --fps, --body-model,
    --asf (an AMC's skeleton) and --skeleton (a DeepMimic character file)."""
    options = _options(skeleton_map, fps, body_model)
    extra = {"asf": None if asf is None else Path(asf), "character": None if skeleton is None else Path(skeleton)}
    return _read(Path(path), dataclasses.replace(options, **extra))


def _options(
    skeleton_map: Mapping[str, str] | str | Path | None, fps: float | None, body_model: str | Path | None
) -> LoadOptions:
    if isinstance(skeleton_map, (str, Path)):
        from formats import read_skeleton_map

        skeleton_map = read_skeleton_map(Path(skeleton_map))
    return LoadOptions(skeleton_map=skeleton_map, fps=fps, body_model=None if body_model is None else Path(body_model))


def _read(path: Path, options: LoadOptions) -> MotionFeatures:
    motion, features, joints = read_features(path, options, with_joints=True)
    assert joints is not None  # asked for
    return MotionFeatures(os.path.abspath(path), features, joints, motion.duration, motion.source_fps)


class _Silent:
    def start(self, files: int) -> None:
        pass

    def advance(self, files: int, entries: int) -> None:
        pass


class Library:
    """A motion library on disk and the model that embeds into it."""

    def __init__(self, path: str | Path | None = None, model: Retriever | str | Path | None = None) -> None:
        """`path`: the library file, or a folder to keep library.h5 in; default $TMR_STORE, else the user's
        data folder, as for the commands. `model`: a loaded model, or a name or checkpoint file to load;
        default the one that indexed the library, as for the commands (`default` for a new library)."""
        path = path if path is not None else os.environ.get("TMR_STORE")
        self.path = library_path(Path(path) if path else None)
        self._store = MotionStore(self.path)
        if model is None or isinstance(model, (str, Path)):
            model = load_library_model(self._store, model)
        self.model = model

    def __repr__(self) -> str:
        return f"Library({str(self.path)!r}, model sha256 {(self.model.sha256 or '?')[:12]})"

    def index(
        self,
        paths: Iterable[str | Path],
        *,
        rebuild: bool = False,
        prune: bool = False,
        workers: int | None = None,
        options: LoadOptions | None = None,
        progress: IndexProgress | None = None,
    ) -> IndexReport:
        """Index motion files and folders (found recursively), as `tmr index`: unchanged files are skipped
        by content hash; a file that cannot be read is listed in the report's `failed`, never raised."""
        request = IndexRequest(
            self.path, [Path(p) for p in paths], options or LoadOptions(), rebuild, prune,
            workers=workers or available_cores(),
        )  # fmt: skip
        return run_index(request, self.model, progress or _Silent())

    def search(
        self, query: str | Path | MotionFeatures, k: int = 10, *, min_score: float = 0.0, min_confidence: float = 0.0
    ) -> list[SearchHit]:
        """The k files that best match a text, or (a path or a read motion) an example motion, best first;
        the example itself is left out. Text hits carry their confidence, as in `tmr search`."""
        from model.inference import torch_threads

        with self._store.snapshot() as view, torch_threads(1):
            check_checkpoint(view, self.model.sha256)  # before any encoding
            if isinstance(query, str):
                found = text_query(self.model, query)
            else:
                motion = query if isinstance(query, MotionFeatures) else _read(Path(query), LoadOptions())
                found = example_query(self.model, motion.features, motion.path)
            return search_library(
                view, found.embedding, k, checkpoint_sha256=self.model.sha256, min_score=min_score,
                exclude=found.exclude, bank=found.bank, likeness=found.likeness, min_confidence=min_confidence,
            )  # fmt: skip

    def caption(
        self, motion: str | Path | MotionFeatures, k: int = 5, *, texts: list[str] | None = None
    ) -> list[CaptionHit]:
        """The k sentences (yours, else the model's own bank) that best describe the motion, as `tmr caption`."""
        from model.bank import default_text_bank

        bank = list(dict.fromkeys(texts)) if texts is not None else default_text_bank()
        features = self._motion(motion).features
        return caption_motion(embed_whole(self.model, features), bank, bank_embeddings(self.model, bank), k)

    def localize(self, motion: str | Path | MotionFeatures, text: str, top: int = 3) -> Localization:
        """When `text` happens in the motion: the best segments and the similarity curve, as `tmr localize`."""
        read = self._motion(motion)
        return localize(self.model, read.features, read.duration, text, top)

    def info(self) -> LibraryInfo:
        """What the library holds, and whether this library's model made it, as `tmr info`."""
        return library_info(self._store, self.model.sha256)

    @staticmethod
    def _motion(motion: str | Path | MotionFeatures) -> MotionFeatures:
        return motion if isinstance(motion, MotionFeatures) else _read(Path(motion), LoadOptions())
