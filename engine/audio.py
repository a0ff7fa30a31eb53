"""Audio front end: mel configs (the `tiny` and `paper` presets) and the dB <-> [-1, 1] mapping.

A mel spectrogram here is ``[B, 1, n_mels, frames]`` in [-1, 1]: power mel in dB (10 log10),
clipped to [min_db, max_db] and scaled linearly. The STFT is normalised by the window sum, so a
full-scale sine peaks near 0 dB before the filterbank.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import Tensor


@dataclass(frozen=True)
class MelConfig:
    sample_rate: int = 22050  # audio rate the models work at
    n_fft: int = 1024  # STFT size (Hann window of the same length)
    hop_length: int = 256  # samples between frames: 86.13 frames per second at 22,050 Hz
    n_mels: int = 80  # mel bands (Slaney scale and area normalisation, from librosa)
    frames: int = 512  # frames in one model window (5.94 s)
    fmin: float = 0.0  # lowest filter edge in Hz
    fmax: float = 11025.0  # highest filter edge in Hz
    min_db: float = -100.0  # dB mapped to -1 (and the clipping floor)
    max_db: float = 0.0  # dB mapped to +1 (and the clipping ceiling)

    @property
    def frame_rate(self) -> float:
        """Mel frames per second."""
        return self.sample_rate / self.hop_length

    @property
    def window_seconds(self) -> float:
        return self.frames * self.hop_length / self.sample_rate

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, MelConfig] = {
    "tiny": MelConfig(n_fft=1024, n_mels=80),
    "paper": MelConfig(n_fft=2048, n_mels=160),
}


def db_to_norm(db: Tensor, min_db: float, max_db: float) -> Tensor:
    """dB -> [-1, 1] (clipped)."""
    return ((db.clamp(min_db, max_db) - min_db) / (max_db - min_db)) * 2 - 1


def norm_to_db(x: Tensor, min_db: float, max_db: float) -> Tensor:
    """[-1, 1] -> dB (no clipping, so gradients pass everywhere)."""
    return (x + 1) / 2 * (max_db - min_db) + min_db
