"""Intensity control (paper §4.1): a loudness curve over the clip, read on the mel or where it is heard.

The mel term (the paper's feature on the mel, so the vocoder stays out of the loop): each band's power is
weighted by its width (a Slaney-normalised triangle integrates to 1 Hz-weighted unit, so width x value
recovers the band's share of the total power), summed, shifted by a calibration offset so the feature reads
as RMS dB of the audio, and smoothed by a ~1 s moving average.

The audible term (issue 33): few-step student mels put energy in bins the vocoder does not render, so a
level read on the mel is not the level heard. With a neural vocoder the spectrum it will synthesise is known
before it is rendered (``Vocoder.log_power``); the term reads ITU-R BS.1770's K-weighted mean square of that
spectrum (loudness units), averaged in power over a block as the momentary meter does, against the target
curve averaged the same way. A drawn step is then met exactly by audio that steps (the 1 s dB average of the
mel term asks a step to overshoot), and the loss falls as the audio follows the curve.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import librosa
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ditto_live.engine.audio import norm_to_db
from ditto_live.engine.controls.combine import Control, Sketch, SketchFn

SHAPES = ("crescendo", "decrescendo", "swell", "dip", "steps", "flat")
# sum_b w_b mel_b of a Hann-windowed STFT normalised by the window sum is 3/4 of the mean square of the
# signal, so this offset turns the mel energy into 20 log10 RMS (checked against librosa to ~0.1 dB)
RMS_OFFSET_DB = 10.0 * math.log10(4.0 / 3.0)
DEFAULT_LOW_DB, DEFAULT_HIGH_DB = -35.0, -12.0  # RMS dB range of the named shapes
LUFS_OFFSET_DB = -0.691  # BS.1770: loudness = -0.691 + 10 log10(K-weighted mean square)
K_SHELF = (1500.0, 4.0, 1.0 / math.sqrt(2.0))  # BS.1770 stage 1: high shelf (Hz, dB gain, Q)
K_HIGH_PASS = (38.0, 0.5)  # BS.1770 stage 2: the RLB high pass (Hz, Q)


def band_weights(n_mels: int, fmin: float, fmax: float) -> Tensor:
    """Width in Hz of each Slaney mel triangle, halved: sum_b w_b * mel_b ~ total power. [F]"""
    edges = librosa.mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax)
    return torch.tensor((edges[2:] - edges[:-2]) / 2.0, dtype=torch.float32)


def frame_energy_db(x0: Tensor, min_db: float, max_db: float, weights: Tensor) -> Tensor:
    """Power-sum over bands in dB. x0: [B, 1, F, N] normalised mel; weights: [F] -> [B, N]."""
    return 10.0 * torch.log10(mel_power(x0, min_db, max_db, weights) + 1e-10)


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


def _biquad_power(b: np.ndarray, a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """|H(e^{iw})|^2 of a biquad (b, a: [3]) at angular frequencies w [K] -> [K]."""
    z = np.exp(-1j * w)
    return np.abs((b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)) ** 2


def k_weighting(freqs: np.ndarray, sample_rate: float) -> np.ndarray:
    """BS.1770 K-weighting's power gain at ``freqs`` Hz [K] -> [K]: the high shelf and the RLB high pass as
    the RBJ biquads pyloudnorm designs at ``sample_rate``."""
    w = 2.0 * np.pi * np.asarray(freqs, dtype=np.float64) / sample_rate
    fc, gain, q = K_SHELF
    big_a, w0 = 10.0 ** (gain / 40.0), 2.0 * np.pi * fc / sample_rate
    cos, root = math.cos(w0), 2.0 * math.sqrt(big_a) * math.sin(w0) / (2.0 * q)  # 2 sqrt(A) alpha
    shelf_b = big_a * np.array([(big_a + 1) + (big_a - 1) * cos + root, -2 * ((big_a - 1) + (big_a + 1) * cos),
                                (big_a + 1) + (big_a - 1) * cos - root])
    shelf_a = np.array([(big_a + 1) - (big_a - 1) * cos + root, 2 * ((big_a - 1) - (big_a + 1) * cos),
                        (big_a + 1) - (big_a - 1) * cos - root])
    fc, q = K_HIGH_PASS
    w0 = 2.0 * np.pi * fc / sample_rate
    alpha, cos = math.sin(w0) / (2.0 * q), math.cos(w0)
    hp_b = np.array([(1 + cos) / 2, -(1 + cos), (1 + cos) / 2])
    hp_a = np.array([1 + alpha, -2 * cos, 1 - alpha])
    return _biquad_power(shelf_b, shelf_a, w) * _biquad_power(hp_b, hp_a, w)


def spectrum_loudness_weights(n_fft: int, sample_rate: float, k_weighted: bool = True) -> Tensor:
    """Per-bin weights that turn a one-sided STFT power |X_k|^2 (Hann window, n_fft) into the mean square of
    the signal (Parseval: 2 for the bins a one-sided spectrum folds, 1 at DC and Nyquist, / (n_fft x the
    squared window's sum)); ``k_weighted``: BS.1770's K-weighted mean square with its -0.691 dB, so 10 log10
    of the sum reads loudness units, else 20 log10 RMS. [n_fft/2 + 1]"""
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    fold = np.full(len(freqs), 2.0)
    fold[0] = fold[-1] = 1.0
    window_power = float((np.hanning(n_fft + 1)[:-1] ** 2).sum())  # periodic Hann, as torch.hann_window
    weights = fold / (n_fft * window_power)
    if k_weighted:
        weights = weights * k_weighting(freqs, sample_rate) * 10.0 ** (LUFS_OFFSET_DB / 10.0)
    return torch.tensor(weights, dtype=torch.float32)


def block_mean(power: Tensor, width: int) -> Tensor:
    """Centred moving average of a power curve, edges replicated (the meter's block). [B, N] -> [B, N]"""
    return moving_average(power, width)


def synthesised_power(wav: Tensor, n_fft: int, hop: int, frames: int) -> Tensor:
    """|STFT|^2 of the waveform the vocoder renders (Hann, centred frames on the mel's grid): the spectrum as
    heard, not the head's predicted magnitude, whose phases partly cancel in the overlap-add (on real mels
    that prediction reads 8-9 dB above the rendered audio, unevenly). wav: [B, S] -> [B, n_fft/2 + 1, N]"""
    window = torch.hann_window(n_fft, device=wav.device, dtype=torch.float32)
    spec = torch.stft(wav.float(), n_fft, hop, window=window, center=True, return_complex=True)
    return spec[..., :frames].abs() ** 2


def audible_loudness(power: Tensor, weights: Tensor, block_frames: int) -> Tensor:
    """Level (LU, or RMS dB with flat weights) per frame of a one-sided power spectrum, block-averaged in power.
    power: [B, K, N] |X|^2; weights: [K] (``spectrum_loudness_weights``) -> [B, N]"""
    mean_square = (power * weights.to(power.device)[:, None]).sum(1)  # [B, N]
    return 10.0 * torch.log10(block_mean(mean_square, block_frames) + 1e-10)


def block_target(target_db: Tensor, block_frames: int) -> Tensor:
    """What a meter with the same block reads on audio whose level is exactly the target: the target's power
    block-averaged, in dB (a drawn step stays a step, softened only as the meter softens it). [N] -> [N]"""
    power = 10.0 ** (target_db.float() / 10.0)
    return 10.0 * torch.log10(block_mean(power[None], block_frames)[0])


@dataclass(frozen=True)
class AudibleLoudness:
    """What the audible term reads: the waveform the vocoder will synthesise and its loudness weights."""

    render: Callable[[Tensor], Tensor]  # x0 [B, 1, F, N] -> waveform [B, N * hop] (the vocoder's forward)
    weights: Tensor  # [n_fft/2 + 1] spectrum_loudness_weights(n_fft, sample_rate)
    n_fft: int  # analysis STFT size (the vocoder's)
    hop: int  # analysis hop (the mel's)
    block_frames: int  # frames of the power average (the meter's block: 0.4 s is 34 frames at 86 Hz)
    proxy: Callable[[Tensor], Tensor] | None = None  # x0 -> frame power [B, N] of the mel: when given, the
    # vocoder runs without a gradient and the loss's gradient flows through the mel's power (straight through)


def audible_intensity(x0: Tensor, audible: AudibleLoudness) -> Tensor:
    """Block loudness (LU) of the audio the vocoder renders from x0. [B, 1, F, N] -> [B, N]

    With a ``proxy`` the value is the same but its gradient is the mel's block loudness's (a straight-through
    estimator: the vocoder's backward pass, most of the term's cost, is skipped)."""
    def heard(x: Tensor) -> Tensor:
        power = synthesised_power(audible.render(x), audible.n_fft, audible.hop, x.shape[-1])  # [B, K, N]
        return audible_loudness(power, audible.weights, audible.block_frames)

    if audible.proxy is None:
        return heard(x0)
    with torch.no_grad():
        value = heard(x0)
    through = 10.0 * torch.log10(block_mean(audible.proxy(x0), audible.block_frames) + 1e-10)  # [B, N]
    return through + (value - through).detach()


def mel_power(x0: Tensor, min_db: float, max_db: float, weights: Tensor) -> Tensor:
    """Power per frame from the mel's bands (``frame_energy_db`` before the dB). [B, 1, F, N] -> [B, N]"""
    power = 10.0 ** (norm_to_db(x0.float(), min_db, max_db) / 10.0)  # [B, 1, F, N]
    return (power[:, 0] * weights.to(x0.device)[:, None]).sum(1)


def audible_intensity_loss(x0: Tensor, target: Tensor, audible: AudibleLoudness) -> Tensor:
    """MSE in LU^2 between the rendered audio's block loudness and the block-averaged target per batch row.
    x0: [B, 1, F, N]; target: [N] dB -> [B]"""
    return intensity_loss(audible_intensity(x0, audible), block_target(target, audible.block_frames))


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
                      smooth_frames: int = 87, weight: float = 1.0, audible: AudibleLoudness | None = None,
                      mel_weight: float = 1.0, audible_weight: float = 1.0, sketch_share: float = 0.0) -> Control:
    """The intensity control for a dB target curve [N] (N = the mel's frame count): ``mel_weight`` x the mel
    term + ``audible_weight`` x the audible term (when ``audible`` is given); ``sketch_share`` > 0: DITTO-2
    may start from the output gained to the curve (``gain_sketch``), holding that share of the start."""
    def feature(x0: Tensor) -> Tensor:
        return intensity_feature(x0, min_db, max_db, weights, offset_db, smooth_frames)

    def loss(x0: Tensor) -> Tensor:
        if audible is None:  # a Griffin-Lim bundle: the mel term alone
            return intensity_loss(feature(x0), target)
        heard = audible_weight * audible_intensity_loss(x0, target, audible)
        return heard + mel_weight * intensity_loss(feature(x0), target) if mel_weight else heard

    def level(x0: Tensor) -> tuple[Tensor, Tensor]:  # the level the loss reads [B, N] and its target [N]
        with torch.no_grad():
            if audible is None:
                return feature(x0), target
            return audible_intensity(x0, audible), block_target(target, audible.block_frames)

    sketch = Sketch(gain_sketch(level, min_db, max_db), sketch_share) if sketch_share > 0 else None
    return Control("intensity", loss, weight, feature, target, sketch)


def apply_gain(x0: Tensor, gain_db: Tensor, min_db: float, max_db: float) -> Tensor:
    """x0 with every band of frame n raised by gain_db[n] dB, within the mel's range.
    x0: [B, 1, F, N] normalised mel; gain_db: [B, N] -> [B, 1, F, N]"""
    return (x0 + gain_db[:, None, None, :] * 2.0 / (max_db - min_db)).clamp(-1.0, 1.0)


def gain_sketch(level: Callable[[Tensor], tuple[Tensor, Tensor]], min_db: float, max_db: float) -> SketchFn:
    """An intensity's sketch: the model's own output with each frame gained by what its level misses of the
    target (issue 27's warm start), so the start already follows the curve while keeping the output's
    sound. ``level``: x0 -> (level [B, N] dB, target [N] dB) as the loss reads them."""
    def sketch(x0: Tensor) -> Tensor:
        now, want = level(x0)
        return apply_gain(x0, want.to(now) - now, min_db, max_db)

    return sketch
