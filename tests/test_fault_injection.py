"""Damage done to real library files on disk (byte flips, a corrupt search index, a full disk) is
detected, reported in one line and repaired; nothing committed is ever lost on the way."""

from __future__ import annotations

import errno
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from tmrcli.app import app
from tmrcli.library.ann import ann_candidates, ann_for_base, ann_problem, build_ann, ensure_ann
from tmrcli.library.errors import DiskFullError, StoreError
from tmrcli.library.store import MotionStore
from store_helpers import bandai_clips, fake_record, tiny_checkpoint  # noqa: F401 (fixture)

CKPT = "a" * 64


def _library(folder: Path, files: int = 40, entries: int = 5, dim: int = 8) -> MotionStore:
    store = MotionStore(folder / "library.h5")
    with store.writer(CKPT, dim) as writer:
        writer.commit([fake_record(f"/m/{i}", entries, dim=dim, seed=i) for i in range(files)])
        writer.compact()
    return store


def _held(store: MotionStore) -> dict[str, int]:
    with store.snapshot() as view:
        table = view.live_files()
        counts = {p: 0 for p in table.paths}
        for store_file, mask, files in view.live_entries():
            rows = store_file.entry_column("file")[mask]
            for row in rows:
                counts[files.paths[row]] += 1
        return counts


def _check(store: MotionStore) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["info", "--check", "--store", str(store.path)])
    return result.exit_code, result.stderr


