"""A long take is read in blocks (file, MOTION rows, kinematics) so its memory stays bounded; the
blocks must never change what is read. Each test forces tiny blocks on real clips and compares with
the reading in one piece (benchmarks/long_take_memory.py measures the memory itself)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import formats.bvh as bvh
import formats.bvh_rows as bvh_rows
from formats.bvh import read_bvh
from formats.bvh_rows import sample_rows
from formats.errors import FormatError
from formats.reading import LoadOptions, read_features

# One clip per BVH source of the corpus: position channels on every joint (Bandai-Namco), 100 joints
# (Reallusion CC), world positions in joint channels (AnimatedDrawings), ACCAD's and MHAD's rigs.
CLIPS = [
    "bandai-namco/dataset-1/data/dataset-1_bow_angry_001.bvh",
    "cmu-mocap/iclone_cc_rig/002_03.bvh",
    "animated-drawings/5yr_old/catch.bvh",
    "accad/Female1/Female1_A01_Stand.bvh",
    "berkeley-mhad/skl_s01_a01_r01.bvh",
]


def _tiny_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks far smaller than a clip: the file's head, each pass over the rows, each batch of frames."""
    monkeypatch.setattr(bvh, "HEAD_BYTES", 300)
    monkeypatch.setattr(bvh, "TIMING_ROOM", 40)
    monkeypatch.setattr(bvh, "FRAME_BLOCK", 7)
    monkeypatch.setattr(bvh_rows, "BLOCK_BYTES", 997)


@pytest.mark.parametrize("clip", CLIPS)
def test_features_read_in_blocks_equal_those_read_whole(data_dir: Path, clip: str, monkeypatch) -> None:
    path = data_dir / clip
    whole_clip = read_bvh(path)
    whole = read_features(path, LoadOptions())[1]
    _tiny_blocks(monkeypatch)
    blocked_clip = read_bvh(path)
    blocked = read_features(path, LoadOptions())[1]
    assert blocked_clip.motion == whole_clip.motion and blocked_clip.num_frames == whole_clip.num_frames
    assert whole.shape == blocked.shape and whole.shape[1] == 263
    np.testing.assert_allclose(blocked, whole, rtol=0, atol=1e-6)


def test_the_sampled_rows_are_those_a_split_picks(data_dir: Path) -> None:
    rows = read_bvh(data_dir / CLIPS[2]).motion
    padded = b"\n\n" + rows.replace(b"\n", b"\n\n", 3) + b"\n \n"  # blank lines are no frames
    lines = [line for line in padded.split(b"\n") if line.strip()]
    chosen = np.unique(np.linspace(0, len(lines) - 1, 32).astype(int))
    assert sample_rows(padded, 32) == (b"\n".join(lines[i] for i in chosen), len(chosen))


@pytest.mark.parametrize("damage", ["word", "short row", "long row", "frames"])
def test_errors_name_the_same_row_whatever_the_blocks(data_dir: Path, tmp_path: Path, damage: str, monkeypatch) -> None:
    raw = (data_dir / CLIPS[0]).read_bytes()
    lines = raw.split(b"\n")
    row = next(i for i, line in enumerate(lines) if line.startswith(b"Frame Time")) + 30
    fields = lines[row].split()
    if damage == "word":
        fields[5] = b"oops"
    elif damage == "short row":
        fields = fields[:-1]
    elif damage == "long row":
        fields.append(b"1.0")
    lines[row] = b" ".join(fields)
    if damage == "frames":
        del lines[row]
    path = tmp_path / "damaged.bvh"
    path.write_bytes(b"\n".join(lines))
    messages = []
    for blocks in ("whole", "tiny"):
        if blocks == "tiny":
            _tiny_blocks(monkeypatch)
        with pytest.raises(FormatError) as raised:
            read_features(path, LoadOptions())
        messages.append(str(raised.value))
    assert messages[0] == messages[1] and str(path) in messages[0]
