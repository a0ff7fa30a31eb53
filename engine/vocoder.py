"""A small Vocos-style neural vocoder: mel -> ConvNeXt stack -> ISTFT head -> waveform.

Vocos (Siuzdak, 2023) predicts the complex STFT of the audio at the mel's own frame rate and inverts
it with one ISTFT, so the network never upsamples: all layers run at ~86 frames/s, which keeps the
vocoder cheap on a CPU. The head predicts a log-magnitude and a phase angle per bin:

    S = exp(m) * (cos p + i sin p),      wav = ISTFT(S)

Trained without a GAN (multi-resolution STFT + mel L1, ``engine/train/vocoder.py``); Griffin-Lim
(``engine/audio.py``) stays the always-available fallback (``mel_to_wav``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, cast

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from ditto_live.engine.audio import MelConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VocoderConfig:
    n_mels: int = 80  # mel bands of the input (must match the mel config)
    n_fft: int = 1024  # STFT size of the ISTFT head (the mel config's n_fft)
    hop_length: int = 256  # samples per mel frame (the mel config's hop)
    dim: int = 128  # channels of the ConvNeXt stack
    intermediate: int = 384  # hidden channels of each ConvNeXt block's pointwise MLP
    layers: int = 4  # ConvNeXt blocks
    kernel: int = 7  # depthwise kernel size (frames)
    max_log_mag: float = 6.0  # clamp of the predicted log-magnitude (exp(6) ~ 400, Vocos clips at 100)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VocoderConfig:
        return cls(**d)


VOCODER_PRESETS: dict[str, VocoderConfig] = {
    # ~0.6M parameters: runs far faster than real time on one CPU core
    "tiny": VocoderConfig(),
    # Vocos-sized, for the 160-mel paper preset on a GPU
    "paper": VocoderConfig(n_mels=160, n_fft=2048, dim=512, intermediate=1536, layers=8),
}


class ConvNeXtBlock(nn.Module):
    """Depthwise conv -> LayerNorm -> pointwise MLP (GELU) -> layer scale, with a residual.
    x: [B, C, N] -> [B, C, N]"""

    def __init__(self, dim: int, intermediate: int, kernel: int, layer_scale: float):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pw1 = nn.Linear(dim, intermediate)
        self.act = nn.GELU()
        self.pw2 = nn.Linear(intermediate, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: Tensor) -> Tensor:
        h = self.dwconv(x).transpose(1, 2)  # [B, N, C]
        h = self.pw2(self.act(self.pw1(self.norm(h))))
        return x + (self.gamma * h).transpose(1, 2)


def overlap_add(frames: Tensor, hop_length: int) -> Tensor:
    """Sum frames placed ``hop_length`` apart, for a frame length that is a whole number of hops: frame i's
    j-th hop-long chunk lands at hop i + j. frames [B, L, N] -> [B, L + hop * (N - 1)]"""
    b, length, n = frames.shape
    r = length // hop_length
    chunks = frames.view(b, r, hop_length, n)
    summed = sum(nn.functional.pad(chunks[:, j], (j, r - 1 - j)) for j in range(r))  # [B, hop, N + r - 1]
    return cast(Tensor, summed).transpose(1, 2).reshape(b, -1)


def istft(spec: Tensor, n_fft: int, hop_length: int, window: Tensor, length: int) -> Tensor:
    """``torch.istft(spec, ..., center=True, length=length)`` as inverse real FFTs and an overlap-add: the
    same waveform, but traceable into a graph (``torch.istft``'s window-envelope check reads a tensor's value,
    which ``make_fx`` refuses: the exported backend could not take the intensity control's audible term).
    ``n_fft`` must be a multiple of ``hop_length``. spec [B, n_fft/2 + 1, N] complex -> wav [B, length]"""
    if n_fft % hop_length:
        raise ValueError(f"the ISTFT needs n_fft ({n_fft}) to be a multiple of the hop ({hop_length})")
    frames = torch.fft.irfft(spec, n=n_fft, dim=1) * window[:, None]  # [B, n_fft, N]
    envelope = overlap_add(window.square()[None, :, None].expand(1, n_fft, spec.shape[-1]), hop_length)
    start = n_fft // 2  # center=True padded each side by n_fft/2
    return (overlap_add(frames, hop_length) / envelope.clamp(min=1e-11))[:, start:start + length]


class ISTFTHead(nn.Module):
    """Per-frame features -> complex STFT (log-magnitude and phase) -> waveform by ISTFT.
    x: [B, C, N] -> wav [B, N * hop]"""

    window: Tensor  # a buffer, named for the type checker (nn.Module's __getattr__ says Tensor | Module)

    def __init__(self, dim: int, n_fft: int, hop_length: int, max_log_mag: float):
        super().__init__()
        self.n_fft, self.hop_length, self.max_log_mag = n_fft, hop_length, max_log_mag
        self.proj = nn.Linear(dim, n_fft + 2)  # (n_fft/2 + 1) log-magnitudes and as many phases
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def log_magnitude_and_phase(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x [B, C, N] -> (natural log-magnitude, clamped as synthesised; phase), each [B, n_fft/2 + 1, N]."""
        log_mag, phase = self.proj(x.transpose(1, 2)).float().transpose(1, 2).chunk(2, dim=1)
        return log_mag.clamp(max=self.max_log_mag), phase

    def spectrum(self, x: Tensor) -> Tensor:
        """x [B, C, N] -> complex STFT [B, n_fft/2 + 1, N]."""
        log_mag, phase = self.log_magnitude_and_phase(x)
        return torch.polar(torch.exp(log_mag), phase)

    def forward(self, x: Tensor) -> Tensor:
        spec = self.spectrum(x)
        n = spec.shape[-1]
        return istft(spec, self.n_fft, self.hop_length, self.window, n * self.hop_length)


class Vocoder(nn.Module):
    """mel [B, 1, n_mels, N] in [-1, 1] -> wav [B, N * hop] in [-1, 1] (roughly)."""

    kind = "vocoder"

    def __init__(self, cfg: VocoderConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Conv1d(cfg.n_mels, cfg.dim, cfg.kernel, padding=cfg.kernel // 2)
        self.norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        scale = 1.0 / cfg.layers
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(cfg.dim, cfg.intermediate, cfg.kernel, scale) for _ in range(cfg.layers))
        self.final_norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.head = ISTFTHead(cfg.dim, cfg.n_fft, cfg.hop_length, cfg.max_log_mag)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Conv1d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def features(self, mel: Tensor) -> Tensor:
        """mel [B, 1, F, N] -> [B, dim, N]"""
        x = self.embed(mel.squeeze(1))
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        return self.final_norm(x.transpose(1, 2)).transpose(1, 2)

    def log_power(self, mel: Tensor) -> Tensor:
        """Log10 power of the spectrum this vocoder synthesises from mel, differentiably (the melody
        control's audible-pitch term reads pitch there, at the STFT's linear resolution).
        mel [B, 1, F, N] -> [B, n_fft/2 + 1, N]"""
        log_mag, _ = self.head.log_magnitude_and_phase(self.features(mel))
        return log_mag * (2.0 / math.log(10.0))

    def forward(self, mel: Tensor) -> Tensor:
        if mel.dim() == 3:
            mel = mel.unsqueeze(1)
        return self.head(self.features(mel))


def build_vocoder(model_config: dict[str, Any]) -> Vocoder:
    """Rebuild a vocoder from the ``model_config`` stored in its checkpoint JSON."""
    return Vocoder(VocoderConfig.from_dict(model_config))


def _register() -> None:
    """Teach engine/checkpoint how to rebuild kind "vocoder" (a no-op before that module exists)."""
    try:
        from ditto_live.engine.checkpoint import register_model_kind
    except ImportError:  # pragma: no cover - only while the checkpoint module is missing
        log.debug("engine.checkpoint not available; vocoder kind not registered")
        return
    register_model_kind("vocoder", build_vocoder)


_register()


@torch.no_grad()
def mel_to_wav(mel: Tensor, vocoder: Vocoder | None = None, mel_config: MelConfig | None = None,
               n_iter: int = 32) -> Tensor:
    """Vocode a mel with the trained vocoder when there is one, else Griffin-Lim.

    mel: [B, 1, F, N] in [-1, 1] -> wav [B, N * hop]. ``mel_config`` (engine/audio MelConfig) is needed
    only for the Griffin-Lim fallback.
    """
    if vocoder is not None:
        param = next(vocoder.parameters())
        wav = vocoder(mel.to(param.device, param.dtype)).float()
        return wav.clamp(-1, 1)
    from ditto_live.engine.audio import MelFrontEnd

    if mel_config is None:
        raise ValueError("Griffin-Lim needs the mel config")
    front = MelFrontEnd(mel_config).to(mel.device)
    return front.mel_to_wav_griffin_lim(mel, n_iter=n_iter).clamp(-1, 1)
