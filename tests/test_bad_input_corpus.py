"""A bad-input corpus generated here (no committed binaries), from real files of every format: each case is
answered by one line naming the file and the reason, never a traceback, a hang or gigabytes of
memory, and the good files beside them are still converted.

Each case is read on its own under a time limit, then all of them go through one real `tmr convert`
process with good files mixed in (its exit code, its lines, its peak memory checked).
"""

from __future__ import annotations

import io
import json
import os
import re
import resource
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from formats import TmrError, load_motion
from formats.rigs import read_skeleton_map
from bad_format_cases import Case, amc_cases, deepmimic_cases, fbx_cases, gltf_cases
from store_helpers import bandai_clips

CASE_SECONDS = 5.0


@pytest.fixture(scope="module")
def good_bvh(data_dir: Path) -> str:
    """A real 46-frame Bandai-Namco clip, as text."""
    return bandai_clips(data_dir, 1)[0].read_text()


def _sub(pattern: str, replacement: str, count: int = 1) -> Callable[[str], str]:
    return lambda text: re.sub(pattern, replacement, text, count=count, flags=re.M)


def _rows(change: Callable[[list[str]], list[str]]) -> Callable[[str], str]:
    """Edit the MOTION rows (after the Frame Time line) as a list of lines."""

    def edit(text: str) -> str:
        head, rows = text.split("Frame Time:", 1)
        timing, body = rows.split("\n", 1)
        return f"{head}Frame Time:{timing}\n" + "\n".join(change(body.strip("\n").split("\n"))) + "\n"

    return edit


def _value(row: int, column: int, value: str) -> Callable[[str], str]:
    def change(rows: list[str]) -> list[str]:
        fields = rows[row].split()
        fields[column] = value
        return rows[:row] + [" ".join(fields)] + rows[row + 1 :]

    return _rows(change)


