"""The plain-torch BERT (`model/bert.py`) against transformers' BertModel on the packaged MiniLM."""

from __future__ import annotations

import torch

from model.bert import load_bert
from model.text import resolve_text_model

TEXTS = [
    "a person walks forward",
    "Someone waves with the LEFT hand, then bows!",
    "a man jumps twice and runs in a circle while clapping his hands above the head",
    "x",
]


def test_plain_bert_matches_transformers() -> None:
    from transformers import AutoModel, AutoTokenizer

    folder = resolve_text_model("all-MiniLM-L6-v2")
    loaded = load_bert(folder, max_length=16)
    assert loaded is not None
    encoder, tokenizer = loaded
    reference = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    reference_tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    expected = reference_tokenizer(TEXTS, truncation=True, max_length=16, padding=True, return_tensors="pt")
    ids = tokenizer.encode(TEXTS)
    assert ids == [row[: int(m.sum())].tolist() for row, m in zip(expected["input_ids"], expected["attention_mask"])]
    with torch.inference_mode():
        want = reference(**expected).last_hidden_state
        got = encoder(expected["input_ids"], expected["attention_mask"])
    mask = expected["attention_mask"].bool()
    torch.testing.assert_close(got[mask], want[mask], atol=2e-5, rtol=1e-4)


def test_other_model_types_are_left_to_transformers(tmp_path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "distilbert"}')
    (tmp_path / "model.safetensors").write_bytes(b"")
    (tmp_path / "tokenizer.json").write_text("{}")
    assert load_bert(tmp_path, max_length=8) is None
    assert load_bert(tmp_path / "missing", max_length=8) is None
