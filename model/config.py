"""The architecture (`TMRConfig`), the loss weights (`LossConfig`), training (`TrainConfig`) and distillation
(`DistillConfig`) settings: every default lives here, once, and the commands' options take theirs from it.

Values follow the TMR paper (section 3.4) and the reference configs `configs/model/{temos,tmr}.yaml`;
field names follow the reference's (`latent_dim`, `ff_size`, `num_layers`, ...), so an official run's
`config.json` maps onto them directly (see `model/official.py`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_TEXT_MODEL",
    "TMRConfig",
    "LossConfig",
    "TrainConfig",
    "NEGATIVE_FILTERS",
    "PRECISIONS",
    "DistillConfig",
    "PROTOCOLS",
]

# The name under which the offline all-MiniLM-L6-v2 package is found (see `model/text.py`).
DEFAULT_TEXT_MODEL = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class TMRConfig:
    """The shape of a TMR network and of its inputs. A checkpoint stores it; loading rebuilds from it."""

    n_feats: int = 263  # motion features per frame (HumanML3D layout, REFERENCE.md)
    text_model: str = DEFAULT_TEXT_MODEL  # frozen backbone: the packaged name, a folder, or a cached hub id
    text_width: int = 384  # width of its token features (all-MiniLM-L6-v2: 384, distilbert: 768)
    max_text_length: int = 128  # tokens kept per text, [CLS] and [SEP] included
    latent_dim: int = 256  # d in the paper
    ff_size: int = 1024
    num_layers: int = 6
    num_heads: int = 4
    dropout: float = 0.1
    activation: str = "gelu"
    vae: bool = True  # encoders output (mu, logvar); False gives a single deterministic token
    fps: float = 20.0  # frame rate the motion features are sampled at

    def __post_init__(self) -> None:
        if self.latent_dim % self.num_heads:
            raise ValueError(f"latent_dim {self.latent_dim} is not divisible by num_heads {self.num_heads}")
        if self.activation not in ("gelu", "relu"):
            raise ValueError(f"activation must be 'gelu' or 'relu', not {self.activation!r}")
        positive = ("n_feats", "text_width", "max_text_length", "latent_dim", "ff_size", "num_layers", "num_heads")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), not {self.dropout}")
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, not {self.fps}")

    @property
    def n_dist_tokens(self) -> int:
        """Learnable tokens prepended by each encoder: mu and logvar, or a single one without the VAE."""
        return 2 if self.vae else 1

    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-able dict (the form stored in checkpoints)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TMRConfig:
        """The inverse of `to_dict`; raises ValueError on unknown or missing keys and wrong types."""
        return _from_dict(cls, data)


@dataclass(frozen=True)
class LossConfig:
    """Loss weights and contrastive settings: the reference `tmr.yaml` (recons 1, kl 1e-5, latent 1e-5,
    contrastive 0.1, temperature 0.1, filtering threshold 0.8)."""

    recons: float = 1.0
    kl: float = 1e-5
    latent: float = 1e-5
    contrastive: float = 0.1
    temperature: float = 0.1
    # Off-diagonal pairs whose captions' scaled similarity (cos + 1) / 2 exceeds this are dropped from
    # the InfoNCE denominators (paper section 3.3); None disables the filtering.
    threshold_selfsim: float | None = 0.8
    # Weight of the cross-rig term: InfoNCE between each motion and a motion of the same action (same
    # tags) from another source, filtered as the contrastive term (0: off, the reference's).
    cross_rig: float = 0.0

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise ValueError(f"temperature must be positive, not {self.temperature}")
        if self.cross_rig < 0:
            raise ValueError(f"cross_rig must not be negative, not {self.cross_rig}")

    @property
    def weights(self) -> dict[str, float]:
        """The weight of each named loss in the total."""
        return {
            "recons": self.recons, "kl": self.kl, "latent": self.latent, "contrastive": self.contrastive,
            "cross_rig": self.cross_rig,
        }  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-able dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LossConfig:
        """The inverse of `to_dict`; raises ValueError on unknown or missing keys and wrong types."""
        return _from_dict(cls, data)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; defaults are the reference's, except where noted."""

    epochs: int = 500
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 0.01  # torch's AdamW default, which the reference keeps
    min_seconds: float = 2.0  # captions of shorter segments are not trained on
    max_seconds: float = 10.0  # longer segments are cropped at random to this length
    mirror_probability: float = 0.5  # chance to train on the mirrored motion with "left"/"right" swapped
    # Which pairs of a batch are not negatives of each other: "sentence", pairs whose captions a sentence
    # model finds alike (the paper's); "label", pairs whose motions carry the same action label.
    negative_filter: str = "sentence"
    sentence_model: str = DEFAULT_TEXT_MODEL  # embeds captions for the "sentence" filter
    val_every: int = 10  # epochs between validation runs (0: never)
    checkpoint_every: int = 50  # epochs between saved checkpoints (the last epoch is always saved)
    # Chance that each word-piece of a caption (not [CLS] or [SEP]) is left out of a training step, so
    # the text encoder cannot lean on a few words of the captions it has seen (0: the reference's).
    word_dropout: float = 0.0
    # Validate and keep the best checkpoint with an exponential moving average of the weights, updated
    # every step with this decay (0: the raw weights, the reference's).
    ema_decay: float = 0.0
    # Every feature's std is at least this fraction of the mean std of its feature group (root,
    # joint positions, rotations, velocities, foot contacts), so a dimension that is nearly constant
    # on the training rigs cannot blow up on another rig (0: plain statistics, the reference's).
    std_floor: float = 0.25
    # Start from this checkpoint's weights and feature statistics (name or path; "": random weights).
    # Its architecture is kept; an inference checkpoint has no decoder, which then starts afresh.
    init_from: str = ""
    seed: int = 1234
    device: str = "auto"  # "auto": CUDA when present, else CPU
    # "auto": bf16 autocast on CUDA and on CPUs with native bf16 (AMX / AVX512-BF16), else float32.
    precision: str = "auto"

    def __post_init__(self) -> None:
        if self.negative_filter not in NEGATIVE_FILTERS:
            raise ValueError(f"negative_filter must be one of {NEGATIVE_FILTERS}, not {self.negative_filter!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {self.precision!r}")
        if not 0.0 <= self.word_dropout < 1.0:
            raise ValueError(f"word_dropout must be in [0, 1), not {self.word_dropout}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), not {self.ema_decay}")
        if not 0.0 <= self.std_floor <= 1.0:
            raise ValueError(f"std_floor must be in [0, 1], not {self.std_floor}")