def _tmr(*args: str) -> subprocess.CompletedProcess:
    """`tmr ARGS...` in a new process, as a user runs it."""
    command = [sys.executable, "-c", "from tmrcli.app import main; main()", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def _embedding_chunk_offset(path: Path) -> int:
    with h5py.File(path, "r") as h5:
        return h5["entries/embedding"].id.get_chunk_info(0).byte_offset


@pytest.mark.parametrize("where", [0, 100, 511])
def test_a_flipped_byte_in_the_embeddings_is_detected_and_named(tmp_path: Path, where: int) -> None:
    store = _library(tmp_path)
    assert _check(store)[0] == 0
    offset = _embedding_chunk_offset(store.path) + where
    with open(store.path, "r+b") as file:
        file.seek(offset)
        byte = file.read(1)
        file.seek(offset)
        file.write(bytes([byte[0] ^ 0x10]))
    with pytest.raises(StoreError, match="damaged library"):
        with store.snapshot() as view:
            for store_file, _, _ in view.live_entries():
                store_file.entry_column("embedding")
    code, message = _check(store)
    assert code == 1 and f"damaged: {store.path}: damaged library" in message
    assert "`tmr index --rebuild` will re-embed the 40 files" in message and "Traceback" not in message


def test_an_entry_naming_a_missing_file_row_is_damage_not_an_index_error(tmp_path: Path) -> None:
    store = _library(tmp_path)
    with h5py.File(store.path, "r+") as h5:  # consistent checksums, impossible contents
        h5["entries/file"][3] = 10_000
    with pytest.raises(StoreError, match="names a file row that does not exist"):
        _held(store)
    assert _check(store)[0] == 1


def test_non_unit_embeddings_are_reported_by_the_check(tmp_path: Path) -> None:
    store = _library(tmp_path)
    with h5py.File(store.path, "r+") as h5:
        h5["entries/embedding"][2] = np.nan
    code, message = _check(store)
    assert code == 1 and "not finite unit vectors" in message


@pytest.mark.parametrize(
    "damage",
    ["entry point 0x7fffffff", "element count", "a flipped vector byte", "truncated", "checksum file gone"],
)
def test_a_damaged_search_index_is_rebuilt_with_a_note(tmp_path: Path, damage: str, capfd) -> None:
    store = _library(tmp_path, files=200, entries=3, dim=16)
    with store.snapshot() as view:
        base = view.base
        path = store.ann_path(base.header.file_id)
        ensure_ann(base, path)
        sound = path.read_bytes()
        data = bytearray(sound)
        if damage == "entry point 0x7fffffff":
            data[52:56] = struct.pack("<I", 0x7FFFFFFF)
        elif damage == "element count":
            data[16:24] = struct.pack("<Q", 599)
        elif damage == "a flipped vector byte":
            data[len(data) // 2] ^= 0xFF
        elif damage == "truncated":
            data = data[: len(data) // 2]
        path.write_bytes(bytes(data))
        if damage == "checksum file gone":
            path.with_name(path.name + ".crc32").unlink()
        assert ann_problem(path, 16, 600) is not None
        assert _check(store)[0] == 1
        capfd.readouterr()
        index = ann_for_base(base, path)
        note = capfd.readouterr().err
        assert note.startswith(f"note: the search index {path.name} is damaged (") and note.count("\n") == 1
        embeddings = base.entry_column("embedding")
        fresh = build_ann([embeddings], len(embeddings), 16)
        for query in embeddings[:20]:
            assert np.array_equal(ann_candidates(index, query, 10), ann_candidates(fresh, query, 10))
    assert ann_problem(path, 16, 600) is None and _check(store)[0] == 0  # saved sound again
    assert sorted(p.name for p in store.folder.iterdir()) == [path.name, path.name + ".crc32", "newest.json"]


def _enospc_at_the_write_boundary(monkeypatch: pytest.MonkeyPatch) -> None:
    """The HDF5 writer fails as on a full disk (simulated: monkeypatched, not a real full filesystem)."""

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("tmrcli.library.storefile.write_h5_file", full)


def test_a_full_disk_is_one_line_and_the_library_stays_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _library(tmp_path, files=5)
    before = _held(store)
    with store.writer(CKPT, 8) as writer:
        writer.commit([fake_record("/m/new-1", 2)])
        _enospc_at_the_write_boundary(monkeypatch)
        with pytest.raises(DiskFullError) as raised:
            writer.commit([fake_record("/m/new-2", 2)])
    assert raised.value.reason.startswith("no space left on /")
    assert "while writing" in raised.value.reason and "1 files committed by this run are kept" in raised.value.reason
    monkeypatch.undo()
    assert _held(store) == {**before, "/m/new-1": 2}
    assert not [p for p in store.folder.iterdir() if "tmr-partial" in p.name]


@pytest.fixture
def small_filesystem(tmp_path: Path):
    """A real 1 MiB tmpfs (needs root and mount; skipped elsewhere, where the monkeypatched test covers it)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small filesystem needs root")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_real_full_filesystem_is_one_line_and_loses_nothing(small_filesystem: Path) -> None:
    store = _library(small_filesystem, files=10, entries=2)
    before = _held(store)
    with pytest.raises(DiskFullError, match=f"no space left on {small_filesystem} while writing"):
        with store.writer(CKPT, 8) as writer:
            for i in range(1000):  # until the disk is full
                writer.commit([fake_record(f"/m/big-{i}", 500, seed=i)])
    held = _held(store)
    assert before.items() <= held.items()
    assert not [p for p in small_filesystem.rglob("*") if "tmr-partial" in p.name]
    filler = small_filesystem / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)  # leave not one byte free, then ask for the lock
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    store.path.with_name("library.h5.lock").unlink()
    with pytest.raises(StoreError, match="lock file"):
        with store.writer(CKPT, 8):
            pass
    assert _held(store) == held


def test_a_deleted_newest_delta_is_damage_that_the_named_repair_fixes(
    data_dir: Path, tmp_path: Path, tiny_checkpoint: Path
) -> None:
    clips = bandai_clips(data_dir, 10)
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, chosen in ((first, clips[:9]), (second, clips[9:])):
        folder.mkdir()
        for clip in chosen:
            (folder / clip.name).symlink_to(clip)
    store = MotionStore(tmp_path / "library.h5")
    model = ("--store", str(store.path), "--checkpoint", str(tiny_checkpoint))
    for folder in (first, second):  # the second is small beside the base: kept as a delta
        assert CliRunner().invoke(app, ["index", str(folder), *model]).exit_code == 0
    (newest,) = store.delta_names()
    newest.unlink()
    lost = f"delta {newest.name}, its newest commit, is missing (the files it held are lost)"
    result = _tmr("info", "--store", str(store.path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert lost in result.stderr and "tmr index --rebuild" in result.stderr
    with pytest.raises(StoreError, match=re.escape(lost)):  # nor does a writer add to it
        with store.writer(CKPT, 32):
            pass
    check = _tmr("info", "--check", "--store", str(store.path))
    assert check.returncode == 1 and f"delta {newest.name}, its newest commit, is missing" in check.stderr
    assert "re-embed the 9 files that readable parts name" in check.stderr and "give their folders as PATH" in check.stderr
    assert _tmr("index", "--rebuild", str(first), str(second), *model).returncode == 0
    assert sorted(Path(p).name for p in _held(store)) == sorted(clip.name for clip in clips)
    assert _tmr("info", "--check", "--store", str(store.path)).returncode == 0


def test_a_library_without_the_newest_record_reads_as_before_and_gains_one(tmp_path: Path) -> None:
    store = _library(tmp_path, files=8)
    with store.writer(CKPT, 8) as writer:
        writer.commit([fake_record("/m/late", 2)])
    record = store.folder / "newest.json"
    record.unlink()  # as a library written before the record existed
    assert len(_held(store)) == 9 and _check(store)[0] == 0
    with store.writer(CKPT, 8) as writer:
        writer.commit([fake_record("/m/later", 2)])
    assert record.is_file()
    store.delta_names()[-1].unlink()
    with pytest.raises(StoreError, match="its newest commit, is missing"):
        _held(store)


def test_a_record_one_commit_behind_is_no_damage(tmp_path: Path) -> None:
    """What a writer killed between renaming its delta and replacing the record leaves."""
    store = _library(tmp_path, files=8)
    record = store.folder / "newest.json"
    with store.writer(CKPT, 8) as writer:
        writer.commit([fake_record("/m/a", 2)])
        behind = record.read_bytes()
        writer.commit([fake_record("/m/b", 2)])
    record.write_bytes(behind)
    assert len(_held(store)) == 10 and _check(store)[0] == 0


def test_the_check_names_a_delta_missing_from_the_middle(tmp_path: Path) -> None:
    store = _library(tmp_path, files=8)
    with store.writer(CKPT, 8) as writer:
        for name in "abc":
            writer.commit([fake_record(f"/m/{name}", 2)])
    middle = store.delta_names()[1]
    middle.unlink()
    code, message = _check(store)
    assert code == 1 and f"delta {middle.name}, which" in message and "give their folders as PATH" in message
