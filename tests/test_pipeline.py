"""The index pipeline stage by stage: windows, discovery, conversion, embedding."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from formats import FEATURE_FPS
from model import load_retriever
from formats.reading import FailedFile, LoadOptions
from tmrcli.library.embedding import MotionClip, embed_clips, embed_whole, window_spans
from tmrcli.library.storefile import FileRecord
from tmrcli.library.indexing import MotionFile, convert_motion, discover
from store_helpers import bandai_clips, copy_clips, tiny_checkpoint  # noqa: F401 (fixture)

BAD = Path(__file__).parent / "data" / "bad"


@pytest.mark.parametrize(
    "rows, size, stride", [(50, 100, 50), (100, 100, 50), (101, 100, 50), (317, 100, 50), (1000, 40, 5)]
)
def test_window_spans_cover_everything_with_the_last_flush_to_the_end(rows: int, size: int, stride: int) -> None:
    spans = window_spans(rows, size, stride)
    assert spans[0, 0] == 0 and spans[-1, 1] == rows
    assert np.all(spans[:, 1] - spans[:, 0] == min(size, rows))
    assert np.all(np.diff(spans[:, 0]) <= stride) and np.all(np.diff(spans[:, 0]) > 0)


def _record(path: str, seconds: float) -> FileRecord:
    return FileRecord(path, "0" * 64, 1, 1, round(seconds * FEATURE_FPS), 30.0, seconds)


def test_short_takes_get_one_entry_long_takes_windows_and_their_mean(tiny_checkpoint: Path) -> None:
    retriever = load_retriever(tiny_checkpoint)
    rng = np.random.default_rng(0)
    short = MotionClip(_record("/short", 8.0), rng.normal(size=(159, 263)).astype(np.float32))
    long = MotionClip(_record("/long", 30.0), rng.normal(size=(599, 263)).astype(np.float32))
    one, many = embed_clips(retriever, [short, long], batch_size=4)
    assert one.starts.tolist() == [0.0] and one.ends.tolist() == [8.0] and one.embeddings.shape == (1, 32)
    assert many.starts[0] == 0 and many.ends[0] == 30.0
    windows = many.ends[1:] - many.starts[1:]
    assert len(windows) == 11 and np.allclose(windows, 5.0) and many.ends[-1] == pytest.approx(599 / FEATURE_FPS)
    mean = many.embeddings[1:].mean(axis=0)
    np.testing.assert_allclose(many.embeddings[0], mean / np.linalg.norm(mean), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(many.embeddings, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(embed_whole(retriever, long.feats), many.embeddings[0], atol=1e-5)
    np.testing.assert_allclose(embed_whole(retriever, short.feats), one.embeddings[0], atol=1e-5)


def test_discover_sorts_new_changed_unchanged_and_gone(tmp_path: Path, data_dir: Path) -> None:
    new, touched, edited, gone, same = copy_clips(bandai_clips(data_dir, 5), tmp_path / "lib")
    known = {}
    for path in (touched, edited, gone, same):
        digest = discover([path], {}, prune=False).todo[0]
        known[str(path)] = FileRecord(str(path), digest.content_sha256, digest.size, digest.mtime_ns, 1, 30.0, 1.0)
    os.utime(touched, ns=(1, 1))
    edited.write_bytes(edited.read_bytes().replace(b"0.", b"1.", 5))
    gone.unlink()
    plan = discover([tmp_path / "lib"], known, prune=False)
    assert sorted(f.path for f in plan.todo) == sorted([str(edited), str(new)]) and plan.updated == {str(edited)}
    assert plan.unchanged == 2 and plan.missing == [str(gone)] and plan.removed == []
    pruned = discover([tmp_path / "lib"], known, prune=True)
    assert pruned.removed == [str(gone)] and pruned.missing == []
    elsewhere = discover([new], known, prune=True)  # prune only under the given paths
    assert elsewhere.removed == [] and [f.path for f in elsewhere.todo] == [str(new)]


def test_every_bad_file_converts_to_a_failure_with_its_reason() -> None:
    bad = sorted(BAD.iterdir())
    assert len(bad) >= 30
    for path in bad:
        result = convert_motion(MotionFile(str(path), 1, 1, "0" * 64), LoadOptions())
        assert isinstance(result, FailedFile), path.name
        assert result.input == str(path) and result.reason and "\n" not in result.reason


def test_a_real_clip_converts_to_features_at_20_fps(data_dir: Path) -> None:
    (path,) = bandai_clips(data_dir, 1)
    clip = convert_motion(MotionFile(str(path), path.stat().st_size, 1, "f" * 64), LoadOptions())
    assert isinstance(clip, MotionClip)
    assert clip.feats.shape == (clip.file.frames - 1, 263) and clip.file.fps == pytest.approx(30.0, abs=0.01)
    # A take lasts its own frames / fps (not its 20 fps copy's, which keeps that to within half a frame).
    from formats.bvh import read_bvh

    assert clip.file.duration == pytest.approx(read_bvh(path).num_frames / clip.file.fps)
    assert abs(clip.file.duration - clip.file.frames / FEATURE_FPS) <= 0.5 / FEATURE_FPS
