"""How much a text reads like a description of a motion: the confidence's guard against gibberish.

The confidence (`model/calibration.py`) compares a query with unrelated sentences on one motion's
scores. That fails for text that describes nothing: the text encoder still maps "bleep blop" or
"a recipe for tomato soup" somewhere in the joint space, often near some motion, and the fine-tuned
`every-source` model put such texts above half of its correct top hits. Whether a text describes a
motion at all is a question about the text alone, and the frozen backbone's sentence space answers it
well: in all-MiniLM-L6-v2's sentence embeddings (mean-pooled token features, the same features the
text encoder reads, so it costs nothing extra), every validation phrasing has a sentence of the
caption bank within cosine 0.40 or closer (5% of them below 0.50), and no nonsense or off-topic text
we tried came closer than 0.36 (HumanML3D's crowd-written captions of clips we do not hold: 99% above
0.47). The likeness ramps from 0 at `NONE_AT` to 1 at `FULL_AT`, both read off those validation
figures, and scales the confidence. The ramp was chosen in that backbone's space, so other backbones
(an imported official model's DistilBERT) get likeness 1: their confidence is the motion-side one.
"""

from __future__ import annotations

import numpy as np

from model.similarity import unit_rows

__all__ = ["NONE_AT", "FULL_AT", "LIKENESS_BACKBONE", "description_likeness", "mean_pooled"]

NONE_AT = 0.36  # nearest bank sentence's cosine at or below which a text reads like no motion description
FULL_AT = 0.50  # and at or above which it reads like one
LIKENESS_BACKBONE = "all-MiniLM-L6-v2"  # the sentence space the two points were read in


def mean_pooled(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(N, L, W) token features and (N, L) mask (True = token) -> (N, W) unit-norm means over the
    tokens, [CLS] and [SEP] included (sentence-transformers' pooling)."""
    weights = mask.astype(np.float32)[..., None]
    return unit_rows((hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0))


def description_likeness(sentences: np.ndarray, bank_sentences: np.ndarray) -> np.ndarray:
    """(N,) likeness in [0, 1] of texts with (N, W) unit-norm sentence embeddings, against the (M, W)
    sentence embeddings of a bank of motion descriptions."""
    nearest = (np.atleast_2d(sentences) @ bank_sentences.T).max(axis=1)
    return np.clip((nearest - NONE_AT) / (FULL_AT - NONE_AT), 0.0, 1.0).astype(np.float32)
