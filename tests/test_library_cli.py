"""`tmr index`, `search`, `caption`, `localize` and `info` through the real Typer app, on real clips,
with a tiny seeded checkpoint (plumbing, not retrieval quality: see test_quality.py)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tmrcli.app import app
from store_helpers import bandai_clips, copy_clips, other_checkpoint, tiny_checkpoint  # noqa: F401 (fixtures)

BAD = Path(__file__).parent / "data" / "bad"
LONG_TAKE = "bandai-namco/dataset-1/data/dataset-1_dance-short_normal_001.bvh"  # 63 s


def _run(*args: object, checkpoint: Path | None = None):
    extra = ["--checkpoint", str(checkpoint)] if checkpoint is not None else []
    result = CliRunner().invoke(app, [*map(str, args), *extra])
    assert "Traceback" not in result.output
    return result


def _errors(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


@pytest.fixture(scope="module")
def corpus(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 short dataset-2 clips and one 63 s take, linked into a user's folder."""
    root = tmp_path_factory.mktemp("corpus")
    for source in [*bandai_clips(data_dir, 12), data_dir / LONG_TAKE]:
        (root / source.name).symlink_to(source)
    return root


@pytest.fixture(scope="module")
def indexed(corpus: Path, tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    store = tmp_path_factory.mktemp("store") / "library.h5"
    result = _run("index", corpus, "--store", store, "--json", checkpoint=tiny_checkpoint)
    assert result.exit_code == 0, result.output
    return store, json.loads(result.stdout)


def test_index_reports_what_it_did(indexed: tuple[Path, dict], tiny_checkpoint: Path) -> None:
    store, report = indexed
    assert (report["added"], report["updated"], report["unchanged"], report["removed"], report["failed"]) == (
        13,
        0,
        0,
        0,
        [],
    )
    assert report["entries"] > 13  # the long take is also windowed
    from model import file_sha256

    assert report["checkpoint_sha256"] == file_sha256(tiny_checkpoint) and report["store"] == str(store)


def test_info_says_what_the_library_holds(indexed: tuple[Path, dict], other_checkpoint: Path) -> None:
    store, report = indexed
    result = _run("info", "--store", store, "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["files"] == 13 and info["entries"] == report["entries"] and info["windows"] == report["entries"] - 13
    assert info["checkpoint_sha256"] == report["checkpoint_sha256"] and info["dim"] == 32
    assert info["ann_index"] == "ready" and info["segments"] == 0 and info["bytes_on_disk"] > 0
    assert info["matches_checkpoint"] is None
    human = _run("info", "--store", store)
    assert "files" in human.stdout and "13" in human.stdout
    asked = json.loads(_run("info", "--store", store, "--json", checkpoint=other_checkpoint).stdout)
    assert asked["matches_checkpoint"] is False


@pytest.mark.parametrize("text", ["", "   ", "\t"])
def test_an_empty_query_is_a_usage_error(indexed: tuple[Path, dict], tiny_checkpoint: Path, text: str) -> None:
    store, _ = indexed
    result = _run("search", text, "--store", store, checkpoint=tiny_checkpoint)
    assert result.exit_code == 2 and "empty" in result.output
    assert result.stdout == ""


def test_min_confidence_hides_unclear_matches(indexed: tuple[Path, dict], tiny_checkpoint: Path) -> None:
    store, _ = indexed
    every = json.loads(_run("search", "a person dances", "-k", "50", "--store", store, "--json", checkpoint=tiny_checkpoint).stdout)
    floor = sorted(hit["confidence"] for hit in every)[len(every) // 2]
    kept = json.loads(
        _run("search", "a person dances", "-k", "50", "--min-confidence", floor, "--store", store, "--json",
             checkpoint=tiny_checkpoint).stdout
    )  # fmt: skip
    assert kept and all(hit["confidence"] >= floor for hit in kept)
    assert {h["path"] for h in kept} == {h["path"] for h in every if h["confidence"] >= floor}


def test_search_json_is_ranked_hits_one_per_file(
    indexed: tuple[Path, dict], corpus: Path, tiny_checkpoint: Path
) -> None:
    store, _ = indexed
    result = _run("search", "a person dances", "-k", "5", "--store", store, "--json", checkpoint=tiny_checkpoint)
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert [set(hit) for hit in hits] == [{"rank", "score", "confidence", "path", "start", "end"}] * 5
    assert all(0 <= hit["confidence"] <= 1 for hit in hits)
    assert [hit["rank"] for hit in hits] == [1, 2, 3, 4, 5]
    scores = [hit["score"] for hit in hits]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    assert len({hit["path"] for hit in hits}) == 5 and all(Path(hit["path"]).parent == corpus for hit in hits)
    assert all(0 <= hit["start"] < hit["end"] <= 63.4 for hit in hits)
    every = json.loads(
        _run("search", "a person dances", "-k", "50", "--store", store, "--json", checkpoint=tiny_checkpoint).stdout
    )
    assert len(every) == 13  # one hit per file, however many windows it has
    high = json.loads(
        _run(
            "search",
            "a person dances",
            "--min-score",
            str(scores[2]),
            "--store",
            store,
            "--json",
            checkpoint=tiny_checkpoint,
        ).stdout
    )
    assert [hit["path"] for hit in high] == [hit["path"] for hit in hits[:3]]


def test_search_table_shows_rank_score_confidence_file_segment_duration(
    indexed: tuple[Path, dict], tiny_checkpoint: Path
) -> None:
    store, _ = indexed
    result = _run("search", "someone walks", "-k", "3", "--store", store, checkpoint=tiny_checkpoint)
    assert result.exit_code == 0
    header = result.stdout.splitlines()[0].split()
    assert header == ["rank", "score", "confidence", "file", "segment", "duration"] and " s" in result.stdout


def test_search_like_an_example_leaves_the_example_out(
    indexed: tuple[Path, dict], corpus: Path, tiny_checkpoint: Path
) -> None:
    store, _ = indexed
    example = sorted(corpus.iterdir())[0]
    result = _run("search", "--like", example, "-k", "20", "--store", store, "--json", checkpoint=tiny_checkpoint)
    assert result.exit_code == 0, result.output
    paths = [hit["path"] for hit in json.loads(result.stdout)]
    assert len(paths) == 12 and str(example) not in paths


def test_caption_ranks_the_users_sentences(tmp_path: Path, corpus: Path, tiny_checkpoint: Path) -> None:
    sentences = ["a person walks forward", "", "someone waves both hands", "a person walks forward", "a man kicks"]
    bank = tmp_path / "bank.txt"
    bank.write_text("# my actions\n" + "\n".join(sentences) + "\n")
    clip = sorted(corpus.iterdir())[0]
    result = _run("caption", clip, "--texts", bank, "-k", "2", "--json", checkpoint=tiny_checkpoint)
    assert result.exit_code == 0, result.output
    captions = json.loads(result.stdout)
    assert [c["rank"] for c in captions] == [1, 2] and {c["text"] for c in captions} <= set(sentences[2:])
    every = json.loads(_run("caption", clip, "--texts", bank, "-k", "10", "--json", checkpoint=tiny_checkpoint).stdout)
    assert sorted(c["text"] for c in every) == sorted(set(sentences) - {""})  # no comment, no duplicate
    assert captions[0]["score"] >= captions[1]["score"]
    default = _run("caption", clip, "--json", checkpoint=tiny_checkpoint)  # the default model's bank
    assert default.exit_code == 0 and len(json.loads(default.stdout)) == 5
    from model.bank import default_text_bank

    assert {c["text"] for c in json.loads(default.stdout)} <= set(default_text_bank())


def test_localize_gives_segments_curve_and_plot(data_dir: Path, tmp_path: Path, tiny_checkpoint: Path) -> None:
    take, png = data_dir / LONG_TAKE, tmp_path / "curve.png"
    result = _run("localize", take, "a person kicks", "--top", "3", "--plot", png, "--json", checkpoint=tiny_checkpoint)
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert set(found) == {"segments", "curve", "duration", "flat", "confidence"} and len(found["segments"]) == 3
    assert 63.0 <= found["duration"] <= 63.4
    assert all(set(s) == {"start", "end", "score"} and 0 <= s["start"] < s["end"] <= 63.4 for s in found["segments"])
    assert [s["score"] for s in found["segments"]] == sorted((s["score"] for s in found["segments"]), reverse=True)
    times = [p["time"] for p in found["curve"]]
    assert times == sorted(times) and times[-1] <= 63.4 and len(times) > 100
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote similarity plot: {png}" in result.stderr.splitlines()
    human = _run("localize", take, "a person kicks", checkpoint=tiny_checkpoint)
    assert "█" in human.stdout and "63.4 s" in human.stdout
    # A segments table when a stretch stands out, else the note instead (the untrained tiny model's
    # confidence decides which).
    stands_out = not found["flat"] and found["confidence"] >= 0.3
    if stands_out:
        assert human.stdout.splitlines()[0].split()[:2] == ["rank", "score"]
    else:
        assert "no segment stands out for 'a person kicks'" in human.stderr and "rank" not in human.stdout


def test_reindex_after_touching_editing_and_deleting(data_dir: Path, tmp_path: Path, tiny_checkpoint: Path) -> None:
    files = copy_clips(bandai_clips(data_dir, 6), tmp_path / "mocap")
    folder = tmp_path / "mocap"
    assert _run("index", folder, checkpoint=tiny_checkpoint).exit_code == 0  # the store from $TMR_STORE

    def index(*extra: str) -> dict:
        result = _run("index", folder, *extra, "--json", checkpoint=tiny_checkpoint)
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        return {key: report[key] for key in ("added", "updated", "unchanged", "removed", "missing")}

    os.utime(files[0], ns=(10**18, 10**18))
    assert index() == {"added": 0, "updated": 0, "unchanged": 6, "removed": 0, "missing": 0}
    shutil.copyfile(files[5], files[1])  # same name, other motion
    assert index() == {"added": 0, "updated": 1, "unchanged": 5, "removed": 0, "missing": 0}
    files[2].unlink()
    assert index() == {"added": 0, "updated": 0, "unchanged": 5, "removed": 0, "missing": 1}
    assert index("--prune") == {"added": 0, "updated": 0, "unchanged": 5, "removed": 1, "missing": 0}
    hits = json.loads(_run("search", "a person walks", "-k", "10", "--json", checkpoint=tiny_checkpoint).stdout)
    assert sorted(h["path"] for h in hits) == sorted(str(f) for f in files if f != files[2])
    refreshed = _run("index", "--json", checkpoint=tiny_checkpoint)  # no PATH: the library's own files
    assert refreshed.exit_code == 0 and json.loads(refreshed.stdout)["unchanged"] == 5


def test_every_bad_file_is_reported_and_skipped(data_dir: Path, tmp_path: Path, tiny_checkpoint: Path) -> None:
    good = copy_clips(bandai_clips(data_dir, 3), tmp_path / "good")
    result = _run("index", tmp_path / "good", BAD, "--json", checkpoint=tiny_checkpoint)
    assert result.exit_code == 1
    bad = sorted(str(p) for p in BAD.iterdir())
    assert sorted(line.split(": ")[1] for line in _errors(result)) == bad
    report = json.loads(result.stdout)
    assert report["added"] == 3 and sorted(f["input"] for f in report["failed"]) == bad
    assert all(f["reason"] for f in report["failed"])
    info = json.loads(_run("info", "--json").stdout)
    assert info["files"] == len(good)


def test_embeddings_of_another_checkpoint_are_never_mixed(
    data_dir: Path, tmp_path: Path, tiny_checkpoint: Path, other_checkpoint: Path
) -> None:
    copy_clips(bandai_clips(data_dir, 3), tmp_path / "mocap")
    assert _run("index", tmp_path / "mocap", checkpoint=tiny_checkpoint).exit_code == 0
    for command in (["search", "walk"], ["index", tmp_path / "mocap"]):
        result = _run(*command, checkpoint=other_checkpoint)
        assert result.exit_code == 1 and len(_errors(result)) == 1
        assert "not by the one in use" in result.stderr
        assert "`tmr index --rebuild` with this --checkpoint re-embeds every file" in " ".join(result.stderr.split())
    rebuilt = _run("index", "--rebuild", "--json", checkpoint=other_checkpoint)  # as the hint says: no PATH needed
    assert rebuilt.exit_code == 0, rebuilt.output
    assert json.loads(rebuilt.stdout)["added"] == 3
    assert _run("search", "walk", checkpoint=other_checkpoint).exit_code == 0
    assert _run("search", "walk", checkpoint=tiny_checkpoint).exit_code == 1


def test_the_library_remembers_its_checkpoint(
    data_dir: Path, tmp_path: Path, tiny_checkpoint: Path, other_checkpoint: Path
) -> None:
    """After `index --rebuild --checkpoint X`, search, caption, localize, info and index use X untold;
    an explicit other --checkpoint still errors, naming the flag that works."""
    clips = copy_clips(bandai_clips(data_dir, 3), tmp_path / "mocap")
    assert _run("index", tmp_path / "mocap", checkpoint=tiny_checkpoint).exit_code == 0
    rebuilt = _run("index", "--rebuild", checkpoint=other_checkpoint)
    assert rebuilt.exit_code == 0, rebuilt.output
    searched = _run("search", "walk", "--json")  # no --checkpoint: the library's (other.tmr), not `default`
    assert searched.exit_code == 0, searched.output
    assert len(json.loads(searched.stdout)) == 3
    for command in (["caption", clips[0], "-k", "1"], ["localize", clips[0], "a person walks"], ["index", tmp_path / "mocap"]):
        assert _run(*command).exit_code == 0, command
    info = json.loads(_run("info", "--json").stdout)
    assert info["checkpoint"] == str(other_checkpoint.absolute())
    human = _run("info").stdout
    assert f"{other_checkpoint} (sha256 {info['checkpoint_sha256']})" in human
    wrong = _run("search", "walk", checkpoint=tiny_checkpoint)
    assert wrong.exit_code == 1 and len(_errors(wrong)) == 1
    assert f"made by checkpoint other.tmr (sha256 {info['checkpoint_sha256'][:12]}...)" in wrong.stderr
    assert f"pass --checkpoint {other_checkpoint.absolute()}" in " ".join(wrong.stderr.split())
    moved = other_checkpoint.with_name("moved.tmr")
    shutil.copy(other_checkpoint, moved)
    other_checkpoint.rename(other_checkpoint.with_suffix(".gone"))
    try:
        gone = _run("search", "walk")
        assert gone.exit_code == 1 and len(_errors(gone)) == 1
        assert f"indexed with checkpoint {other_checkpoint.absolute()}, which is no longer there" in gone.stderr
        assert _run("search", "walk", checkpoint=moved).exit_code == 0  # the same model at its new path
    finally:
        other_checkpoint.with_suffix(".gone").rename(other_checkpoint)


@pytest.mark.parametrize("damage", ["truncated", "junk"])
def test_a_damaged_library_is_one_line_and_a_hint(
    data_dir: Path, tmp_path: Path, tiny_checkpoint: Path, damage: str
) -> None:
    """A damaged library is repaired by the rebuild its hint names; a file that is not one (random
    bytes: nothing says it was ever a library) is never written over, --rebuild included."""
    store = tmp_path / "library.h5"
    copy_clips(bandai_clips(data_dir, 3), tmp_path / "mocap")
    assert _run("index", tmp_path / "mocap", "--store", store, checkpoint=tiny_checkpoint).exit_code == 0
    data = store.read_bytes()
    store.write_bytes(data[: len(data) // 3] if damage == "truncated" else os.urandom(4096))
    damaged = store.read_bytes()
    hint = "`tmr index --rebuild` re-embeds" if damage == "truncated" else "pass another --store: tmr never writes over"
    for command in (["search", "walk"], ["info"], ["index", tmp_path / "mocap"]):
        result = _run(*command, "--store", store, checkpoint=tiny_checkpoint if command[0] != "info" else None)
        assert result.exit_code == 1
        assert _errors(result) == [result.stderr.splitlines()[0]] and _errors(result)[0].startswith(f"error: {store}: ")
        assert "\nhint: " in result.stderr and hint in " ".join(result.stderr.split()) and result.stdout == ""
    fixed = _run("index", tmp_path / "mocap", "--rebuild", "--store", store, checkpoint=tiny_checkpoint)
    if damage == "junk":
        assert fixed.exit_code == 1 and "not a tmr library" in fixed.stderr and store.read_bytes() == damaged
        return
    assert fixed.exit_code == 0 and "the previous library could not be read" in fixed.stderr
    assert _run("search", "walk", "--store", store, checkpoint=tiny_checkpoint).exit_code == 0


def test_no_library_yet_and_usage_errors(tmp_path: Path, tiny_checkpoint: Path) -> None:
    result = _run("search", "walk", checkpoint=tiny_checkpoint)
    assert result.exit_code == 1 and "no library here yet" in result.stderr and "tmr index" in result.stderr
    assert _run("search", checkpoint=tiny_checkpoint).exit_code == 2  # neither TEXT nor --like
    text = tmp_path / "notes.txt"
    text.write_text("x")
    assert _run("index", text, checkpoint=tiny_checkpoint).exit_code == 2
    assert _run("index", checkpoint=tiny_checkpoint).exit_code == 2  # nothing to index yet
    assert _run("search", "walk", "-k", "0", checkpoint=tiny_checkpoint).exit_code == 2


def test_store_option_takes_a_folder(data_dir: Path, tmp_path: Path, tiny_checkpoint: Path) -> None:
    copy_clips(bandai_clips(data_dir, 2), tmp_path / "mocap")
    (tmp_path / "libs").mkdir()
    assert _run("index", tmp_path / "mocap", "--store", tmp_path / "libs", checkpoint=tiny_checkpoint).exit_code == 0
    assert (tmp_path / "libs" / "library.h5").is_file()
    assert json.loads(_run("info", "--store", tmp_path / "libs", "--json").stdout)["files"] == 2


def test_piped_search_keeps_one_row_per_line_with_full_paths(indexed: tuple[Path, dict], corpus: Path, tiny_checkpoint: Path) -> None:
    store, _ = indexed
    result = _run("search", "someone walks", "-k", "5", "--store", store, checkpoint=tiny_checkpoint)
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()[1:]
    indexed_paths = {str(path) for path in corpus.iterdir()}
    assert len(rows) == 5 and all(len(row) > 80 for row in rows)
    assert all(row.split()[3] in indexed_paths for row in rows)  # rank, score, confidence, file
    grepped = [row for row in result.stdout.splitlines() if ".bvh" in row]
    assert grepped == rows


def test_search_never_offers_a_deleted_file_and_says_how_many_were_gone(
    data_dir: Path, tmp_path: Path, tiny_checkpoint: Path
) -> None:
    files = copy_clips(bandai_clips(data_dir, 4), tmp_path / "mocap")
    assert _run("index", tmp_path / "mocap", checkpoint=tiny_checkpoint).exit_code == 0
    before = json.loads(_run("search", "a person walks", "-k", "3", "--json", checkpoint=tiny_checkpoint).stdout)
    Path(before[0]["path"]).unlink()
    result = _run("search", "a person walks", "-k", "3", "--json", checkpoint=tiny_checkpoint)
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert [h["path"] for h in hits] == [h["path"] for h in before[1:]] + [
        next(str(f) for f in files if str(f) not in {h["path"] for h in before})
    ]
    assert [h["rank"] for h in hits] == [1, 2, 3]
    assert "left out 1 indexed file gone from disk; tmr index --prune drops them" in result.stderr.splitlines()
    indexed = _run("index", tmp_path / "mocap", checkpoint=tiny_checkpoint)
    assert "1 indexed file is gone from disk; --prune drops them" in indexed.stderr.splitlines()


def test_humanml3d_joints_and_features_of_one_motion_are_indexed_once(
    data_dir: Path, tmp_path: Path, tiny_checkpoint: Path
) -> None:
    """HumanML3D keeps each motion as new_joints/ and new_joint_vecs/: the features are indexed, the
    joints twin is skipped and said so, and no motion finds its own copy."""
    root = data_dir / "humanml3d-ref"
    folders = (root / "HumanML3D", root / "HumanML3D_ICT_000000")
    joints = root / "HumanML3D" / "new_joints" / "012314.npy"
    alone = _run("index", joints, "--json", checkpoint=tiny_checkpoint)
    assert json.loads(alone.stdout)["added"] == 1  # a joints file given by name is read
    result = _run("index", *folders, "--json", checkpoint=tiny_checkpoint)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["added"], report["removed"]) == (2, 1)  # the joints copy held from before is dropped
    twins = [item["input"] for item in report["skipped"] if item["kind"] == "new_joints/ copy of a new_joint_vecs/ motion"]
    assert sorted(twins) == [str(root / "HumanML3D" / "new_joints" / "012314.npy"), str(root / "HumanML3D_ICT_000000" / "new_joints" / "000000.npy")]
    human = _run("index", *folders, checkpoint=tiny_checkpoint)
    assert "new_joints/ copy of a new_joint_vecs/ motion 2" in human.stderr
    like = root / "HumanML3D" / "new_joint_vecs" / "012314.npy"
    hits = json.loads(_run("search", "--like", like, "-k", "10", "--json", checkpoint=tiny_checkpoint).stdout)
    assert hits and not any("/new_joints/" in hit["path"] for hit in hits)
    assert json.loads(_run("info", "--json").stdout)["files"] == 2


def test_caption_keeps_its_text_bank_cache_beside_the_library_given(
    indexed: tuple[Path, dict], corpus: Path, tmp_path: Path, tiny_checkpoint: Path
) -> None:
    """With --store, caption's (and search's) text-bank cache goes to the library's folder, not to
    $XDG_CACHE_HOME/tmr; without one, to $XDG_CACHE_HOME/tmr."""
    store, _ = indexed
    user_cache = Path(os.environ["XDG_CACHE_HOME"]) / "tmr"
    beside = store.with_name(store.name + ".d") / "cache"

    def cached() -> tuple[set[Path], set[Path]]:
        return set(beside.glob("bank-*.npy")), set(user_cache.glob("bank-*.npy"))

    bank = tmp_path / "bank.txt"
    bank.write_text("# comment\na person jumps over a box\na person sits down slowly\n")
    clip = sorted(corpus.iterdir())[0]
    before = cached()
    given = _run("caption", clip, "--texts", bank, "--store", store, "--json", checkpoint=tiny_checkpoint)
    assert given.exit_code == 0, given.output
    after = cached()
    assert len(after[0] - before[0]) == 1 and after[1] == before[1] == set()
    assert _run("search", "a person jumps", "--store", store, checkpoint=tiny_checkpoint).exit_code == 0
    assert cached()[1] == set()
    assert json.loads(_run("info", "--store", store, "--json").stdout)["files"] == 13  # the library is unharmed
    untold = CliRunner().invoke(
        app, ["caption", str(clip), "--texts", str(bank), "--checkpoint", str(tiny_checkpoint)], env={"TMR_STORE": None}
    )
    assert untold.exit_code == 0, untold.output
    assert len(cached()[1]) == 1 and cached()[0] >= after[0]
