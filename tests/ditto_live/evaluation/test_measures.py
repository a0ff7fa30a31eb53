"""The measures the suite reports are right on constructed inputs (FAD, intensity, melody, overlap)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import linalg

from ditto_live.controls import ClipTarget
from ditto_live.controls.melody import melody_notes
from ditto_live.controls.painting import MaskedTarget
from ditto_live.engine.audio import MelFrontEnd
from ditto_live.engine.controls.melody import melody_target
from ditto_live.evaluation.runner import control_metrics
from ditto_live.evaluation.scoring import fad, kernel_distance
from ditto_live.judges import metrics

from .conftest import MEL, melody_audio

SR = MEL.sample_rate


def frechet_distance_sqrtm(a: np.ndarray, b: np.ndarray) -> float:
    """The FAD formula as written (scipy's matrix square root): the reference ``fad`` must equal."""
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = np.real(linalg.sqrtm(cov_a @ cov_b))
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2 * covmean))


def test_fad_is_zero_for_identical_sets_grows_with_the_mean_shift_and_needs_two_clips():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((400, 6))
    b = rng.standard_normal((400, 6))
    assert fad(a, a) == pytest.approx(0.0, abs=1e-6)
    near, far = fad(a, b), fad(a, b + 2.0)
    assert near < 0.2 and far == pytest.approx(6 * 4.0, rel=0.1)  # |mu_a - mu_b|^2 = 6 * 2^2
    assert math.isnan(fad(a[:1], b))
    c = rng.standard_normal((300, 6)) @ rng.standard_normal((6, 6)) + 0.5  # correlated, shifted
    assert fad(a, c) == pytest.approx(frechet_distance_sqrtm(a, c), rel=1e-6)  # the textbook formula


def test_a_tone_melody_built_from_truth_frames_is_measured_at_full_accuracy():
    pitch = np.repeat(np.array([0, 4, 7, 11, 2, 5, 9, 0]), MEL.frames // 8)
    notes = melody_notes(pitch, MEL.frame_rate)
    target = melody_target(notes, "seconds", 120.0, MEL.frames, MEL.frame_rate).numpy()
    audio = melody_audio(pitch)
    assert metrics.melody_accuracy(audio, SR, target) > 0.95  # a few frames blur at note changes
    assert metrics.melody_accuracy(audio, SR, (target + 6) % 12) < 0.05  # a tritone away: no frame right


def test_a_known_exponential_fade_has_the_linear_db_curve_it_was_built_from():
    seconds = MEL.window_seconds
    t = np.arange(int(seconds * SR)) / SR
    db = -40.0 + 25.0 * t / seconds  # a crescendo, linear in dB
    amp = np.sqrt(2) * 10 ** (db / 20)  # sine RMS = amp / sqrt(2)
    audio = (amp * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    target = np.interp(np.linspace(0, seconds, MEL.frames), t, db)
    assert metrics.intensity_mse(audio, SR, target) < 1.0  # only the 1 s smoothing at the ends departs
    assert metrics.intensity_mse(audio, SR, target[::-1]) > 100.0


def test_overlap_error_is_zero_when_the_audio_is_its_reference_and_large_when_silent():
    front = MelFrontEnd(MEL)
    pitch = np.repeat(np.arange(8) % 12, MEL.frames // 8)
    audio = melody_audio(pitch)
    with torch.no_grad():
        ref = front(torch.from_numpy(audio)[None])[0]  # [1, F, N]
    mask = torch.zeros(MEL.frames)
    mask[:86] = 1
    mask[-86:] = 1
    target = ClipTarget("inpaint", 1.0, MaskedTarget(ref, mask))
    same = control_metrics([target], audio, front)["inpaint_mse_db2"]
    silent = control_metrics([target], np.zeros_like(audio), front)["inpaint_mse_db2"]
    assert same == pytest.approx(0.0, abs=1e-6) and silent > 100.0


def test_kernel_distance_is_unbiased_where_fad_rewards_a_collapsed_set():
    rng = np.random.default_rng(3)
    centre = 4.0 * np.eye(16)[0]

    def sample(n, spread=1.0):  # unit-norm embeddings around one direction, as from a text-audio model
        x = centre + spread * rng.standard_normal((n, 16))
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    reference, few_real, collapsed = sample(400), sample(4), sample(4, spread=0.01)
    # at N = 4, FAD prefers four near-identical clips (their covariance is ~0); KID ranks them the right way
    assert fad(collapsed, reference) < fad(few_real, reference)
    assert kernel_distance(few_real, reference) < kernel_distance(collapsed, reference)
    draws = [kernel_distance(sample(4), reference) for _ in range(200)]
    assert abs(np.mean(draws)) < 0.25 * kernel_distance(collapsed, reference)  # ~0 in expectation
    assert math.isnan(kernel_distance(few_real[:1], reference))
