"""LAION-CLAP as the text control's model, for users who have its checkpoint.

Nothing is downloaded: the user points ``generate.laion_clap`` at a LAION-CLAP ``.pt`` checkpoint
(and, because laion_clap builds its RoBERTa tokenizer through Hugging Face, needs ``roberta-base``
in the local HF cache). The mel is vocoded with the bundle's differentiable vocoder, resampled to
CLAP's 48 kHz by FFT resampling (differentiable), and embedded; captions go through CLAP's text tower.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ditto_live.errors import UsageError

log = logging.getLogger(__name__)

CLAP_RATE = 48000  # LAION-CLAP's audio rate


def fft_resample(wav: Tensor, rate_in: int, rate_out: int) -> Tensor:
    """Band-limited resampling by zero-padding or truncating the spectrum; differentiable. [B, n] -> [B, m]"""
    n = wav.shape[-1]
    m = int(round(n * rate_out / rate_in))
    spec = torch.fft.rfft(wav, dim=-1)
    bins = m // 2 + 1
    if bins > spec.shape[-1]:
        spec = torch.nn.functional.pad(spec, (0, bins - spec.shape[-1]))
    else:
        spec = spec[..., :bins]
    return torch.fft.irfft(spec, n=m, dim=-1) * (m / n)


class LaionClapText:
    """encode_audio(mel) / encode_text(captions) over a LAION-CLAP model (the text control's protocol)."""

    def __init__(self, module: Any, mel_to_wav: Callable[[Tensor], Tensor], sample_rate: int):
        self.module = module  # laion_clap.CLAP_Module with its checkpoint loaded (the package has no types)
        self.mel_to_wav = mel_to_wav  # differentiable vocoder: [B, 1, F, N] -> [B, samples]
        self.sample_rate = sample_rate

    @property
    def device(self) -> torch.device:
        """Where the model's weights are (the measured audio's mel goes there)."""
        return next(self.module.parameters()).device

    def encode_audio(self, mel: Tensor) -> Tensor:
        wav = fft_resample(self.mel_to_wav(mel), self.sample_rate, CLAP_RATE)
        emb = self.module.get_audio_embedding_from_data(x=wav, use_tensor=True)
        return torch.nn.functional.normalize(emb, dim=-1)

    def encode_text(self, captions: list[str]) -> Tensor:
        emb = self.module.get_text_embedding(list(captions), use_tensor=True)
        return torch.nn.functional.normalize(emb, dim=-1)


def load_laion_clap(checkpoint: str | Path, mel_to_wav: Callable[[Tensor], Tensor], sample_rate: int,
                    device: str = "cpu") -> LaionClapText:
    """Build the adapter from a user's LAION-CLAP checkpoint; clear errors when it cannot be loaded."""
    path = Path(checkpoint).expanduser()
    if not path.is_file():
        raise UsageError(f"LAION-CLAP checkpoint not found: {path}")
    try:
        import laion_clap
    except ImportError as exc:
        raise UsageError("loading a LAION-CLAP checkpoint needs the laion_clap package: pip install laion-clap") from exc
    module = laion_clap.CLAP_Module(enable_fusion="fusion" in path.name, device=device)
    module.load_ckpt(str(path))
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    log.info("text control uses LAION-CLAP from %s", path)
    return LaionClapText(module, mel_to_wav, sample_rate)
