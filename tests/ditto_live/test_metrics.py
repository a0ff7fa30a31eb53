"""External measures are right on constructed inputs."""

from __future__ import annotations

import numpy as np
import pytest

from ditto_live.judges import metrics

SR = 22050


def tone(freq: float, seconds: float = 3.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_pure_tone_chroma_accuracy_is_perfect_for_its_pitch_class():
    audio = tone(440.0)  # A4 -> pitch class 9
    target = np.full(256, 9)
    assert metrics.melody_accuracy(audio, SR, target) == 1.0
    assert metrics.melody_accuracy(audio, SR, np.full(256, 0)) == 0.0


def test_chroma_accuracy_reads_a_midi_target_by_its_pitch_class():
    audio = tone(440.0)  # A4
    assert metrics.melody_accuracy(audio, SR, np.full(256, 57)) == 1.0  # A3: same class, other octave
    assert metrics.melody_accuracy(audio, SR, np.full(256, 60)) == 0.0


def test_known_rms_curve_gives_zero_mse():
    audio = tone(220.0, amp=0.5)
    curve = metrics.rms_db_curve(audio, SR)
    assert metrics.intensity_mse(audio, SR, curve) == pytest.approx(0.0, abs=1e-9)
    # a sine of amplitude a has RMS a / sqrt(2): -9.03 dB for a = 0.5, away from the edges
    assert np.median(curve) == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.2)


def test_structure_of_aba_audio_matches_its_block_matrix_better_than_aaa():
    audio = np.concatenate([tone(262, 2), tone(1500, 2), tone(262, 2)]) + 0.01 * np.random.default_rng(0).standard_normal(6 * SR).astype(np.float32)
    labels = np.repeat([0, 1, 0], 16)
    aba = (labels[:, None] == labels[None, :]).astype(float)
    aaa = np.ones((48, 48))
    assert metrics.structure_mse(audio, SR, aba) < metrics.structure_mse(audio, SR, aaa)


def test_tones_are_voiced_and_noise_is_flat():
    assert metrics.voiced_fraction(tone(330.0), SR) > 0.8
    noise = np.random.default_rng(0).standard_normal(SR * 2).astype(np.float32) * 0.1
    assert metrics.spectral_flatness(noise) > 10 * metrics.spectral_flatness(tone(330.0))
