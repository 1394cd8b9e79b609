"""Small work in numpy (`model/small_work.py`) against the torch `Retriever`: the same embeddings on real
sentences and real clips of several formats, for every shipped checkpoint; the same one-line errors;
big work handed to torch; and the commands that use it giving the torch path's results."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from formats.reading import LoadOptions, read_features
from model import CheckpointError, load_checkpoint
from model.checkpoint import SHIPPED
from model.inference import load_retriever
from model.network import sinusoidal_table
from model.numpy_layers import erf, gelu
from model.numpy_layers import sinusoidal_table as numpy_table
from model.small_work import MOTION_ROWS, SmallWorkRetriever, load_small_work_retriever
from tmrcli.app import app
from tmrcli.library.caption import caption_file
from tmrcli.library.embedding import embed_whole, window_spans
from tmrcli.library.search import find_motions_on_disk
from tmrcli.library.store import MotionStore
from conftest import clip_table, corpus_cases
from test_checkpoint import _damage_cases, _rewrite, _saved

TOLERANCE = 1e-5  # max abs difference of unit embeddings, numpy against torch
CAPTIONS = Path(__file__).resolve().parents[1] / "model" / "assets" / "captions.tsv"
LONG_TAKE = Path("bandai-namco/dataset-1/data/dataset-1_dance-short_normal_001.bvh")  # 63 s


def _sentences(data_dir: Path) -> list[str]:
    """Caption-table lines and KIT-ML annotations: short and long, cased and punctuated."""
    with CAPTIONS.open(newline="") as table:
        captions = [row["text"] for row in csv.DictReader(table, delimiter="\t")][::37]
    with (data_dir / "kit-ml" / "kitml_cmu_trials.tsv").open(newline="") as table:
        kit = [row["texts"] for row in csv.DictReader(table, delimiter="\t") if row["texts"]][::40]
    return captions[:12] + kit[:12] + ["x", "Someone waves with the LEFT hand, then bows!"]


def _clips() -> list[Path]:
    """Training clips of every format and source of the shared corpus: the first and the 30th of each."""
    by_source: dict[tuple[str, str], list[Path]] = {}
    for row in clip_table():
        if row["split"] == "train":
            by_source.setdefault((row["format"], row["source"]), []).append(Path(row["path"]))
    return [path for paths in by_source.values() for path in paths[:30:29]]


@pytest.fixture(scope="module", params=sorted(SHIPPED.names()))
def pair(request: pytest.FixtureRequest) -> tuple[SmallWorkRetriever, object]:
    """The numpy and the torch retriever of one shipped checkpoint."""
    return load_small_work_retriever(request.param), load_retriever(request.param, device="cpu")


def test_erf_and_gelu_match_the_exact_functions() -> None:
    xs = np.linspace(-8.0, 8.0, 400_001)
    assert np.abs(erf(xs) - np.array([math.erf(x) for x in xs])).max() < 1e-7
    x32 = np.linspace(-8.0, 8.0, 100_001, dtype=np.float32)
    exact = np.array([x * (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0 for x in x32.astype(np.float64)])
    assert gelu(x32).dtype == np.float32 and np.abs(gelu(x32) - exact).max() < 1e-6
    # torch's float32 kernel is itself up to 1.1e-6 from the exact GELU on AVX-512 CPUs (one to two
    # float32 steps near x = 8), so against it the two errors add.
    want = torch.nn.functional.gelu(torch.from_numpy(x32)).numpy()
    assert np.abs(gelu(x32) - want).max() < 2e-6


def test_positions_match_torchs_table() -> None:
    for dim in (32, 256, 384):
        assert np.abs(numpy_table(300, dim) - sinusoidal_table(300, dim).numpy()).max() < 2e-5


def test_sentences_embed_as_with_torch(pair: tuple[SmallWorkRetriever, object], data_dir: Path) -> None:
    small, reference = pair
    texts = _sentences(data_dir)
    assert len(texts) == 26  # 12 of each, and two edge cases
    got = np.concatenate([small.encode_texts([text]) for text in texts])
    assert "torch" not in small.__dict__  # every one of them ran in numpy
    want = reference.encode_texts(texts)
    assert got.dtype == np.float32 and np.abs(got - want).max() < TOLERANCE
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("clip", corpus_cases(_clips()), ids=str)
def test_clips_embed_as_with_torch(pair: tuple[SmallWorkRetriever, object], clip: Path, data_dir: Path) -> None:
    small, reference = pair
    _, feats, _ = read_features(data_dir / clip, LoadOptions())
    got, want = embed_whole(small, feats), embed_whole(reference, feats)
    assert "torch" not in small.__dict__
    assert np.abs(got - want).max() < TOLERANCE


def test_windows_of_a_long_take_embed_as_with_torch(pair: tuple[SmallWorkRetriever, object], data_dir: Path) -> None:
    small, reference = pair
    _, feats, _ = read_features(data_dir / LONG_TAKE, LoadOptions())
    spans = window_spans(len(feats), 100, 50)
    spans = np.concatenate([spans, [[0, 40], [7, 47], [100, 260]]])  # sizes mixed, as localize's are
    got = small.encode_windows(feats, spans, batch_rows=1000)
    assert "torch" not in small.__dict__ and len(spans) > 20
    assert np.abs(got - reference.encode_windows(feats, spans)).max() < TOLERANCE


def test_big_work_goes_to_torch(data_dir: Path) -> None:
    small = load_small_work_retriever("default")
    _, feats, _ = read_features(data_dir / LONG_TAKE, LoadOptions())
    many = [feats] * (MOTION_ROWS // len(feats) + 1)
    torch_embeddings = small.encode_motions(many)
    assert "torch" in small.__dict__  # loaded for it
    assert np.abs(torch_embeddings - small.encode_motions([feats])).max() < TOLERANCE
    texts = _sentences(data_dir) * 20  # far over the small-work token count
    assert np.abs(small.encode_texts(texts) - small.torch.encode_texts(texts)).max() == 0.0


def test_bad_motions_are_refused_as_by_torch() -> None:
    small = load_small_work_retriever("default")
    with pytest.raises(ValueError, match=r"expected \(T, 263\) features"):
        small.encode_motions([np.zeros((10, 12), np.float32)])
    with pytest.raises(ValueError, match="NaN or infinity"):
        small.encode_motions([np.full((10, 263), np.nan, np.float32)])
    with pytest.raises(ValueError, match="within the motion"):
        small.encode_windows(np.zeros((10, 263), np.float32), np.array([[5, 20]]))


def test_checkpoint_errors_are_the_torch_paths(tmp_path: Path) -> None:
    """Damaged, foreign, missing and tampered files: the same one-line CheckpointError either way."""
    path, sha = _saved(tmp_path)
    cases = [target for target, _ in _damage_cases(path, tmp_path).values()]
    cases += [tmp_path / "absent.tmr", tmp_path, "no-such-model"]
    for target in cases:
        with pytest.raises(CheckpointError) as numpy_error:
            load_small_work_retriever(target)
        with pytest.raises(CheckpointError) as torch_error:
            load_checkpoint(target)
        assert str(numpy_error.value) == str(torch_error.value) and "\n" not in str(numpy_error.value)
    changes = {
        "format_version": lambda m: {**m, "format_version": "99"},
        "config": lambda m: {**m, "config": "{not json"},
        "num_layers": lambda m: {**m, "config": json.dumps({**json.loads(m["config"]), "num_layers": 3})},
    }
    for name, change in changes.items():
        target = tmp_path / f"changed_{name}.tmr"
        target.write_bytes(path.read_bytes())
        _rewrite(target, change)
        with pytest.raises(CheckpointError) as numpy_error:
            load_small_work_retriever(target)
        with pytest.raises(CheckpointError) as torch_error:
            load_checkpoint(target)
        # The same reason; a config that does not fit the weights may name other first keys.
        assert str(numpy_error.value).split(":")[:2] == str(torch_error.value).split(":")[:2], name
    from model.checkpoint import CheckpointRegistry, RegisteredCheckpoint

    tampered = CheckpointRegistry({"tampered": RegisteredCheckpoint(path, "0" * 64)})
    with pytest.raises(CheckpointError, match="SHA256 mismatch"):
        load_small_work_retriever("tampered", registry=tampered)
    assert load_small_work_retriever(path).sha256 == sha


def _library(data_dir: Path, folder: Path) -> Path:
    clips = folder / "clips"
    clips.mkdir()
    for line in (data_dir / "splits" / "val.txt").read_text().split()[:8]:
        (clips / Path(line).name).symlink_to(data_dir / line)
    store = folder / "library.h5"
    result = CliRunner().invoke(app, ["index", str(clips), "--store", str(store)])
    assert result.exit_code == 0, result.output
    return store


def test_search_and_caption_give_the_torch_paths_results(data_dir: Path, tmp_path: Path) -> None:
    store = _library(data_dir, tmp_path)
    runner, reference = CliRunner(), load_retriever("default", device="cpu")
    example = sorted((tmp_path / "clips").iterdir())[0]
    for query in ({"text": "a person raises both hands"}, {"like": example}):
        argument = [query["text"]] if "text" in query else ["--like", str(example)]
        result = runner.invoke(app, ["search", *argument, "--store", str(store), "--json"])
        assert result.exit_code == 0, result.output
        got = [(hit["path"], hit["score"], hit["confidence"]) for hit in json.loads(result.stdout)]
        hits, _ = find_motions_on_disk(MotionStore(store), reference, 10, **query)
        assert got == [(hit.path, hit.score, hit.confidence) for hit in hits] and len(got) >= 5
    result = runner.invoke(app, ["caption", str(example), "--json", "-k", "8"])
    assert result.exit_code == 0, result.output
    got = [(hit["text"], hit["score"]) for hit in json.loads(result.stdout)]
    assert got == [(hit.text, hit.score) for hit in caption_file(example, reference, 8)]


@pytest.mark.parametrize("model_type", ["distilbert", "bert"])
def test_bert_family_backbones_run_in_numpy_as_in_torch(model_type: str, tmp_path: Path) -> None:
    """A DistilBERT (the official TMR models' backbone family) and a BERT saved by transformers: the
    numpy backbone gives the plain-torch one's hidden states on real captions."""
    from model.bert import load_bert
    from model.bert_files import bert_folder
    from model.small_work import _numpy_bert
    from model_helpers import write_backbone

    folder = write_backbone(tmp_path / model_type, model_type, width=64)
    with CAPTIONS.open(newline="") as table:
        texts = [row["text"] for row in csv.DictReader(table, delimiter="\t")][::50][:10]
    found = bert_folder(folder)
    assert found is not None and found.naming.model_prefix.startswith(model_type)
    bert, tokenizer = _numpy_bert(found)
    encoder, _ = load_bert(folder)
    for ids in tokenizer.encode(texts, 64):
        with torch.inference_mode():
            want = encoder(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long))[0].numpy()
        assert np.abs(bert(ids) - want).max() < 1e-5


@pytest.mark.parametrize("checkpoint", ["default", "every-source"])
def test_queries_and_their_likeness_are_torchs(checkpoint: str) -> None:
    """What search ranks with: the embedding and how much the text reads like a motion description."""
    from model import load_retriever
    from model.small_work import load_small_work_retriever

    texts = ["a person sits down", "bleep blop", "purple monkey dishwasher", "holding a crate while moving", ""]
    small, torch_side = load_small_work_retriever(checkpoint), load_retriever(checkpoint, device="cpu")
    (embeddings, likeness), (expected, expected_likeness) = small.encode_queries(texts), torch_side.encode_queries(texts)
    assert np.abs(embeddings - expected).max() < 1e-5
    np.testing.assert_allclose(likeness, expected_likeness, atol=0.02)  # the shipped bank's sentences are float16
    assert "torch" not in small.__dict__  # answered in numpy