# name -> (how to make it from the good clip, a fragment of the reason it must give)
BVH_CASES: dict[str, tuple[Callable[[str], str], str]] = {
    "empty": (lambda t: "", "the file is empty"),
    "blank": (lambda t: " \n\t\n", "the file is empty"),
    "binary": (lambda t: "\x00\x01\x02" * 100, "binary data"),
    "nul_in_hierarchy": (lambda t: t.replace("JOINT Spine", "JOINT Sp\x00ine", 1), "binary data"),
    "no_hierarchy": (lambda t: t.replace("HIERARCHY", "HIERARCH", 1), "does not start with HIERARCHY"),
    "no_motion": (lambda t: t.split("MOTION")[0], "no MOTION section"),
    "truncated_hierarchy": (lambda t: t[: t.index("MOTION") // 2], "no MOTION section"),
    "truncated_10": (lambda t: t[: len(t) // 10], "the header says 46 frames"),
    "truncated_90": (lambda t: t[: len(t) * 9 // 10], "the header says 46 frames"),
    "truncated_mid_row": (lambda t: t[: len(t) - 300], "values but the hierarchy declares"),
    "frames_zero": (_sub(r"^Frames:.*$", "Frames: 0"), "no frames"),
    "frames_negative": (_sub(r"^Frames:.*$", "Frames: -3"), "not a number"),
    "frames_underscore": (_sub(r"^Frames:.*$", "Frames: 4_6"), "not a number"),
    "frames_superscript": (_sub(r"^Frames:.*$", "Frames: ²"), "not a number"),
    "frames_float": (_sub(r"^Frames:.*$", "Frames: 46.0"), "not a number"),
    "frames_lie_more": (_sub(r"^Frames:.*$", "Frames: 4600"), "the header says 4600 frames"),
    "frames_lie_less": (_sub(r"^Frames:.*$", "Frames: 3"), "the header says 3 frames"),
    "frames_missing": (_sub(r"^Frames:.*\n", ""), "'Frames: N' and 'Frame Time: SECONDS'"),
    "frame_time_missing": (_sub(r"^Frame Time:.*\n", ""), "'Frames: N' and 'Frame Time: SECONDS'"),
    "frame_time_zero": (_sub(r"^Frame Time:.*$", "Frame Time: 0"), "positive number of seconds"),
    "frame_time_negative": (_sub(r"^Frame Time:.*$", "Frame Time: -0.03"), "not a number"),
    "frame_time_1e300": (_sub(r"^Frame Time:.*$", "Frame Time: 1e300"), "tmr reads 1 to 10000 fps"),
    "frame_time_denormal": (_sub(r"^Frame Time:.*$", "Frame Time: 5e-324"), "tmr reads 1 to 10000 fps"),
    "frame_time_1000": (_sub(r"^Frame Time:.*$", "Frame Time: 1000"), "tmr reads 1 to 10000 fps"),
    "frame_time_underscore": (_sub(r"^Frame Time:.*$", "Frame Time: 1_000"), "not a number"),
    "frame_time_nan": (_sub(r"^Frame Time:.*$", "Frame Time: nan"), "not a number"),
    "frame_time_inf": (_sub(r"^Frame Time:.*$", "Frame Time: inf"), "not a number"),
    "frame_time_text": (_sub(r"^Frame Time:.*$", "Frame Time: fast"), "not a number"),
    "frame_time_100khz": (_sub(r"^Frame Time:.*$", "Frame Time: 0.00001"), "tmr reads 1 to 10000 fps"),
    "too_long": (
        lambda t: _rows(lambda rows: rows * 80)(t).replace("Frames:\t46", "Frames: 3680").replace("0.0333333", "0.99"),
        "limit; pass --max-duration",
    ),
    "channels_superscript": (_sub(r"CHANNELS 6", "CHANNELS ⁶"), "CHANNELS count does not match"),
    "channels_count_short": (_sub(r"CHANNELS 6", "CHANNELS 5"), "CHANNELS count does not match"),
    "channels_count_text": (_sub(r"CHANNELS 6", "CHANNELS six"), "CHANNELS count does not match"),
    "channels_unknown": (_sub(r"Zrotation", "Wrotation"), "unknown channel 'wrotation'"),
    "channels_twice": (_sub(r"Xrotation Yrotation", "Xrotation Xrotation"), "a channel is listed twice"),
    "channels_outside": (lambda t: t.replace("HIERARCHY\n", "HIERARCHY\nCHANNELS 1 Xrotation\n", 1), "outside a joint"),
    "duplicate_joint": (_sub(r"JOINT Spine$", "JOINT Hips"), "a second joint named 'Hips'"),
    "joint_without_name": (_sub(r"JOINT Spine$", "JOINT"), "without a name"),
    "unbalanced_close": (lambda t: t.replace("MOTION", "}\nMOTION", 1), "unbalanced '}'"),
    "missing_close": (lambda t: t.replace("}\nMOTION", "MOTION", 1), "ends inside a joint"),
    "missing_open": (_sub(r"(JOINT Spine\n\s*)\{", r"\1"), "out of place"),
    "offset_two_numbers": (_sub(r"OFFSET 15.7357 0.0 0.0", "OFFSET 15.7357 0.0"), "OFFSET needs three finite numbers"),
    "offset_nan": (_sub(r"OFFSET 15.7357 0.0 0.0", "OFFSET nan 0.0 0.0"), "OFFSET needs three finite numbers"),
    "offset_text": (_sub(r"OFFSET 15.7357 0.0 0.0", "OFFSET a b c"), "OFFSET needs three finite numbers"),
    "unexpected_keyword": (_sub(r"JOINT Spine$", "BONE Spine"), "unexpected"),
    "row_extra_value": (_value(10, 5, "0.0 1.0"), "frame 10 holds"),
    "row_missing_value": (_value(10, 5, ""), "frame 10 holds"),
    "row_nan": (_value(3, 7, "nan"), "frame 3 holds a value that is NaN"),
    "row_inf": (_value(3, 7, "inf"), "frame 3 holds a value that is NaN"),
    "row_huge": (_value(3, 7, "1e300"), "beyond ±1e+09"),
    "row_text": (_value(3, 7, "abc"), "could not convert string"),
    "row_underscore": (_value(3, 7, "1_0"), "could not convert string '1_0'"),
    "row_extra_row": (_rows(lambda rows: rows + rows[-1:]), "the header says 46 frames but the MOTION block holds 47"),
    "row_missing_row": (_rows(lambda rows: rows[:-1]), "the header says 46 frames but the MOTION block holds 45"),
    "one_frame": (lambda t: _rows(lambda rows: rows[:1])(t).replace("Frames:\t46", "Frames: 1"), "too short"),
    "unknown_rig": (lambda t: re.sub(r"(JOINT|ROOT) (\w+)", lambda m: f"{m[1]} bone{hash(m[2]) % 10**6}", t), "finds no joint"),
    "latin1_bytes": (lambda t: t.replace("JOINT Spine", "JOINT Sp\xe9ine", 1).encode("latin-1").decode("latin-1"), ""),
}
# Two cases are readable after all (a non-ASCII joint name is a name; an unknown rig maps by its
# structure): they must convert.
GOOD_BVH_VARIANTS = {"latin1_bytes", "unknown_rig"}


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _npz_bytes(**arrays: object) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _lying_header(shape: tuple[int, ...]) -> bytes:
    """A .npy whose header declares `shape` over a few bytes of data."""
    good = _npy_bytes(np.zeros((10, 22, 3), np.float32))
    header = str({"descr": "<f4", "fortran_order": False, "shape": shape}).encode()
    header += b" " * (118 - len(header)) + b"\n"
    return good[:8] + len(header).to_bytes(2, "little") + header + good[128:]


def _joints(frames: int = 30) -> np.ndarray:
    t = np.linspace(0, 1, frames)[:, None, None]
    rest = np.random.default_rng(0).normal(size=(1, 22, 3)) * 0.3 + np.array([0, 1, 0])
    return (rest + 0.1 * t).astype(np.float32)


NPY_CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    "empty": (lambda: b"", "the file is empty"),
    "text": (lambda: b"hello", "not a NumPy .npy or .npz file"),
    "magic_only": (lambda: b"\x93NUMPY", "not a readable NumPy file"),
    "truncated_header": (lambda: _npy_bytes(_joints())[:40], "not a readable NumPy file"),
    "truncated_data": (lambda: _npy_bytes(_joints())[:500], "the file is truncated"),
    "huge_shape": (lambda: _lying_header((10**12, 22, 3)), "more than tmr reads"),
    "lying_shape": (lambda: _lying_header((100_000, 22, 3)), "the file is truncated"),
    "wrong_joints": (lambda: _npy_bytes(np.zeros((10, 17, 3), np.float32)), "shape (10, 17, 3)"),
    "wrong_ndim": (lambda: _npy_bytes(np.zeros(10, np.float32)), "shape (10,)"),
    "four_dims": (lambda: _npy_bytes(np.zeros((2, 10, 22, 3), np.float32)), "shape (2, 10, 22, 3)"),
    "zero_frames": (lambda: _npy_bytes(np.zeros((0, 22, 3), np.float32)), "shape (0, 22, 3)"),
    "one_frame": (lambda: _npy_bytes(_joints(1)), "too short"),
    "nan": (lambda: _npy_bytes(np.where(np.arange(30)[:, None, None] == 4, np.nan, _joints())), "frame 4 holds"),
    "inf_features": (lambda: _npy_bytes(np.full((5, 263), np.inf, np.float32)), "frame 0 holds"),
    "strings": (lambda: _npy_bytes(np.array(["a", "b"])), "not numbers"),
    "complex": (lambda: _npy_bytes(_joints().astype(np.complex64)), "not numbers"),
    "pickled": (lambda: _npy_bytes(np.array([{"a": 1}], dtype=object)), "pickled data"),
    "all_zero": (lambda: _npy_bytes(np.zeros((30, 22, 3), np.float32)), "the skeleton has no size"),
    "far_away": (lambda: _npy_bytes(_joints() + 1e6), "farther than"),
}

NPZ_CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    "not_a_zip": (lambda: b"PK\x03\x04junk", "not a readable NumPy file"),
    "empty_zip": (lambda: _npz_bytes(), "holds no arrays"),
    "no_motion": (lambda: _npz_bytes(other=np.zeros(3)), "expected a 'joints' or 'positions' array"),
    "fps_zero": (lambda: _npz_bytes(joints=_joints(), fps=0.0), "'fps' must be one positive frame rate"),
    "fps_negative": (lambda: _npz_bytes(joints=_joints(), fps=-30.0), "'fps' must be one positive frame rate"),
    "fps_nan": (lambda: _npz_bytes(joints=_joints(), fps=np.nan), "'fps' must be one positive frame rate"),
    "fps_tiny": (lambda: _npz_bytes(joints=_joints(), fps=1e-300), "tmr reads 1 to 10000 fps"),
    "fps_huge": (lambda: _npz_bytes(joints=_joints(), fps=1e300), "tmr reads 1 to 10000 fps"),
    "fps_three": (lambda: _npz_bytes(joints=_joints(), fps=np.array([30.0, 60.0, 90.0])), "one positive frame rate"),
    "fps_text": (lambda: _npz_bytes(joints=_joints(), fps=np.array("thirty")), "one positive frame rate"),
    "too_long": (lambda: _npz_bytes(joints=_joints(4000), fps=1.0), "limit; pass --max-duration"),
    "joints_wrong_shape": (lambda: _npz_bytes(joints=np.zeros((10, 5))), "'joints' has shape (10, 5)"),
    "joints_strings": (lambda: _npz_bytes(joints=np.array(["x"] * 3)), "not numbers"),
    "joints_nan": (lambda: _npz_bytes(joints=np.full((10, 22, 3), np.nan)), "frame 0 holds"),
    "pickled_member": (lambda: _npz_bytes(joints=np.array([None], dtype=object)), "pickled data"),
    "huge_member": (lambda: _zip_with("joints.npy", _lying_header((10**12, 22, 3))), "more than tmr reads"),
    "lying_member": (lambda: _zip_with("joints.npy", _lying_header((100_000, 22, 3))), "the file is truncated"),
    "truncated_zip": (lambda: _npz_bytes(joints=_joints())[:200], "not a readable NumPy file"),
    "amass_without_model": (
        lambda: _npz_bytes(poses=np.zeros((10, 156)), trans=np.zeros((10, 3)), mocap_framerate=60.0),
        "needs a SMPL-family body model",
    ),
}


def _zip_with(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


MAP_CASES: dict[str, tuple[str, str]] = {
    "empty.toml": ("", "must be a non-empty table"),
    "not_toml.toml": ("pelvis = ", "not valid TOML"),
    "not_json.json": ("{", "not valid JSON"),
    "list.json": ("[1, 2]", "must be a non-empty table"),
    "unknown_joint.toml": ('belly = "Spine"', "'belly' is not an SMPL joint"),
    "number_value.json": ('{"pelvis": 3}', "must be a non-empty string"),
    "blank_value.toml": ('pelvis = "  "', "must be a non-empty string"),
    "deep.json": ("{\"pelvis\": " * 50_000 + "1" + "}" * 50_000, "nests too deeply"),
    "deep.toml": ("pelvis = " + "[" * 50_000 + "]" * 50_000, "nests too deeply"),
    "huge.toml": ("# " + "x" * (2 << 20), "larger than"),
    "latin1.toml": ("pelvis = 'H\xe9'", "cannot read the skeleton map"),
}


def _format_cases(data_dir: Path, folder: Path) -> list[Case]:
    """The AMC/ASF, DeepMimic, FBX and glTF cases (tests/bad_format_cases.py), their ASFs written
    into `folder`."""
    hdm05 = data_dir / "hdm05" / "bd"
    lines = (hdm05 / "HDM_bd_kickLFront1Reps_001_120.amc").read_bytes().split(b"\n")
    amc, skeletons = amc_cases((hdm05 / "HDM_bd.asf").read_bytes(), b"\n".join(lines[: lines.index(b"61")]) + b"\n")
    for name, text in skeletons.items():
        (folder / name).write_bytes(text)
    bvh = bandai_clips(data_dir, 1)[0]
    made = folder.with_name(folder.name + "-made")
    made.mkdir()
    return [
        *amc,
        *deepmimic_cases((data_dir / "deepmimic" / "motions" / "humanoid3d_cartwheel.txt").read_bytes()),
        *fbx_cases((data_dir / "fbx" / "09_11_cmu.fbx").read_bytes(), bvh, made),
        *gltf_cases(bvh, made),
    ]


@pytest.fixture(scope="module")
def corpus(good_bvh: str, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[Path, str]:
    """Every bad file, written to one folder: path -> the reason fragment it must give ('' = good)."""
    folder = tmp_path_factory.mktemp("bad-corpus")
    cases: dict[Path, str] = {}
    for name, data, reason in _format_cases(data_dir, folder):
        (folder / name).write_bytes(data)
        cases[folder / name] = reason
    for name, (make, reason) in BVH_CASES.items():
        path = folder / f"bvh-{name}.bvh"
        path.write_bytes(make(good_bvh).encode("utf-8", "surrogateescape"))
        cases[path] = "" if name in GOOD_BVH_VARIANTS else reason
    for cases_of, suffix in ((NPY_CASES, ".npy"), (NPZ_CASES, ".npz")):
        for name, (make, reason) in cases_of.items():
            path = folder / f"{suffix[1:]}-{name}{suffix}"
            path.write_bytes(make())
            cases[path] = reason
    for name in ("good-1.bvh", "good-2.bvh"):
        (folder / name).write_text(good_bvh)
        cases[folder / name] = ""
    (folder / "good-3.npy").write_bytes(_npy_bytes(_joints(40)))
    cases[folder / "good-3.npy"] = ""
    return cases


def test_the_corpus_is_large_enough_and_spans_every_format(corpus: dict[Path, str]) -> None:
    bad = [path for path, reason in corpus.items() if reason]
    assert len(bad) + len(MAP_CASES) + len(STORE_CASES) >= 100, len(bad)
    every_format = {".bvh", ".amc", ".npy", ".npz", ".fbx", ".glb", ".gltf", ".txt", ".json"}
    assert {path.suffix for path in bad} == every_format
    assert {path.suffix for path, reason in corpus.items() if not reason} >= every_format - {".npz", ".json"}


def test_every_bad_file_is_one_error_in_time(corpus: dict[Path, str]) -> None:
    """Read in this process, one at a time: only tmr's error type escapes, each within CASE_SECONDS."""
    slow, wrong = [], []
    for path, reason in corpus.items():
        started = time.monotonic()
        try:
            load_motion(path)
            problem = "read without an error" if reason else None
        except TmrError as error:
            named = _skeleton_of(path) if path.name.startswith("badasf-") else path  # the bad ASF is named
            problem = None if reason and reason in error.reason and error.path == str(named) else repr(error)
        if problem:
            wrong.append(f"{path.name}: {problem}")
        if time.monotonic() - started > CASE_SECONDS:
            slow.append(path.name)
    assert not wrong, "\n".join(wrong)
    assert not slow, slow


def _skeleton_of(amc: Path) -> Path:
    return amc.with_name(amc.name.replace("_take.amc", ".asf"))


def test_one_convert_run_answers_each_bad_file_and_converts_the_good(corpus: dict[Path, str], tmp_path: Path) -> None:
    folder = next(iter(corpus)).parent
    out = tmp_path / "out"
    command = [sys.executable, "-c", "from tmrcli.app import main; main()", "convert", str(folder), "-o", str(out)]
    run = subprocess.run(command + ["--jobs", "2", "--json"], capture_output=True, text=True, timeout=300)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert run.returncode == 1 and "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    for path, reason in corpus.items():
        mine = [line for line in lines if line.startswith(f"error: {path}: ")]
        if reason:
            assert len(mine) == 1 and reason in mine[0], (path.name, mine)
        else:
            assert not mine and (out / f"{path.stem}.npy").is_file(), (path.name, mine)
    assert len(lines) == sum(1 for r in corpus.values() if r)
    report = json.loads(run.stdout)
    assert len(report["converted"]) == sum(1 for r in corpus.values() if not r)
    assert peak_mb < 2048, f"peak memory {peak_mb:.0f} MB"


@pytest.mark.parametrize("name", sorted(MAP_CASES))
def test_a_bad_skeleton_map_is_one_line(name: str, tmp_path: Path) -> None:
    text, reason = MAP_CASES[name]
    path = tmp_path / name
    path.write_bytes(text.encode("latin-1" if name.startswith("latin1") else "utf-8"))
    started = time.monotonic()
    with pytest.raises(TmrError) as raised:
        read_skeleton_map(path)
    assert reason in raised.value.reason and raised.value.path == str(path)
    assert time.monotonic() - started < CASE_SECONDS


def test_a_fifo_or_dangling_link_given_by_name_never_hangs(good_bvh: str, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    good = folder / "good.bvh"
    good.write_text(good_bvh)
    fifo = folder / "x.bvh"
    os.mkfifo(fifo)
    map_fifo = tmp_path / "map.toml"
    os.mkfifo(map_fifo)
    (folder / "dangling.bvh").symlink_to(folder / "nothing.bvh")
    (folder / "loop.bvh").symlink_to(folder / "loop.bvh")
    base = [sys.executable, "-c", "from tmrcli.app import main; main()", "convert"]
    out = str(tmp_path / "out")
    run = subprocess.run(base + [str(fifo), str(good), "-o", out], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and (tmp_path / "out" / "good.npy").is_file()
    assert f"error: {fifo}: cannot read the file: a named pipe (FIFO), not a regular file" in run.stderr
    for name in ("dangling.bvh", "loop.bvh"):
        run = subprocess.run(base + [str(folder / name), "-o", out], capture_output=True, text=True, timeout=60)
        assert run.returncode == 2 and run.stderr.startswith(f"error: {folder / name}: ")
        assert "a symbolic link to nothing" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    run = subprocess.run(base + [str(folder), "-o", out], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "not a regular file 3" in run.stderr  # the FIFO and both links, said
    command = base + [str(good), "-o", out, "--skeleton-map", str(map_fifo)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and f"error: {map_fifo}: cannot read the skeleton map: a named pipe" in run.stderr


def _store_cases() -> dict[str, Callable[[Path], None]]:
    import h5py

    def attribute(name: str, value: object) -> Callable[[Path], None]:
        def change(path: Path) -> None:
            with h5py.File(path, "r+") as h5:
                if value is None:
                    del h5.attrs[name]
                else:
                    h5.attrs[name] = value

        return change

    def dataset_gone(name: str) -> Callable[[Path], None]:
        def change(path: Path) -> None:
            with h5py.File(path, "r+") as h5:
                del h5[name]

        return change

    def cut(share: float) -> Callable[[Path], None]:
        return lambda path: path.write_bytes(path.read_bytes()[: int(path.stat().st_size * share)])

    return {
        "truncated_half": cut(0.5),
        "truncated_tenth": cut(0.1),
        "zero_bytes": cut(0.0),
        "junk": lambda path: path.write_bytes(os.urandom(4096)),
        "text_file": lambda path: path.write_text("my notes\n"),
        "foreign_hdf5": lambda path: (path.unlink(), h5py.File(path, "w").close()),
        "newer_format": attribute("format_version", 99),
        "no_dim": attribute("dim", None),
        "no_lineage": attribute("lineage", None),
        "no_embeddings": dataset_gone("entries/embedding"),
        "no_paths": dataset_gone("files/path"),
        "base_deleted": lambda path: path.unlink(),
    }


STORE_CASES = [
    "truncated_half", "truncated_tenth", "zero_bytes", "junk", "text_file", "foreign_hdf5",
    "newer_format", "no_dim", "no_lineage", "no_embeddings", "no_paths", "base_deleted",
]  # fmt: skip


@pytest.mark.parametrize("case", STORE_CASES)
def test_a_damaged_or_foreign_store_is_one_line_for_info_and_check(case: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tmrcli.app import app
    from tmrcli.library.store import MotionStore
    from store_helpers import fake_record

    store = MotionStore(tmp_path / "library.h5")
    with store.writer("a" * 64, 8) as writer:
        writer.commit([fake_record(f"/m/{i}", 3, seed=i) for i in range(20)])
        writer.compact()
        writer.commit([fake_record("/m/late", 2)])
    _store_cases()[case](store.path)
    for command in (["info"], ["info", "--check"]):
        started = time.monotonic()
        result = CliRunner().invoke(app, [*command, "--store", str(store.path)])
        assert time.monotonic() - started < CASE_SECONDS
        assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
        assert "Traceback" not in result.output and result.stdout == ""
        lines = result.stderr.splitlines()
        assert lines and (lines[0].startswith(f"error: {store.path}: ") or lines[0].startswith("damaged: "))


def _mutated(data: st.DataObject, text: bytes, tokens: list[bytes]) -> bytes:
    """A real file's bytes, mutated 1-4 times: bytes replaced, inserted or deleted, lines duplicated
    or dropped, odd tokens (non-ASCII digits, underscores, huge and denormal numbers) put in."""
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["byte", "insert", "delete", "line", "token"]))
        if kind == "line":
            lines = text.split(b"\n")
            at = data.draw(st.integers(0, len(lines) - 1))
            lines = lines[:at] + data.draw(st.sampled_from([[], [lines[at]] * 2, [b""]])) + lines[at + 1 :]
            text = b"\n".join(lines)
        elif kind == "token":
            at = data.draw(st.integers(0, len(text)))
            text = text[:at] + data.draw(st.sampled_from(tokens)) + text[at:]
        else:
            at = data.draw(st.integers(0, len(text) - 1))
            chunk = data.draw(st.binary(min_size=1, max_size=8))
            end = at + (len(chunk) if kind == "byte" else 0 if kind == "insert" else data.draw(st.integers(1, 64)))
            text = text[:at] + (b"" if kind == "delete" else chunk) + text[end:]
    return text


_ODD_TOKENS = [b"\xc2\xb2", b"1_0", b"1e300", b"5e-324", b"nan", b"-", b"inf", b"\x00", b"\r"]
def _fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
    )


def _only_tmr_errors(path: Path, text: bytes) -> None:
    path.write_bytes(text)
    try:
        load_motion(path)
    except TmrError as error:
        assert error.path == str(path) and error.reason.strip()


@seed(15)
@_fuzz_settings(300)
@given(data=st.data())
def test_fuzzed_bvh_files_raise_only_tmr_errors(good_bvh: str, tmp_path_factory: pytest.TempPathFactory, data) -> None:
    """Mutations of a real clip: reading one gives a motion or a TmrError, nothing else."""
    text = _mutated(data, good_bvh.encode(), [*_ODD_TOKENS, b"{", b"}", b"JOINT", b"CHANNELS 3"])
    _only_tmr_errors(tmp_path_factory.mktemp("fuzz", numbered=True) / "fuzzed.bvh", text)


@pytest.fixture(scope="module")
def amc_actor(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """HDM05 actor bd's skeleton in a folder, and the first 60 frames of one of its motions."""
    import shutil

    folder = tmp_path_factory.mktemp("amc")
    shutil.copy(data_dir / "hdm05" / "bd" / "HDM_bd.asf", folder / "HDM_bd.asf")
    lines = (data_dir / "hdm05" / "bd" / "HDM_bd_kickLFront1Reps_001_120.amc").read_bytes().split(b"\n")
    return folder, b"\n".join(lines[: lines.index(b"61")]) + b"\n"


@seed(15)
@_fuzz_settings(200)
@given(data=st.data())
def test_fuzzed_amc_files_raise_only_tmr_errors(amc_actor: tuple[Path, bytes], data) -> None:
    """Mutations of a real AMC motion, read with its real ASF skeleton: a motion or a TmrError."""
    folder, text = amc_actor
    _only_tmr_errors(folder / "HDM_bd_fuzzed.amc", _mutated(data, text, [*_ODD_TOKENS, b"lfemur", b":DEGREES"]))


NASTY_NAMES = ["walk[final].bvh", "x[/b]y.bvh", "red\x1b[31mtext.bvh", "two\nlines.bvh", "[bold]loud.bvh"]


def test_file_names_print_as_text_on_one_line(tmp_path: Path, good_bvh: str) -> None:
    from typer.testing import CliRunner

    from tmrcli.app import app
    from tmrcli.views.console import printable

    folder = tmp_path / "mocap"
    folder.mkdir()
    (folder / "x[").mkdir()  # so that the path reads .../x[/b]y.bvh
    for name in NASTY_NAMES:
        (folder / name).write_text("")  # empty: each gets an error line
    (folder / "good[1].bvh").write_text(good_bvh)
    result = CliRunner().invoke(app, ["convert", str(folder), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    for name in NASTY_NAMES:
        expected = f"error: {printable(str(folder / name))}: the file is empty"
        assert expected in lines, (name, lines)
    assert "\x1b[31m" not in result.stderr and (tmp_path / "out" / "good[1].npy").is_file()
