"""The TMR network, its losses, the frozen text backbone, checkpoints, training and evaluation.

Imports `formats` but never `tmrcli`. The names below load their module (and torch) when first used, so
`model.config` (every default, no torch) is cheap to import: the CLI's options take their defaults from it.

Public surface:
    load_retriever(name_or_path) -> Retriever     numpy in, numpy out: what the CLI uses
    load_checkpoint / save_checkpoint / available_checkpoints / file_sha256
    TMR, TMRConfig, LossConfig                    the network, its architecture and loss settings
    TextBackbone                                  frozen token features (+ sentence embeddings)
    Normalizer                                    feature statistics carried by checkpoints
    import_official_run                           official TMR runs -> Checkpoint
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from formats.lazy_names import lazy_getattr

# Each public name and the module that defines it.
_HOMES = {
    "Padded": "model.batching", "TrainBatch": "model.batching", "collate_pairs": "model.batching",
    "lengths_to_mask": "model.batching",
    "Checkpoint": "model.checkpoint", "Provenance": "model.checkpoint", "available_checkpoints": "model.checkpoint",
    "file_sha256": "model.checkpoint", "load_checkpoint": "model.checkpoint", "save_checkpoint": "model.checkpoint",
    "DEFAULT_TEXT_MODEL": "model.config", "LossConfig": "model.config", "TMRConfig": "model.config",
    "CheckpointError": "model.errors", "TextModelError": "model.errors",
    "Retriever": "model.inference", "default_device": "model.inference", "load_retriever": "model.inference",
    "TMR": "model.network",
    "Normalizer": "model.normalizer",
    "import_official_run": "model.official",
    "cosine_similarity": "model.similarity", "cosine_to_score": "model.similarity",
    "TextBackbone": "model.text",
}  # fmt: skip

__all__ = list(_HOMES)

if TYPE_CHECKING:
    from model.batching import Padded, TrainBatch, collate_pairs, lengths_to_mask
    from model.checkpoint import (
        Checkpoint,
        Provenance,
        available_checkpoints,
        file_sha256,
        load_checkpoint,
        save_checkpoint,
    )
    from model.config import DEFAULT_TEXT_MODEL, LossConfig, TMRConfig
    from model.errors import CheckpointError, TextModelError
    from model.inference import Retriever, default_device, load_retriever
    from model.network import TMR
    from model.normalizer import Normalizer
    from model.official import import_official_run
    from model.similarity import cosine_similarity, cosine_to_score
    from model.text import TextBackbone

__getattr__ = lazy_getattr(__name__, _HOMES, globals())
