"""Inference skips padding (`model/packing.py`) without changing embeddings: the packed path against the
padded one, and batched texts and clips against each alone, on real clips and real sentences with
the shipped default model."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from formats.reading import LoadOptions, read_features
from model import Padded, TextBackbone, load_checkpoint, load_retriever
from model.packing import Packing

SENTENCES = Path(__file__).parent / "data" / "val_queries.tsv"
LONG_TAKE = Path("bandai-namco/dataset-1/data/dataset-1_dance-short_normal_001.bvh")  # 63 s


@pytest.fixture(scope="module")
def clips(data_dir: Path) -> list[np.ndarray]:
    """Features of eight training clips of different sources and lengths."""
    with (data_dir / "clips.tsv").open(newline="") as table:
        rows = [row for row in csv.DictReader(table, delimiter="\t") if row["split"] == "train"]
    picked = rows[::40][:4] + [row for row in rows if row["source"] == "cmu-mocap"][:4]
    return [read_features(data_dir / row["path"], LoadOptions())[1][:240] for row in picked]


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    with SENTENCES.open(newline="") as table:
        return [row["text"] for row in csv.DictReader(table, delimiter="\t")][:48]


def _unit(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x, dim=-1)


def test_packing_round_trips_and_finds_the_first_rows() -> None:
    mask = torch.tensor([[True, True, True, False], [True, True, False, False], [True, True, True, True]])
    x = torch.arange(12.0).view(3, 4, 1)
    packing = Packing.from_mask(mask)
    rows = packing.pack(x)
    assert rows[:, 0].tolist() == [0, 1, 2, 4, 5, 8, 9, 10, 11]
    assert packing.unpack(rows)[..., 0].tolist() == [[0, 1, 2, 0], [4, 5, 0, 0], [8, 9, 10, 11]]
    assert rows[packing.first_rows(2), 0].tolist() == [0, 1, 4, 5, 8, 9]
    assert not packing.is_dense and Packing.from_mask(torch.ones(2, 3, dtype=torch.bool)).is_dense


def test_packed_encoders_agree_with_the_padded_computation(clips: list[np.ndarray], sentences: list[str]) -> None:
    checkpoint = load_checkpoint("default")
    model = checkpoint.model.eval()
    motions = Padded.from_sequences([checkpoint.normalizer.normalize(f) for f in clips])
    texts = TextBackbone(cache=False).token_batch(sentences)
    assert (~motions.mask).sum() > 0 and (~texts.mask).sum() > 0  # both batches really carry padding
    with torch.inference_mode():
        for encoder, batch in ((model.motion_encoder, motions), (model.text_encoder, texts)):
            padded, packed = encoder.forward_padded(batch.x, batch.mask), encoder.forward_packed(batch.x, batch.mask)
            torch.testing.assert_close(packed, padded, atol=1e-4, rtol=1e-4)  # raw (mu, logvar)
            torch.testing.assert_close(_unit(packed[:, 0]), _unit(padded[:, 0]), atol=1e-5, rtol=0)


def test_batched_embeddings_equal_one_at_a_time(clips: list[np.ndarray], sentences: list[str]) -> None:
    # One at a time there is no padding anywhere (backbone, encoders), so this compares the packed
    # batch path with the plain computation.
    retriever = load_retriever("default", device="cpu")
    batched_texts = retriever.encode_texts(sentences, batch_size=64)
    alone_texts = np.concatenate([retriever.encode_texts([s]) for s in sentences])
    np.testing.assert_allclose(batched_texts, alone_texts, atol=1e-5, rtol=0)
    batched_clips = retriever.encode_motions(clips, batch_size=64)
    alone_clips = np.concatenate([retriever.encode_motions([c]) for c in clips])
    np.testing.assert_allclose(batched_clips, alone_clips, atol=1e-5, rtol=0)


def test_windows_of_one_motion_embed_as_the_separate_clips_do(data_dir: Path) -> None:
    # `tmr localize` embeds every window of a take at once (dense equal-size batches, the take
    # normalised once); its windows, scores and segments must be those of embedding each window alone.
    from model.similarity import cosine_to_score
    from tmrcli.library.localize import localize_query, size_adjusted_scores
    from tmrcli.library.take_windows import MotionWindows, window_grid

    retriever = load_retriever("default", device="cpu")
    _, feats, _ = read_features(data_dir / LONG_TAKE, LoadOptions())
    feats = feats[200:400]  # 10 s of a 63 s dance: 134 windows of 2 to 8 s
    spans = window_grid(len(feats))
    together = retriever.encode_windows(feats, spans)
    separate = retriever.encode_motions([feats[a:b] for a, b in spans])
    np.testing.assert_allclose(together, separate, atol=1e-5, rtol=0)
    query = retriever.encode_texts(["a person dances"])[0]
    new, old = (localize_query(MotionWindows(spans, e, len(feats), 10.0), query, 3) for e in (together, separate))
    assert [(s.start, s.end) for s in new.segments] == [(s.start, s.end) for s in old.segments]
    scores = [size_adjusted_scores(spans, cosine_to_score(e @ query)) for e in (together, separate)]
    np.testing.assert_allclose(*scores, atol=1e-5, rtol=0)  # what the curve and the segments are made of
    with pytest.raises(ValueError, match="within the motion"):
        retriever.encode_windows(feats, np.array([[150, 201]]))
