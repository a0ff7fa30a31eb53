"""Text control (paper §5.4): 1 - cosine between the audio embedding of x0 and a caption's embedding.

Works with any contrastive text-audio model exposing ``encode_audio(mel [B, 1, F, N]) -> [B, D]`` and
``encode_text(list[str]) -> [B, D]`` (the project's trained model in ``engine/clap.py``, LAION-CLAP
behind an adapter, or a fake in tests).
"""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

from ditto_live.engine.controls.combine import Control


class TextAudioModel(Protocol):
    def encode_audio(self, mel: Tensor) -> Tensor: ...

    def encode_text(self, captions: list[str]) -> Tensor: ...


def text_loss(audio_embedding: Tensor, text_embedding: Tensor) -> Tensor:
    """1 - cosine similarity. audio_embedding: [B, D]; text_embedding: [D] or [1, D] -> [B]"""
    t = text_embedding.reshape(1, -1).to(audio_embedding.device, audio_embedding.dtype)
    return 1 - F.cosine_similarity(audio_embedding, t, dim=-1)


def text_control(model: TextAudioModel, caption: str, weight: float = 1.0) -> Control:
    """The text control for one caption; the caption is embedded once, without gradients."""
    with torch.no_grad():
        target = model.encode_text([caption])[0].detach()
    return Control("text", lambda x0: text_loss(model.encode_audio(x0), target), weight, None, target)
