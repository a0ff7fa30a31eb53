"""The melody control as a job gets it: the kind's own defaults and the engine's shipped weights, not a test's.

Octave-free chroma is met best by a tune 12-24 semitones above the written one (the mel resolves semitones
there; engine/controls/melody.py), so a job's melody control must score the written octave far better than
the octaves above it: that needs ``"register"`` on by default and the register term at a weight that counts.
With a neural vocoder, the spectrum it will render must pull to the exact note (the audible-pitch term).
Setting either weight to 0, or the register default to false, fails here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ditto_live.engine.audio import MelFrontEnd
from ditto_live.engine.controls.combine import Control
from ditto_live.generation.jobspec import parse_job
from ditto_live.generation.pipeline import Plan, plan_job
from ditto_live.generation.targets import window_controls

from .test_jobs import MEL, narrow_bundle

WRITTEN = 60  # the job's one note, middle C, held over the clip
N_FFT = 1024  # the fake vocoder's STFT size


@pytest.fixture(scope="module")
def front() -> MelFrontEnd:
    return MelFrontEnd(MEL)


@pytest.fixture(scope="module")
def plan(front, tmp_path_factory) -> Plan:
    """A job with a melody control and nothing else said: no "register" key, no weights."""
    spec = parse_job({"model": "narrow", "seconds": 0.7,
                      "controls": [{"type": "melody", "notes": [[WRITTEN, 0, 1]], "unit": "seconds"}]})
    return plan_job(spec, narrow_bundle(), "cpu", [str(tmp_path_factory.mktemp("in"))], front)


def tone(midi: float, frames: int) -> torch.Tensor:
    """A harmonic tone (six partials, each 0.7 of the last) at ``midi``. -> audio [frames * hop]"""
    t = np.arange(frames * MEL.hop_length) / MEL.sample_rate
    f = 440.0 * 2 ** ((midi - 69) / 12)
    return torch.tensor(sum(0.3 * 0.7 ** (h - 1) * np.sin(2 * np.pi * h * f * t) for h in range(1, 7)),
                        dtype=torch.float32)


def tone_mel(front: MelFrontEnd, midi: float, frames: int) -> torch.Tensor:
    """The tone's normalised mel. -> [1, 1, F, frames]"""
    return front(tone(midi, frames)[None])[..., :frames]


class HeardVocoder:
    """A neural vocoder stand-in whose spectrum (``log_power``) is a fixed tone's STFT, whatever x0 is."""

    class cfg:  # noqa: N801 -- read as vocoder.cfg.n_fft, like engine.vocoder.Vocoder's config
        n_fft = N_FFT

    def __init__(self, midi: float, frames: int):
        spec = torch.stft(tone(midi, frames), N_FFT, MEL.hop_length, window=torch.hann_window(N_FFT),
                          center=True, return_complex=True)[..., :frames]
        self.bels = torch.log10(spec.abs().square() + 1e-10)[None]  # [1, n_fft/2 + 1, frames]

    def log_power(self, x0: torch.Tensor) -> torch.Tensor:
        return self.bels.expand(x0.shape[0], -1, -1)


def shipped_control(plan: Plan, vocoder: HeardVocoder | None = None) -> Control:
    (control,) = window_controls(plan.targets, MEL, 0, plan.total, vocoder=vocoder)  # type: ignore[arg-type]
    return control


def test_a_job_s_melody_keeps_its_written_octave_by_default(plan):
    assert plan.targets[0].info["register"] is True  # the sidecar says so too


@pytest.mark.parametrize("played", [WRITTEN + 12, WRITTEN + 24])
def test_a_job_s_melody_scores_the_written_octave_far_better_than_the_octaves_above(plan, front, played):
    """Chroma alone prefers the tune an octave or two up (bands resolve semitones there); the shipped control
    must not: the register term, on by default and at its shipped weight, turns the order round."""
    control = shipped_control(plan)
    right = float(control.loss(tone_mel(front, WRITTEN, plan.total)))
    wrong = float(control.loss(tone_mel(front, played, plan.total)))
    assert wrong > right + 2.0


def test_a_job_s_melody_with_a_neural_vocoder_pulls_to_the_exact_note_it_will_render(plan, front):
    """The same mel, the vocoder's spectrum at the written pitch or 0.6 semitone off: the audible-pitch term
    at its shipped weight tells them apart (the mel's terms cannot: they read the same mel)."""
    x0 = tone_mel(front, WRITTEN, plan.total)
    exact = float(shipped_control(plan, HeardVocoder(WRITTEN, plan.total)).loss(x0))
    for off in (WRITTEN + 0.6, WRITTEN - 0.6):
        assert float(shipped_control(plan, HeardVocoder(off, plan.total)).loss(x0)) > exact + 0.5, off
