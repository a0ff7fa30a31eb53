"""A small contrastive text-audio model (CLAP-style) for the text control and for FAD/CLAP metrics.

The text side is a frozen sentence encoder (all-MiniLM-L6-v2, shipped in a package; the engine never
imports it — callers pass its 384-d sentence embeddings in) followed by a trained projection head.
The audio side is a mel encoder trained here. Both land, L2-normalised, in one joint space, so the
text control is ``1 - cos(encode_audio(x0), encode_text(caption))``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ditto_live.engine.checkpoint import register_model_kind


@dataclass(frozen=True)
class ClapConfig:
    n_mels: int = 80  # mel bands of the audio input
    text_dim: int = 384  # width of the frozen sentence embeddings
    embed_dim: int = 128  # joint embedding width
    channels: tuple[int, ...] = (32, 64, 128, 128)  # conv widths of the mel encoder, one per stride-2 stage
    hidden: int = 256  # width of the projection MLPs

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class MelEncoder(nn.Module):
    """Mel [B, 1, F, N] -> unnormalised audio features [B, hidden] (strided convs, mean+max pooling)."""

    def __init__(self, channels: tuple[int, ...], hidden: int):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.GroupNorm(8, c), nn.SiLU()]
            c_in = c
        self.convs = nn.Sequential(*layers)
        self.proj = nn.Sequential(nn.Linear(2 * c_in, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def forward(self, mel: Tensor) -> Tensor:
        h = self.convs(mel).mean(dim=2)  # [B, C, N']: average over frequency
        pooled = torch.cat([h.mean(dim=-1), h.amax(dim=-1)], dim=1)  # [B, 2C]
        return self.proj(pooled)


class ClapModel(nn.Module):
    """Joint space of a trained mel encoder and a projection of frozen sentence embeddings."""

    def __init__(self, cfg: ClapConfig):
        super().__init__()
        self.cfg = cfg
        self.audio = MelEncoder(cfg.channels, cfg.hidden)
        self.audio_head = nn.Linear(cfg.hidden, cfg.embed_dim)
        self.text_head = nn.Sequential(nn.Linear(cfg.text_dim, cfg.hidden), nn.GELU(),
                                       nn.Linear(cfg.hidden, cfg.embed_dim))
        self.logit_scale = nn.Parameter(torch.tensor(2.659))  # log(1/0.07), as CLIP

    def encode_audio(self, mel: Tensor) -> Tensor:
        """[B, 1, F, N] in [-1, 1] -> unit-norm [B, embed_dim]; differentiable (the text control's f)."""
        return F.normalize(self.audio_head(self.audio(mel)), dim=-1)

    def encode_text(self, sentence_embeddings: Tensor) -> Tensor:
        """Frozen sentence embeddings [B, text_dim] -> unit-norm [B, embed_dim]."""
        return F.normalize(self.text_head(sentence_embeddings), dim=-1)


def contrastive_loss(audio: Tensor, text: Tensor, caption_ids: Tensor, logit_scale: Tensor) -> Tensor:
    """Symmetric InfoNCE with soft targets: rows that share a caption are all positives.

    Template captions repeat within a batch, so one-hot targets would punish true matches.
    audio, text: [B, D] unit-norm; caption_ids: [B] long.
    """
    logits = logit_scale.clamp(max=4.6052).exp() * audio @ text.t()  # [B, B]
    same = (caption_ids[:, None] == caption_ids[None, :]).float()
    targets = same / same.sum(dim=1, keepdim=True)
    loss_a = -(targets * logits.log_softmax(dim=1)).sum(dim=1).mean()
    loss_t = -(targets * logits.t().log_softmax(dim=1)).sum(dim=1).mean()
    return (loss_a + loss_t) / 2


def retrieval_accuracy(audio: Tensor, text: Tensor, caption_ids: Tensor) -> float:
    """Fraction of clips whose nearest caption embedding carries their own caption."""
    nearest = (audio @ text.t()).argmax(dim=1)
    return float((caption_ids[nearest] == caption_ids).float().mean())


def build_clap(model_config: dict[str, Any]) -> ClapModel:
    cfg = dict(model_config)
    cfg["channels"] = tuple(cfg.get("channels", ClapConfig.channels))
    return ClapModel(ClapConfig(**cfg))


register_model_kind("clap", build_clap)
