"""Every kind of bad input gives a FormatError or SkeletonError naming the file and the reason.

The small hand-made files live in tests/data/bad/; the table below says what each one must report.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from formats import FormatError, SkeletonError, TmrError, load_motion

BAD = Path(__file__).parent / "data" / "bad"
EXPECTED: dict[str, tuple[type[TmrError], str]] = {
    "amass_without_body_model.npz": (FormatError, "needs a SMPL-family body model; pass --body-model"),
    "bad_fps.npz": (FormatError, "'fps' must be one positive frame rate"),
    "binary_junk.bvh": (FormatError, "binary data, not a BVH text file"),
    "binary_motion.bvh": (FormatError, "binary data"),
    "channel_count_mismatch.bvh": (FormatError, "CHANNELS count does not match"),
    "degenerate_skeleton.bvh": (FormatError, "the skeleton has no size"),
    "empty.bvh": (FormatError, "the file is empty"),
    "empty.npy": (FormatError, "the file is empty"),
    "frame_count_lies.bvh": (FormatError, "the header says 10 frames but the MOTION block holds 3"),
    "inf_features.npy": (FormatError, "frame 2 holds a value that is NaN, infinite"),
    "inf_value.bvh": (FormatError, "frame 2 holds a value that is NaN, infinite"),
    "missing_frame_time.bvh": (FormatError, "'Frame Time: SECONDS'"),
    "nan_joints.npy": (FormatError, "frame 4 holds a value that is NaN, infinite"),
    "nan_value.bvh": (FormatError, "frame 1 holds a value that is NaN, infinite"),
    "no_hierarchy.bvh": (FormatError, "does not start with HIERARCHY"),
    "no_motion_arrays.npz": (FormatError, "expected a 'joints' or 'positions' array"),
    "not_a_number.bvh": (FormatError, "could not convert string 'abc'"),
    "not_a_zip.npz": (FormatError, "not a readable NumPy file"),
    "one_frame.bvh": (FormatError, "too short"),
    "overflow.bvh": (FormatError, "beyond ±1e+09"),
    "pickled_objects.npy": (FormatError, "pickled data"),
    "ragged_rows.bvh": (FormatError, "line 131: frame 1 holds 65 values but the hierarchy declares 66"),
    "strings.npy": (FormatError, "not numbers"),
    "text.npy": (FormatError, "not a NumPy .npy or .npz file"),
    "too_many_values.bvh": (FormatError, "the first frame holds 67 values but the hierarchy declares 66"),
    "truncated.npy": (FormatError, "not a readable NumPy file"),
    "truncated_hierarchy.bvh": (FormatError, "no MOTION section"),
    "truncated_motion.bvh": (FormatError, "the last frame holds 46 values"),
    "unbalanced_braces.bvh": (FormatError, "unbalanced '}'"),
    "unknown_channel.bvh": (FormatError, "unknown channel 'wrotation'"),
    "unknown_skeleton.bvh": (SkeletonError, "which finds no joint for left_hip, right_hip"),
    "whitespace_only.bvh": (FormatError, "the file is empty"),
    "wrong_joint_count.npy": (FormatError, "shape (10, 17, 3)"),
    "wrong_shape.npy": (FormatError, "shape (10, 5)"),
    "zero_frame_time.bvh": (FormatError, "frame time must be a positive number"),
    "zero_frames.bvh": (FormatError, "no frames"),
    "zero_frames.npy": (FormatError, "shape (0, 22, 3)"),
}


def test_the_table_covers_the_whole_bad_corpus() -> None:
    assert sorted(path.name for path in BAD.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_file_gives_its_reason(name: str) -> None:
    error_type, reason = EXPECTED[name]
    with pytest.raises(TmrError) as caught:
        load_motion(BAD / name)
    assert type(caught.value) is error_type
    assert caught.value.path == str(BAD / name)
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"{BAD / name}: ")


def test_missing_folder_and_unsupported_paths(tmp_path: Path) -> None:
    (tmp_path / "folder.bvh").mkdir()
    (tmp_path / "folder.npy").mkdir()
    (tmp_path / "clip.c3d").write_bytes(b"\x02\x50")  # C3D marker data: no skeleton to read
    cases = {
        "missing.bvh": "file not found",
        "missing.npz": "file not found",
        "folder.bvh": "is a folder",
        "folder.npy": "is a folder",
        "clip.c3d": "unsupported file type .c3d",
    }
    for name, reason in cases.items():
        with pytest.raises(FormatError, match=reason):
            load_motion(tmp_path / name)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads files whatever their mode")
@pytest.mark.parametrize("name", ["locked.bvh", "locked.npy"])
def test_unreadable_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"HIERARCHY\n")
    path.chmod(0)
    with pytest.raises(FormatError, match="cannot read the file: Permission denied"):
        load_motion(path)


@pytest.mark.parametrize("name", ["locked.bvh", "locked.npy"])
def test_read_errors_from_the_system_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """The same as above for any user (root reads files whatever their mode): the readers' `open`
    fails as the system would."""

    def refuse(path: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("formats.checks.open_regular", refuse)
    with pytest.raises(FormatError, match="cannot read the file: Permission denied"):
        load_motion(tmp_path / name)
