"""The Python API (`tmrcli.Library`, `load_model`, `read_motion`): the README's notebook lines, run as
they are on real clips, give what the commands give."""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from store_helpers import tiny_checkpoint  # noqa: F401 (fixture)
from tmrcli.app import app

README = Path(__file__).resolve().parents[1] / "README.md"
# Held-out takes (test split): two of the action the example asks for, one of eight others, near
# misses among them (one hand raised, both hands waved).
ACTIONS = [
    "raise-up-both-hands", "raise-up-left-hand", "raise-up-right-hand", "wave-both-hands", "wave-right-hand",
    "walk", "walk-turn-left", "run", "walk-turn-right",
]  # fmt: skip


def _readme_example() -> str:
    """The code block of the README's "From Python" section."""
    section = README.read_text().split("## From Python", 1)[1].split("\n## ", 1)[0]
    [code] = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    return code


def _clips(data_dir: Path) -> list[Path]:
    test = (data_dir / "splits" / "test.txt").read_text().split()
    chosen = []
    for action in ACTIONS:
        takes = [line for line in test if f"_{action}_" in line]
        chosen += takes[: 2 if action == ACTIONS[0] else 1]
    return [data_dir / line for line in chosen]


@pytest.fixture(scope="module")
def notebook(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, list[Path]]:
    """The README's lines, executed in a folder whose mocap/ holds real clips; their variables."""
    folder = tmp_path_factory.mktemp("notebook")
    clips = _clips(data_dir)
    (folder / "mocap").mkdir()
    for clip in clips:
        (folder / "mocap" / clip.name).symlink_to(clip)
    namespace: dict = {}
    with pytest.MonkeyPatch.context() as patch:  # module-scoped: its own private user folders
        patch.setenv("XDG_CACHE_HOME", str(folder / "cache"))
        patch.setenv("XDG_DATA_HOME", str(folder / "data"))
        patch.setenv("TMR_STORE", str(folder / "data" / "library.h5"))
        patch.chdir(folder)
        exec(compile(_readme_example(), str(README), "exec"), namespace)
    return namespace, folder, clips


def test_the_readme_lines_index_search_and_caption_real_clips(notebook: tuple[dict, Path, list[Path]]) -> None:
    namespace, folder, clips = notebook
    report, hits, captions = namespace["report"], namespace["hits"], namespace["captions"]
    assert len(_readme_example().strip().splitlines()) == 5
    assert report.added == len(clips) == 10 and report.failed == []
    assert len(hits) == 5 and [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert "_raise-up-both-hands_" in Path(hits[0].path).name  # what was asked for comes first
    assert len(captions) == 5 and all(c.text for c in captions)
    # asdict of the results is what the commands print with --json.
    store = str(folder / "motions.h5")
    searched = CliRunner().invoke(app, ["search", "a person raises both hands", "-k", "5", "--store", store, "--json"])
    assert searched.exit_code == 0, searched.output
    assert json.loads(searched.stdout) == [asdict(h) for h in hits]
    described = CliRunner().invoke(app, ["caption", hits[0].path, "--json"])
    assert described.exit_code == 0, described.output
    assert json.loads(described.stdout) == [asdict(c) for c in captions]


def test_search_by_example_localize_and_info(notebook: tuple[dict, Path, list[Path]]) -> None:
    from tmrcli import MotionFeatures, read_motion

    namespace, _, clips = notebook
    library = namespace["library"]
    motion = read_motion(clips[0])
    assert isinstance(motion, MotionFeatures) and motion.features.shape == (len(motion.joints) - 1, 263)
    assert motion.joints.shape[1:] == (22, 3) and motion.duration > 0
    like = library.search(motion, k=3)
    assert len(like) == 3 and motion.path not in [h.path for h in like]  # the example itself is left out
    assert library.search(clips[0], k=3) == like
    indexed = [h.path for h in library.search("a person walks", k=10)]
    for path in indexed[:3]:  # a library file asked for by a relative path is still not its own hit
        relative = os.path.relpath(path)
        assert not os.path.isabs(relative) and path not in [h.path for h in library.search(relative, k=3)]
    found = library.localize(motion, "a person raises both hands", top=2)
    assert 1 <= len(found.segments) <= 2 and all(0 <= s.start < s.end <= motion.duration + 0.1 for s in found.segments)
    localized = CliRunner().invoke(app, ["localize", str(clips[0]), "a person raises both hands", "--top", "2", "--json"])
    assert localized.exit_code == 0, localized.output
    assert json.loads(localized.stdout) == json.loads(json.dumps(asdict(found)))
    info = library.info()
    assert info.files == len(clips) and info.matches_checkpoint is True


def test_a_library_refuses_a_model_that_did_not_embed_it(
    notebook: tuple[dict, Path, list[Path]], tmp_path: Path
) -> None:
    from model import Normalizer, Provenance, save_checkpoint
    from model_helpers import tiny_model
    from tmrcli import Library, load_model
    from tmrcli.library.errors import StoreError

    _, folder, _ = notebook
    other = tmp_path / "other.safetensors"
    save_checkpoint(other, tiny_model(), Normalizer.identity(263), Provenance(trained_on="nothing"))
    library = Library(folder / "motions.h5", load_model(other))
    with pytest.raises(StoreError, match="cannot be mixed"):
        library.search("a person raises both hands")
    with pytest.raises(StoreError, match="cannot be mixed"):
        library.index([folder / "mocap"])
    assert library.info().matches_checkpoint is False


def test_a_library_opened_without_a_model_uses_the_one_that_indexed_it(
    data_dir: Path, tmp_path: Path, tiny_checkpoint: Path
) -> None:
    """As the commands do untold: the checkpoint the library recorded, not `default`; a recorded file
    that is gone is the commands' error, naming it."""
    from model.checkpoint import checkpoint_sha256
    from tmrcli import Library, load_model
    from tmrcli.library.errors import StoreError

    clips = _clips(data_dir)[:3]
    checkpoint = Path(shutil.copy(tiny_checkpoint, tmp_path / "mine.tmr"))
    indexed = Library(tmp_path / "motions.h5", load_model(checkpoint))
    assert indexed.index(clips, workers=1).added == 3
    reopened = Library(tmp_path / "motions.h5")
    assert reopened.model.sha256 == indexed.model.sha256 != checkpoint_sha256("default")
    like = reopened.search(clips[0], k=2)  # `default` would be refused: the library holds mine.tmr's embeddings
    assert len(like) == 2 and like == indexed.search(clips[0], k=2)
    checkpoint.rename(tmp_path / "moved.tmr")
    gone = f"indexed with checkpoint {re.escape(str(checkpoint))}, which is no longer there"
    with pytest.raises(StoreError, match=gone):
        Library(tmp_path / "motions.h5")


def test_read_motion_takes_the_commands_options(data_dir: Path, tmp_path: Path) -> None:
    from formats.errors import TmrError
    from tmrcli import read_motion

    clip = _clips(data_dir)[0]
    features = tmp_path / "clip.npy"
    np.save(features, read_motion(clip).features)
    again = read_motion(features, fps=20)
    np.testing.assert_array_equal(again.features, read_motion(clip).features)
    with pytest.raises(TmrError, match="clip.txt"):
        read_motion(tmp_path / "clip.txt")
