"""Intensity control (paper §4.1): frame energy in dB, smoothed by a ~1 s moving average.

DITTO measures 20 log10 RMS of the vocoded audio; here the energy comes straight from the mel so
the vocoder stays out of the loop. Each band's power is weighted by its width (a Slaney-normalised
triangle integrates to 1 Hz-weighted unit, so width x value recovers the band's share of the total
power), summed, and shifted by a calibration offset so the feature reads as RMS dB of the audio.
"""

from __future__ import annotations

import math

import librosa
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ditto_live.engine.audio import norm_to_db
from ditto_live.engine.controls.combine import Control

SHAPES = ("crescendo", "decrescendo", "swell", "dip", "steps", "flat")
# sum_b w_b mel_b of a Hann-windowed STFT normalised by the window sum is 3/4 of the mean square of the
# signal, so this offset turns the mel energy into 20 log10 RMS (checked against librosa to ~0.1 dB)
RMS_OFFSET_DB = 10.0 * math.log10(4.0 / 3.0)
DEFAULT_LOW_DB, DEFAULT_HIGH_DB = -35.0, -12.0  # RMS dB range of the named shapes


def band_weights(n_mels: int, fmin: float, fmax: float) -> Tensor:
    """Width in Hz of each Slaney mel triangle, halved: sum_b w_b * mel_b ~ total power. [F]"""
    edges = librosa.mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax)
    return torch.tensor((edges[2:] - edges[:-2]) / 2.0, dtype=torch.float32)


def frame_energy_db(x0: Tensor, min_db: float, max_db: float, weights: Tensor) -> Tensor:
    """Power-sum over bands in dB. x0: [B, 1, F, N] normalised mel; weights: [F] -> [B, N]."""
    power = 10.0 ** (norm_to_db(x0.float(), min_db, max_db) / 10.0)  # [B, 1, F, N]
    total = (power[:, 0] * weights.to(x0.device)[:, None]).sum(1)  # [B, N]
    return 10.0 * torch.log10(total + 1e-10)


def moving_average(x: Tensor, width: int) -> Tensor:
    """Centred moving average along the last axis, edges replicated. x: [B, N] -> [B, N]."""
    width = max(1, int(width) | 1)  # odd, so the window is centred
    if width == 1:
        return x
    padded = F.pad(x[:, None], (width // 2, width // 2), mode="replicate")  # [B, 1, N + w - 1]
    kernel = torch.full((1, 1, width), 1.0 / width, device=x.device, dtype=x.dtype)
    return F.conv1d(padded, kernel)[:, 0]


def intensity_feature(x0: Tensor, min_db: float, max_db: float, weights: Tensor, offset_db: float = RMS_OFFSET_DB,
                      smooth_frames: int = 87) -> Tensor:
    """Smoothed frame energy in dB (calibrated to RMS dB by ``offset_db``). [B, 1, F, N] -> [B, N]"""
    return moving_average(frame_energy_db(x0, min_db, max_db, weights), smooth_frames) + offset_db


def intensity_loss(feature: Tensor, target: Tensor) -> Tensor:
    """MSE in dB^2 per batch row. feature: [B, N]; target: [N] -> [B]."""
    return ((feature - target.to(feature.device)) ** 2).mean(-1)


def seconds_per_unit(unit: str, bpm: float) -> float:
    """Length of one ``unit`` ("seconds", "beats", "bars" of 4 beats) in seconds."""
    if unit == "seconds":
        return 1.0
    if unit == "beats":
        return 60.0 / bpm
    if unit == "bars":
        return 240.0 / bpm
    raise ValueError(f"unknown time unit {unit!r} (seconds, beats or bars)")


def intensity_from_points(points: list[list[float]], unit: str, bpm: float, frames: int,
                          frame_rate: float) -> Tensor:
    """Breakpoints [[time, dB], ...] -> a dB curve per frame, linear between points, flat beyond. [N]"""
    if not points:
        raise ValueError("intensity points: expected at least one [time, dB] pair")
    pts = sorted((float(t) * seconds_per_unit(unit, bpm), float(db)) for t, db in points)
    times = np.arange(frames) / frame_rate
    curve = np.interp(times, [p[0] for p in pts], [p[1] for p in pts])
    return torch.tensor(curve, dtype=torch.float32)


def intensity_shape(name: str, frames: int, low_db: float = DEFAULT_LOW_DB, high_db: float = DEFAULT_HIGH_DB) -> Tensor:
    """A named dB curve over ``frames``: crescendo, decrescendo, swell, dip, steps, flat. [N]"""
    u = torch.linspace(0.0, 1.0, frames)
    if name == "crescendo":
        s = u
    elif name == "decrescendo":
        s = 1 - u
    elif name == "swell":
        s = torch.sin(math.pi * u)
    elif name == "dip":
        s = 1 - torch.sin(math.pi * u)
    elif name == "steps":
        s = torch.floor(u * 4).clamp(max=3) / 3
    elif name == "flat":
        s = torch.full_like(u, 0.5)
    else:
        raise ValueError(f"unknown intensity shape {name!r} (one of {', '.join(SHAPES)})")
    return low_db + (high_db - low_db) * s


def intensity_control(target: Tensor, min_db: float, max_db: float, weights: Tensor, offset_db: float = RMS_OFFSET_DB,
                      smooth_frames: int = 87, weight: float = 1.0) -> Control:
    """The intensity control for a dB target curve [N] (N = the mel's frame count)."""
    def feature(x0: Tensor) -> Tensor:
        return intensity_feature(x0, min_db, max_db, weights, offset_db, smooth_frames)

    return Control("intensity", lambda x0: intensity_loss(feature(x0), target), weight, feature, target)
