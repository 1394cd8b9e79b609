"""The plain-torch BERT (`model/bert.py`) against transformers' BertModel on the packaged MiniLM, and
against BertModel and DistilBertModel on backbones that transformers saved."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from model import TextBackbone
from model.bert import load_bert
from model.corpus import read_caption_table
from model.text import resolve_text_model
from model_helpers import write_backbone

TEXTS = [
    "a person walks forward",
    "Someone waves with the LEFT hand, then bows!",
    "a man jumps twice and runs in a circle while clapping his hands above the head",
    "x",
]


def test_plain_bert_matches_transformers() -> None:
    from transformers import AutoModel, AutoTokenizer

    folder = resolve_text_model("all-MiniLM-L6-v2")
    loaded = load_bert(folder)
    assert loaded is not None
    encoder, tokenizer = loaded
    reference = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    reference_tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    expected = reference_tokenizer(TEXTS, truncation=True, max_length=16, padding=True, return_tensors="pt")
    ids = tokenizer.encode(TEXTS, 16)
    assert ids == [row[: int(m.sum())].tolist() for row, m in zip(expected["input_ids"], expected["attention_mask"])]
    with torch.inference_mode():
        want = reference(**expected).last_hidden_state
        got = encoder(expected["input_ids"], expected["attention_mask"])
    mask = expected["attention_mask"].bool()
    torch.testing.assert_close(got[mask], want[mask], atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("model_type", ["distilbert", "bert"])
def test_bert_family_backbones_run_in_plain_torch_as_transformers_does(model_type: str, tmp_path: Path) -> None:
    """A DistilBERT (the official TMR models' backbone family) and a BERT saved by transformers give,
    through tmr's fast path, transformers' own last_hidden_state to 1e-5 on real captions."""
    from transformers import AutoModel, AutoTokenizer

    folder = write_backbone(tmp_path / model_type, model_type, width=64)
    captions = sorted(text for texts in read_caption_table()["content"].values() for text in texts)[::6][:32]
    backbone = TextBackbone(folder, cache=False)
    assert backbone.plain_torch and backbone.width == 64
    assert backbone.name == model_type  # the folder's name is stored, never its path
    reference = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    assert reference.config.model_type == model_type
    expected = AutoTokenizer.from_pretrained(folder, local_files_only=True)(captions, padding=True, return_tensors="pt")
    with torch.inference_mode():
        want = reference(**expected).last_hidden_state
    mask = expected["attention_mask"].bool()
    got = backbone.token_features(captions)
    assert len(captions) == 32 and [len(f) for f in got] == mask.sum(dim=1).tolist()
    torch.testing.assert_close(torch.cat(got), want[mask], atol=1e-5, rtol=1e-5)


def test_other_model_types_are_left_to_transformers(tmp_path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "roberta"}')
    (tmp_path / "model.safetensors").write_bytes(b"")
    (tmp_path / "tokenizer.json").write_text("{}")
    assert load_bert(tmp_path) is None
    assert load_bert(tmp_path / "missing") is None