NEGATIVE_FILTERS = ("sentence", "label")
PRECISIONS = ("auto", "bf16", "fp32")


@dataclass(frozen=True)
class DistillConfig:
    """How the student is trained. `held_out` is the share of sentences kept back to measure agreement."""

    text_model: str = DEFAULT_TEXT_MODEL
    epochs: int = 20
    batch_size: int = 128
    lr: float = 2e-4
    contrastive_weight: float = 0.1
    temperature: float = 0.05
    held_out: float = 0.05
    seed: int = 1234

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError("distillation needs at least one epoch and batches of two or more sentences")
        if not 0.0 <= self.held_out < 1.0:
            raise ValueError(f"held_out must be in [0, 1), got {self.held_out}")


# The paper's retrieval protocols (section 4.1): a all, b threshold 0.95, c dissimilar 100, d batches of 32.
PROTOCOLS = ("a", "b", "c", "d")


_TYPES = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
    "float | None": (int, float, type(None)),
}


def _from_dict(cls: type, data: dict[str, Any]) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    missing = sorted(set(fields) - set(data))
    if unknown or missing:
        raise ValueError(f"{cls.__name__}: unknown keys {unknown}, missing keys {missing}")
    for name, value in data.items():
        allowed = _TYPES[str(fields[name].type)]
        # bool is an int in Python; a flag must not pass for a number, nor a number for a flag.
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise ValueError(f"{cls.__name__}: {name} has the wrong type ({type(value).__name__})")
    return cls(**data)
