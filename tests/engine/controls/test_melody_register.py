"""The melody control's MIDI targets and register term, on mels of synthetic harmonic tones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ditto_live.engine.audio import PRESETS, MelFrontEnd
from ditto_live.engine.controls.melody import (
    NO_NOTE,
    OCTAVE_OFFSETS,
    chroma_weights,
    melody_control,
    melody_target,
    octave_energy,
    pitch_candidates,
    register_log_probs,
    register_loss,
    register_weights,
)

MEL = PRESETS["tiny"]
FRAMES = 64


@pytest.fixture(scope="module")
def front() -> MelFrontEnd:
    return MelFrontEnd(MEL)


@pytest.fixture(scope="module")
def weights():
    return register_weights(MEL.n_mels, MEL.fmin, MEL.fmax)


def tone_mel(front: MelFrontEnd, midi: float, harmonics: int = 6) -> torch.Tensor:
    """Normalised mel of a harmonic tone (partials decaying 0.7 each). -> [1, 1, F, FRAMES]"""
    t = np.arange(FRAMES * MEL.hop_length) / MEL.sample_rate
    f = 440.0 * 2 ** ((midi - 69) / 12)
    audio = sum(0.3 * 0.7 ** (h - 1) * np.sin(2 * np.pi * h * f * t) for h in range(1, harmonics + 1))
    return front(torch.tensor(audio, dtype=torch.float32)[None])[..., :FRAMES]


def test_melody_target_keeps_pitch_classes_by_default_and_midi_pitches_when_asked():
    notes = [[60, 0, 0.5], [76, 0.5, 0.5]]
    classes = melody_target(notes, "seconds", 120, 100, MEL.frame_rate)
    pitches = melody_target(notes, "seconds", 120, 100, MEL.frame_rate, keep_octave=True)
    assert set(classes.tolist()) == {0, 4, NO_NOTE}
    assert set(pitches.tolist()) == {60, 76, NO_NOTE}
    assert torch.equal(torch.where(pitches >= 0, pitches % 12, pitches), classes)


def test_candidates_beyond_the_midi_range_and_silent_frames_are_invalid():
    cand, valid = pitch_candidates(torch.tensor([5, 120, NO_NOTE]), OCTAVE_OFFSETS)
    assert valid[:, 0].tolist() == [False, False, True, True, True]  # 5 - 24 and 5 - 12 are below 0
    assert valid[:, 1].tolist() == [True, True, True, False, False]
    assert not valid[:, 2].any()
    assert int(cand.min()) >= 0 and int(cand.max()) <= 127


@pytest.mark.parametrize("written", [60, 64, 71])
def test_register_loss_is_small_at_the_written_pitch_and_large_an_octave_or_a_semitone_off(front, weights,
                                                                                          written):
    target = torch.full((FRAMES,), written)
    right = float(register_loss(tone_mel(front, written), target, MEL.min_db, MEL.max_db, weights))
    for played in (written + 12, written + 24, written - 12, written + 1, written - 1):
        wrong = float(register_loss(tone_mel(front, played), target, MEL.min_db, MEL.max_db, weights))
        assert wrong > right + 5.0, played


def test_octave_energy_puts_a_tone_two_octaves_up_in_the_upper_octave(front, weights):
    target = torch.full((FRAMES,), 60)
    log_probs = register_log_probs(octave_energy(tone_mel(front, 84), MEL.min_db, MEL.max_db, weights.octave),
                                   target, OCTAVE_OFFSETS)
    assert int(log_probs[0, :, FRAMES // 2].argmax()) == OCTAVE_OFFSETS.index(24)


def test_register_loss_ignores_frames_without_a_note(front, weights):
    x = tone_mel(front, 72)
    target = torch.full((FRAMES,), 60)
    half = target.clone()
    half[: FRAMES // 2] = NO_NOTE
    whole = register_loss(x, target, MEL.min_db, MEL.max_db, weights)
    part = register_loss(x, half, MEL.min_db, MEL.max_db, weights)
    assert torch.isfinite(part).all()
    assert float(part) == pytest.approx(float(whole), rel=0.05)  # a steady tone: every frame scores alike


def test_melody_control_with_register_adds_the_register_loss_and_passes_gradient(front, weights):
    cw = chroma_weights(MEL.n_mels, MEL.fmin, MEL.fmax)
    target = torch.full((FRAMES,), 60)
    x = tone_mel(front, 72).requires_grad_(True)
    plain = melody_control(target, MEL.min_db, MEL.max_db, cw)
    reg = melody_control(target, MEL.min_db, MEL.max_db, cw, register=weights, register_weight=2.0)
    expected = plain.loss(x) + 2.0 * register_loss(x, target, MEL.min_db, MEL.max_db, weights)
    total = reg.loss(x)
    assert torch.allclose(total, expected)
    total.sum().backward()
    assert torch.isfinite(x.grad).all() and float(x.grad.abs().sum()) > 0


def test_octave_free_chroma_scores_a_tone_an_octave_up_as_well_as_the_written_one(front):
    cw = chroma_weights(MEL.n_mels, MEL.fmin, MEL.fmax)
    target = torch.full((FRAMES,), 72)
    control = melody_control(target, MEL.min_db, MEL.max_db, cw)  # MIDI target, no register: octave-free
    assert float(control.loss(tone_mel(front, 84))) < 0.5
    assert torch.equal(control.target, torch.full((FRAMES,), 0))  # plots see pitch classes


def test_register_refuses_pitch_class_targets(weights):
    cw = chroma_weights(MEL.n_mels, MEL.fmin, MEL.fmax)
    with pytest.raises(ValueError, match="MIDI pitches"):
        melody_control(torch.full((FRAMES,), 4), MEL.min_db, MEL.max_db, cw, register=weights)
