"""TMR's training objective (paper section 3.2, reference `src/model/{losses,temos,tmr}.py`).

    loss = recons + 1e-5 * kl + 1e-5 * latent + 0.1 * contrastive

- recons: SmoothL1 of the motion decoded from the text latent and from the motion latent, each against
  the input motion, summed (the two terms of TEMOS).
- kl: four KL divergences: text || motion, motion || text, motion || N(0, I), text || N(0, I).
- latent: SmoothL1 between the text and motion latents (the cross-modal embedding loss L_E).
- contrastive: symmetric InfoNCE on the cosine of the latents with temperature 0.1, where off-diagonal
  pairs whose captions are near-paraphrases are removed from the denominators (section 3.3).
- cross_rig (not in the paper; weight 0 by default): the same InfoNCE between the motion latents of the
  rows that have a partner and their partners' latents, a motion of the same action from another source.
  The contrastive term only ties each motion to its caption, so two rigs performing one action can stay
  apart as long as their captions differ; this ties them to each other, which is what `search --like`
  across sources needs.

Like the reference, the latents z fed to `latent`, `contrastive` and the decoder are the sampled ones
during training, and the reconstruction mean runs over the padded (B, T, F) tensors, whose padding is
zero on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from model.config import LossConfig
from model.similarity import cosine_similarity, cosine_to_score

__all__ = ["Gaussian", "TMROutputs", "kl_divergence", "InfoNCEWithFiltering", "TMRLoss"]


@dataclass(frozen=True)
class Gaussian:
    """A diagonal Gaussian per batch item: `mu` (B, D) and `logvar` (B, D), the log of the variance."""

    mu: Tensor
    logvar: Tensor

    def sample(self) -> Tensor:
        """A reparameterised sample mu + sigma * eps (gradients flow to mu and logvar)."""
        return self.mu + torch.exp(0.5 * self.logvar) * torch.randn_like(self.mu)


@dataclass(frozen=True)
class TMROutputs:
    """Everything a training forward pass produces. Distributions are None without the VAE."""

    text_dist: Gaussian | None
    motion_dist: Gaussian | None
    text_z: Tensor  # (B, D) latent used for the losses (a sample while training, else mu)
    motion_z: Tensor  # (B, D)
    text_recons: Tensor  # (B, T, F) motion decoded from text_z, zero on padding
    motion_recons: Tensor  # (B, T, F) motion decoded from motion_z, zero on padding
    partner_z: Tensor | None = None  # (P, D) latents of the partner motions of the rows `partner_rows`
    partner_rows: Tensor | None = None  # (P,) batch rows that have a partner


def _at_least_float32(x: Tensor) -> Tensor:
    return x.to(torch.promote_types(x.dtype, torch.float32))


def kl_divergence(q: Gaussian, p: Gaussian) -> Tensor:
    """KL(q || p) between diagonal Gaussians, averaged over batch and dimensions (as the reference).
    Computed in float32 at least, also under mixed-precision autocast."""
    q_mu, q_logvar, p_mu, p_logvar = (_at_least_float32(t) for t in (q.mu, q.logvar, p.mu, p.logvar))
    log_ratio = q_logvar - p_logvar
    per_dim = 0.5 * (torch.exp(log_ratio) + (p_mu - q_mu) ** 2 / torch.exp(p_logvar) - 1.0 - log_ratio)
    return per_dim.mean()


class InfoNCEWithFiltering(nn.Module):
    """Symmetric InfoNCE (paper eq. 1) whose denominators skip wrong negatives (section 3.3).

    Steps are kept apart as in open_clip's ClipLoss: `filtered_pairs` (which negatives to drop),
    `get_logits`, `get_ground_truth`, then the two cross-entropies in `forward`.
    """

    def __init__(
        self, temperature: float = LossConfig.temperature, threshold: float | None = LossConfig.threshold_selfsim
    ) -> None:
        super().__init__()
        self.temperature = temperature
        self.threshold = threshold

    def filtered_pairs(self, sentence_emb: Tensor | None) -> Tensor | None:
        """(B, B) True where the pair (i, j), i != j, has caption score (cos + 1) / 2 > threshold."""
        if sentence_emb is None or self.threshold is None:
            return None
        score = cosine_to_score(cosine_similarity(sentence_emb, sentence_emb))  # (B, B)
        off_diagonal = ~torch.eye(len(score), dtype=torch.bool, device=score.device)
        return (score > self.threshold) & off_diagonal

    def get_logits(self, text_z: Tensor, motion_z: Tensor, sentence_emb: Tensor | None = None) -> Tensor:
        """(B, B) text-to-motion logits cos / temperature, -inf on filtered pairs; rows are texts.
        Computed in float32 at least: in bfloat16 a logit of 10 would be off by up to 0.04."""
        logits = cosine_similarity(_at_least_float32(text_z), _at_least_float32(motion_z)) / self.temperature
        filtered = self.filtered_pairs(sentence_emb)
        if filtered is not None:
            logits = logits.masked_fill(filtered, float("-inf"))
        return logits

    @staticmethod
    def get_ground_truth(batch_size: int, device: torch.device) -> Tensor:
        """Item i of one modality pairs with item i of the other."""
        return torch.arange(batch_size, device=device)

    def forward(self, text_z: Tensor, motion_z: Tensor, sentence_emb: Tensor | None = None) -> Tensor:
        """Mean of the text->motion and motion->text cross-entropies."""
        logits = self.get_logits(text_z, motion_z, sentence_emb)
        labels = self.get_ground_truth(len(logits), logits.device)
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


class TMRLoss(nn.Module):
    """All TMR losses as a named dict, plus their weighted sum under the key "loss"."""

    def __init__(self, config: LossConfig | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else LossConfig()
        self.contrastive = InfoNCEWithFiltering(self.config.temperature, self.config.threshold_selfsim)

    def forward(self, out: TMROutputs, target: Tensor, sentence_emb: Tensor | None = None) -> dict[str, Tensor]:
        """`target` is the padded normalised input motion (B, T, F), zero on padding."""
        losses = {
            "recons": F.smooth_l1_loss(out.text_recons, target) + F.smooth_l1_loss(out.motion_recons, target),
            "latent": F.smooth_l1_loss(out.text_z, out.motion_z),
            "contrastive": self.contrastive(out.text_z, out.motion_z, sentence_emb),
        }
        if out.text_dist is not None and out.motion_dist is not None:
            losses["kl"] = self._kl_terms(out.text_dist, out.motion_dist)
        if out.partner_z is not None and out.partner_rows is not None and len(out.partner_rows) > 1:
            rows = out.partner_rows
            emb = None if sentence_emb is None else sentence_emb[rows]
            losses["cross_rig"] = self.contrastive(out.motion_z[rows], out.partner_z, emb)
        weights = self.config.weights
        losses["loss"] = sum(weights[name] * value for name, value in losses.items())
        return losses

    @staticmethod
    def _kl_terms(text: Gaussian, motion: Gaussian) -> Tensor:
        # logvar 0 is unit variance: the standard normal prior.
        prior = Gaussian(torch.zeros_like(motion.mu), torch.zeros_like(motion.logvar))
        return (
            kl_divergence(text, motion)
            + kl_divergence(motion, text)
            + kl_divergence(motion, prior)
            + kl_divergence(text, prior)
        )
