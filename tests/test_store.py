"""The library store: write -> read round trips, replacement and removal, compaction, checkpoints,
rebuilds, damage, and what a crash or a concurrent compaction can leave behind."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tmrcli.library.errors import NotALibraryError, StoreError
from tmrcli.library.storefile import FileTable, open_store_file
from tmrcli.library.store import MotionStore
from store_helpers import fake_record

CKPT_A, CKPT_B = "a" * 64, "b" * 64


def _held(store: MotionStore) -> dict[str, int]:
    """path -> number of live entries."""
    with store.snapshot() as view:
        counts: dict[str, int] = {}
        for store_file, mask, table in view.live_entries():
            for row in store_file.entry_column("file")[mask]:
                counts[table.paths[row]] = counts.get(table.paths[row], 0) + 1
        assert sorted(counts) == sorted(view.live_files().paths)
        return counts


def test_round_trip_of_records(tmp_path: Path) -> None:
    store = MotionStore(tmp_path / "library.h5")
    records = [fake_record(f"/m/ü {i}.bvh", entries=i + 1, seed=i) for i in range(3)]
    with store.writer(CKPT_A, 8) as writer:
        writer.commit(records)
    with store.snapshot() as view:
        assert view.checkpoint_sha256 == CKPT_A and view.dim == 8
        table = view.live_files()
        assert table.paths == [r.file.path for r in records]
        assert [table.record(i) for i in range(3)] == [r.file for r in records]
        (delta,) = view.deltas
        embeddings = delta.entry_column("embedding")
        np.testing.assert_array_equal(embeddings, np.vstack([r.embeddings for r in records]))
        np.testing.assert_array_equal(delta.entry_column("start"), np.concatenate([r.starts for r in records]))
        assert delta.entry_column("file").tolist() == [0, 1, 1, 2, 2, 2]


def test_later_commits_replace_and_remove(tmp_path: Path) -> None:
    store = MotionStore(tmp_path / "library.h5")
    with store.writer(CKPT_A, 8) as writer:
        writer.commit([fake_record("/m/a", 1), fake_record("/m/b", 2), fake_record("/m/c", 1)])
        writer.commit([fake_record(f"/m/other{i}", 1) for i in range(20)])
        writer.finish()  # compacts into the base
    with store.writer(CKPT_A, 8) as writer:
        writer.commit([fake_record("/m/b", 3, seed=5)], removed=["/m/c"])
        writer.commit([fake_record("/m/d", 1)])
        writer.finish()  # small update: stays in deltas
    with store.snapshot() as view:
        assert len(view.deltas) == 2
    others = {f"/m/other{i}": 1 for i in range(20)}
    assert _held(store) == {"/m/a": 1, "/m/b": 3, "/m/d": 1, **others}
    with store.writer(CKPT_A, 8) as writer:
        writer.compact()
    with store.snapshot() as view:
        assert view.deltas == [] and view.base.header.entries == 25
    assert _held(store) == {"/m/a": 1, "/m/b": 3, "/m/d": 1, **others}
    assert not list(store.folder.glob("0*.h5"))


def test_compaction_keeps_rewrites_proportional(tmp_path: Path) -> None:
    """Deltas are folded into the base when they hold as many entries as the base (doubling)."""
    store = MotionStore(tmp_path / "library.h5")
    rewrites = []

    def base_entries() -> int:
        with store.snapshot() as view:
            return view.base.header.entries if view.base is not None else 0

    with store.writer(CKPT_A, 8) as writer:
        for i in range(200):
            before = base_entries()
            writer.commit([fake_record(f"/m/{i}", 1, seed=i)])
            if base_entries() != before:
                rewrites.append(base_entries())
    assert len(rewrites) <= 6 and sum(rewrites) <= 2 * 200
    assert len(_held(store)) == 200


def test_a_model_updated_under_the_same_name_asks_for_a_rebuild(tmp_path: Path) -> None:
    """A library indexed with a shipped model that a later tmr replaced (same name, another file): passing
    that name again cannot help, so the message says the model changed and the hint is the rebuild."""
    store = MotionStore(tmp_path / "library.h5")
    with store.writer(CKPT_A, 8, checkpoint="every-source") as writer:
        writer.commit([fake_record("/m/a")])
        writer.finish()
    with pytest.raises(StoreError, match="cannot be mixed") as raised:
        with store.writer(CKPT_B, 8, checkpoint="every-source"):
            pass
    assert "an earlier every-source" in raised.value.reason
    assert "--rebuild" in raised.value.hint and "--checkpoint every-source" not in raised.value.hint


def test_another_checkpoint_is_refused_and_rebuild_replaces_at_the_end(tmp_path: Path) -> None:
    store = MotionStore(tmp_path / "library.h5")
    with store.writer(CKPT_A, 8) as writer:
        writer.commit([fake_record("/m/a"), fake_record("/m/b")])
        writer.finish()
    with pytest.raises(StoreError, match="cannot be mixed") as raised:
        with store.writer(CKPT_B, 8):
            pass
    assert "--rebuild" in raised.value.hint
    with store.writer(CKPT_B, 8, rebuild=True) as writer:
        assert sorted(writer.previous) == ["/m/a", "/m/b"] and writer.known == {}
        writer.commit([fake_record("/m/a", seed=9)])  # then killed: no finish()
    with store.snapshot() as view:  # the old library is untouched and says a rebuild is pending
        assert view.checkpoint_sha256 == CKPT_A and len(view.pending) == 1
    assert _held(store) == {"/m/a": 1, "/m/b": 1}
    with store.writer(CKPT_B, 8, rebuild=True) as writer:  # resumes
        assert list(writer.known) == ["/m/a"]
        writer.commit([fake_record("/m/b", seed=10)])
        writer.finish()
    with store.snapshot() as view:
        assert view.checkpoint_sha256 == CKPT_B and view.pending == [] and view.deltas == []
    assert _held(store) == {"/m/a": 1, "/m/b": 1}


def test_a_missing_library_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no library here yet") as raised:
        with MotionStore(tmp_path / "nothing.h5").snapshot():
            pass
    assert "tmr index" in raised.value.hint


def test_a_damaged_library_is_one_store_error_and_the_rebuild_repairs_it(tmp_path: Path) -> None:
    store = MotionStore(tmp_path / "library.h5")
    with store.writer(CKPT_A, 8) as writer:
        writer.commit([fake_record(f"/m/{i}", 3) for i in range(50)])
        writer.finish()
    data = store.path.read_bytes()
    store.path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreError) as raised:
        with store.snapshot() as view:
            view.live_files()
    assert raised.value.path == str(store.path) and "--rebuild" in raised.value.hint
    with pytest.raises(StoreError):
        with store.writer(CKPT_A, 8):
            pass
    with store.writer(CKPT_A, 8, rebuild=True) as writer:  # the remedy works on a damaged library
        assert writer.previous_error is not None
        writer.commit([fake_record("/m/new")])
        writer.finish()
    assert _held(store) == {"/m/new": 1}


@pytest.mark.parametrize("content", ["junk", "text", "foreign"])
def test_a_file_that_is_not_a_library_is_never_written_over(tmp_path: Path, content: str) -> None:
    path = tmp_path / "notes.h5"
    if content == "foreign":
        import h5py

        with h5py.File(path, "w") as h5:
            h5["x"] = 1
    else:
        path.write_bytes(os.urandom(4096) if content == "junk" else b"my notes\n")
    before = path.read_bytes()
    store = MotionStore(path)
    for rebuild in (False, True):
        with pytest.raises(NotALibraryError) as raised:
            with store.writer(CKPT_A, 8, rebuild=rebuild) as writer:
                writer.commit([fake_record("/m/new")])
                writer.finish()
        assert "not a tmr library" in raised.value.reason and "--rebuild" not in raised.value.hint
    assert path.read_bytes() == before


def test_leftovers_of_a_killed_writer_are_ignored_then_cleaned(tmp_path: Path) -> None:
    store = MotionStore(tmp_path / "library.h5")
    with store.writer(CKPT_A, 8) as writer:
        writer.commit([fake_record("/m/a")])
        writer.finish()
    half_written = [
        store.folder / ".00000009.h5.tmr-partial-x1x1x1x1.tmp.h5",
        tmp_path / ".library.h5.tmr-partial-x2x2x2x2.tmp.h5",
        store.folder / ".ann-1.hnsw.tmr-partial-x3x3x3x3.tmp.hnsw",
    ]
    for path in half_written:
        path.write_bytes(b"half")
    assert _held(store) == {"/m/a": 1}
    with store.writer(CKPT_A, 8):
        pass
    assert not any(path.exists() for path in half_written)


def test_segments_a_compaction_included_are_ignored_until_deleted(tmp_path: Path) -> None:
    """A compaction killed after renaming its base but before deleting deltas loses nothing and
    counts nothing twice."""
    store = MotionStore(tmp_path / "library.h5")
    with store.writer(CKPT_A, 8) as writer:
        writer.commit([fake_record("/m/a", 2)])
        writer.commit([fake_record("/m/b", 1)])
    kept = {p.name: p.read_bytes() for p in store.folder.glob("0*.h5")}
    with store.writer(CKPT_A, 8) as writer:
        writer.compact()
    for name, data in kept.items():  # as if the clean-up had not happened
        (store.folder / name).write_bytes(data)
    assert _held(store) == {"/m/a": 2, "/m/b": 1}
    with store.writer(CKPT_A, 8):
        pass
    assert not list(store.folder.glob("0*.h5"))


def test_an_open_snapshot_survives_a_compaction(tmp_path: Path) -> None:
    store = MotionStore(tmp_path / "library.h5")
    with store.writer(CKPT_A, 8) as writer:
        writer.commit([fake_record("/m/a")])
        writer.commit([fake_record("/m/b")])
    with store.snapshot() as view:
        with store.writer(CKPT_A, 8) as writer:
            writer.compact()
        assert sorted(view.live_files().paths) == ["/m/a", "/m/b"]  # files stay readable once open
    assert _held(store) == {"/m/a": 1, "/m/b": 1}


def test_files_are_readable_by_others(tmp_path: Path) -> None:
    store = MotionStore(tmp_path / "library.h5")
    with store.writer(CKPT_A, 8) as writer:
        writer.commit([fake_record("/m/a")])
    assert all(path.stat().st_mode & 0o044 for path in [store.path, *store.folder.glob("*.h5")])


def test_file_table_concatenates_and_takes() -> None:
    first = FileTable.of([fake_record("/x").file, fake_record("/y").file])
    both = FileTable.concatenate([first, first.take(np.array([1]))])
    assert both.paths == ["/x", "/y", "/y"] and both.size.tolist() == [100, 100, 100]
    with pytest.raises(FileNotFoundError):
        with open_store_file(Path("/nonexistent/library.h5")):
            pass


def test_a_compaction_between_listing_and_opening_makes_the_reader_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import h5py

    store = MotionStore(tmp_path / "library.h5")
    with store.writer(CKPT_A, 8) as writer:
        writer.commit([fake_record("/m/a")])
        writer.commit([fake_record("/m/b")])
    real_file, raced = h5py.File, []

    def compact_first(name, *args, **kwargs):  # the moment a reader opens a delta it has listed
        if not raced and Path(name).parent == store.folder and args[:1] == ("r",):
            raced.append(Path(name))
            with store.writer(CKPT_A, 8) as other:  # another process, as it were: deletes the delta
                other.compact()
        return real_file(name, *args, **kwargs)

    monkeypatch.setattr(h5py, "File", compact_first)
    assert _held(store) == {"/m/a": 1, "/m/b": 1}
    assert raced and not raced[0].exists()


def _damage(path: Path) -> None:
    """Overwrite the middle of a file with junk, in place (as a failing disk would)."""
    data = bytearray(path.read_bytes())
    data[len(data) // 4 :] = os.urandom(len(data) - len(data) // 4)
    path.write_bytes(bytes(data))


def test_a_rebuild_of_a_damaged_library_re_embeds_what_its_readable_parts_name(tmp_path: Path) -> None:
    store = MotionStore(tmp_path / "library.h5")
    with store.writer(CKPT_A, 8) as writer:
        writer.commit([fake_record("/m/a"), fake_record("/m/b")])
        writer.compact()
        writer.commit([fake_record("/m/c")])
        writer.commit([fake_record("/m/d")])
    _damage(store.delta_names()[0])
    with pytest.raises(StoreError) as raised:
        with store.snapshot():
            pass
    assert "damaged library" in raised.value.reason and "tmr index --rebuild" in raised.value.hint
    with store.writer(CKPT_A, 8, rebuild=True) as writer:
        assert set(writer.previous) == {"/m/a", "/m/b", "/m/d"} and writer.previous_error is not None
        writer.commit([fake_record(p) for p in writer.previous])
        writer.finish()  # the damaged delta of the old library is no part of the rebuild and goes
    assert _held(store) == {"/m/a": 1, "/m/b": 1, "/m/d": 1} and store.delta_names() == []


def test_a_deleted_base_beside_deltas_is_damage_not_a_new_library(tmp_path: Path) -> None:
    store = MotionStore(tmp_path / "library.h5")
    with store.writer(CKPT_A, 8) as writer:
        writer.commit([fake_record("/m/a")])
        writer.commit([fake_record("/m/b")])
    store.path.unlink()
    for attempt in (store.snapshot, lambda: store.writer(CKPT_A, 8)):
        with pytest.raises(StoreError, match="the base file is missing but 2 delta"):
            with attempt():
                pass
    assert not store.path.exists()
    with store.writer(CKPT_A, 8, rebuild=True) as writer:
        assert set(writer.previous) == {"/m/a", "/m/b"}


def test_clean_up_removes_exactly_what_tmr_wrote(tmp_path: Path) -> None:
    from formats.atomic import temporary_beside

    store = MotionStore(tmp_path / "library.h5")
    with store.writer(CKPT_A, 8) as writer:
        writer.commit([fake_record("/m/a")])
    users = [tmp_path / ".0budget.tmp", store.folder / ".ann-x.tmp", tmp_path / ".library.h5.notes.tmp"]
    for path in users:
        path.write_text("mine")
    targets = [store.path, store.delta_path(7), store.ann_path("0" * 32)]
    leftovers = []
    for target in targets:  # what a killed writer leaves: its temporaries, as atomic writes name them
        handle, name = temporary_beside(target, suffix=f".tmp{target.suffix}")
        os.close(handle)
        leftovers.append(Path(name))
    with store.writer(CKPT_A, 8):
        pass
    assert [p.exists() for p in leftovers] == [False] * 3
    assert all(p.read_text() == "mine" for p in users)


def test_a_library_reached_through_a_symlink_stays_one_library(tmp_path: Path) -> None:
    from tmrcli.library.errors import StoreLockedError

    real = tmp_path / "real" / "library.h5"
    real.parent.mkdir()
    link = tmp_path / "link.h5"
    link.symlink_to(real)
    through_link = MotionStore(link)
    with through_link.writer(CKPT_A, 8) as writer:
        with pytest.raises(StoreLockedError):  # the same lock, whichever name reaches it
            with MotionStore(real).writer(CKPT_A, 8):
                pass
        writer.commit([fake_record("/m/a")])
        writer.compact()
    assert link.is_symlink() and real.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.h5", "real"]
    assert sorted(p.name for p in real.parent.iterdir()) == ["library.h5", "library.h5.d", "library.h5.lock"]
    assert _held(MotionStore(real)) == {"/m/a": 1}


def test_a_deleted_delta_is_damage_naming_it_and_the_rebuild_keeps_the_rest(tmp_path: Path) -> None:
    store = MotionStore(tmp_path / "library.h5")
    with store.writer(CKPT_A, 8) as writer:
        writer.commit([fake_record("/m/a")])
        writer.commit([fake_record("/m/b")])
        writer.commit([fake_record("/m/c")])
    first, middle, last = store.delta_names()
    middle.unlink()
    with pytest.raises(StoreError, match=f"delta {middle.name}, which {last.name} follows, is missing"):
        with store.snapshot():
            pass
    with store.writer(CKPT_A, 8, rebuild=True) as writer:
        assert set(writer.previous) == {"/m/a", "/m/c"}
        writer.commit([fake_record(p) for p in writer.previous])
        writer.finish()
    assert _held(store) == {"/m/a": 1, "/m/c": 1}
    with store.writer(CKPT_A, 8) as writer:  # the chain goes on from the rebuilt base
        writer.commit([fake_record("/m/d")])
        writer.commit([fake_record("/m/e")])
    assert _held(store) == {"/m/a": 1, "/m/c": 1, "/m/d": 1, "/m/e": 1}
