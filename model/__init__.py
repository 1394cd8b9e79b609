"""The TMR network, its losses, the frozen text backbone, checkpoints, training and evaluation.

Imports `formats` but never `tmrcli`; torch is imported here, so `tmrcli` imports this package lazily.

Public surface:
    load_retriever(name_or_path) -> Retriever     numpy in, numpy out: what the CLI uses
    load_checkpoint / save_checkpoint / available_checkpoints / file_sha256
    TMR, TMRConfig, LossConfig                    the network, its architecture and loss settings
    TextBackbone                                  frozen token features (+ sentence embeddings)
    Normalizer                                    feature statistics carried by checkpoints
    import_official_run                           official TMR runs -> Checkpoint
"""

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

__all__ = [
    "TMR",
    "TMRConfig",
    "LossConfig",
    "DEFAULT_TEXT_MODEL",
    "TextBackbone",
    "Normalizer",
    "Padded",
    "TrainBatch",
    "collate_pairs",
    "lengths_to_mask",
    "cosine_similarity",
    "cosine_to_score",
    "Checkpoint",
    "Provenance",
    "load_checkpoint",
    "save_checkpoint",
    "available_checkpoints",
    "file_sha256",
    "import_official_run",
    "Retriever",
    "load_retriever",
    "default_device",
    "CheckpointError",
    "TextModelError",
]
