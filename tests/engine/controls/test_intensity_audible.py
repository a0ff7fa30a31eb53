"""The intensity control's audible term reads the rendered audio as BS.1770 does, keeps a drawn step a step,
and its straight-through form has the full term's value with a gradient that skips the vocoder."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import scipy.signal
import torch

from ditto_live.engine.controls.intensity import (
    AudibleLoudness,
    audible_intensity,
    audible_intensity_loss,
    band_weights,
    block_target,
    intensity_control,
    k_weighting,
    mel_power,
    spectrum_loudness_weights,
)
from ditto_live.engine.vocoder import Vocoder, VocoderConfig
from ditto_live.judges.independent import judge_intensity, momentary_loudness

SR, HOP, N_FFT, N = 22050, 256, 1024, 256  # a 3 s clip on the model's frame grid
BLOCK = 34  # 0.4 s of frames: the momentary meter's block


def modulated_noise(curve_db: np.ndarray, seed: int = 0) -> np.ndarray:
    """White noise whose RMS dB follows ``curve_db`` [N] frame by frame. -> [N * HOP]"""
    gain = np.interp(np.arange(len(curve_db) * HOP) / HOP, np.arange(len(curve_db)), curve_db)
    return np.random.default_rng(seed).standard_normal(len(curve_db) * HOP) * 10.0 ** (gain / 20.0)


def rendered(wav: np.ndarray, k_weighted: bool = True) -> AudibleLoudness:
    """An audible term whose 'vocoder' renders ``wav`` (scaled by the mean of x0 + 1, so it has a gradient)."""
    fixed = torch.tensor(wav, dtype=torch.float32)[None]
    return AudibleLoudness(lambda x0: fixed * (x0.mean((1, 2, 3))[:, None] + 1.0),
                           spectrum_loudness_weights(N_FFT, SR, k_weighted), N_FFT, HOP, BLOCK)


def test_k_weighting_is_the_judge_filters_response():
    freqs = np.array([20.0, 38.0, 100.0, 997.0, 1500.0, 4000.0, 10000.0])
    meter = pyloudnorm.Meter(SR)
    expected = np.ones_like(freqs)
    for f in meter._filters.values():  # pyloudnorm's own K-weighting biquads
        _, h = scipy.signal.freqz(f.b, f.a, worN=2 * np.pi * freqs / SR)
        expected *= np.abs(h) ** 2
    assert np.allclose(k_weighting(freqs, SR), expected, rtol=1e-6)
    assert 10 * np.log10(k_weighting(np.array([10000.0]), SR)[0]) > 3.5  # the +4 dB shelf
    assert 10 * np.log10(k_weighting(np.array([20.0]), SR)[0]) < -3.0  # the RLB high pass


def test_audible_loudness_reads_the_momentary_meter_on_the_rendered_audio():
    curve = np.linspace(-35.0, -12.0, N)
    wav = modulated_noise(curve)
    heard = audible_intensity(torch.zeros(1, 1, 8, N), rendered(wav))[0].numpy()  # [N] LU
    times, lufs = momentary_loudness(wav, SR)
    ours = np.interp(times, np.arange(N) * HOP / SR, heard)
    inside = (times > 0.3) & (times < times[-1] - 0.3)  # the edges: the meter's blocks vs our replicated pad
    assert np.abs(ours[inside] - lufs[inside]).max() < 0.5


def test_a_step_is_met_by_audio_that_steps():
    step = np.where(np.arange(N) < N // 2, -14.0, -32.0)  # an 18 dB drop, as a producer draws it
    target = torch.tensor(step, dtype=torch.float32)
    x0 = torch.zeros(1, 1, 8, N)
    exact = audible_intensity_loss(x0, target, rendered(modulated_noise(step), k_weighted=False))  # RMS dB
    ramped = np.interp(np.arange(N), [N // 2 - 43, N // 2 + 43], [-14.0, -32.0])  # a 1 s ramp instead
    late = audible_intensity_loss(x0, target, rendered(modulated_noise(ramped), k_weighted=False))
    assert float(exact) < 0.5 and float(late) > 4.0
    blocked = block_target(target, BLOCK).numpy()
    far = np.abs(np.arange(N) - N // 2) > BLOCK // 2 + 1
    assert np.allclose(blocked[far], step[far], atol=1e-4)  # softened only where the meter's block spans it
    exact_judge = judge_intensity(modulated_noise(step), SR, step)
    assert exact_judge["intensity_loudness_corr"] < 0.99  # the judge's own ceiling on a step is below 1


def test_straight_through_has_the_full_terms_value_and_skips_the_vocoders_gradient():
    g = torch.Generator().manual_seed(0)
    vocoder = Vocoder(VocoderConfig(n_mels=16, dim=16, intermediate=32, layers=1)).eval().requires_grad_(True)
    weights = spectrum_loudness_weights(N_FFT, SR)
    bw = band_weights(16, 0.0, SR / 2)
    full = AudibleLoudness(vocoder, weights, N_FFT, HOP, BLOCK)
    through = AudibleLoudness(vocoder, weights, N_FFT, HOP, BLOCK,
                              lambda x0: mel_power(x0, -100.0, 0.0, bw))
    x0 = (torch.rand(2, 1, 16, N, generator=g) * 2 - 1).requires_grad_(True)
    assert torch.allclose(audible_intensity(x0, full), audible_intensity(x0, through), atol=1e-4)
    target = torch.full((N,), -20.0)
    audible_intensity_loss(x0, target, through).sum().backward()
    assert x0.grad is not None and bool(torch.isfinite(x0.grad).all()) and float(x0.grad.abs().sum()) > 0
    assert all(p.grad is None for p in vocoder.parameters())  # no backward through the vocoder


def test_the_audible_loss_falls_as_x0_is_optimised_and_mixes_with_the_mel_term():
    g = torch.Generator().manual_seed(1)
    vocoder = Vocoder(VocoderConfig(n_mels=16, dim=16, intermediate=32, layers=1)).eval().requires_grad_(False)
    audible = AudibleLoudness(vocoder, spectrum_loudness_weights(N_FFT, SR), N_FFT, HOP, BLOCK)
    x0 = (torch.rand(1, 1, 16, N, generator=g) * 2 - 1).requires_grad_(True)
    level = float(audible_intensity(x0, audible).detach().mean())  # a random vocoder's level: ask for a step around it
    target = torch.tensor(np.where(np.arange(N) < N // 2, level + 4.0, level - 4.0), dtype=torch.float32)
    bw = band_weights(16, 0.0, SR / 2)
    only_heard = intensity_control(target, -100.0, 0.0, bw, smooth_frames=9, audible=audible, mel_weight=0.0)
    mixed = intensity_control(target, -100.0, 0.0, bw, smooth_frames=9, audible=audible, mel_weight=1.0)
    only_mel = intensity_control(target, -100.0, 0.0, bw, smooth_frames=9)
    assert torch.allclose(mixed.loss(x0), only_heard.loss(x0) + only_mel.loss(x0))
    opt = torch.optim.Adam([x0], lr=0.05)
    first = float(only_heard.loss(x0).detach())
    for _ in range(30):
        opt.zero_grad()
        only_heard.loss(x0).sum().backward()
        opt.step()
    assert float(only_heard.loss(x0).detach()) < 0.5 * first
