"""The melody control's audible-pitch term: harmonic contrast on the spectrum a vocoder will synthesise.

The spectrum here is the STFT of a synthetic harmonic tone (what a perfect vocoder would render), so the
term is checked on the resolution it exists for: the cents the mel cannot tell apart.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ditto_live.engine.audio import PRESETS, MelFrontEnd
from ditto_live.engine.controls.melody import (
    AudiblePitch,
    audible_pitch_loss,
    chroma_weights,
    melody_control,
    register_loss,
    register_weights,
    spectrum_contrast_weights,
)

MEL = PRESETS["tiny"]
N_FFT = 1024
FRAMES = 48


def tone(midi: float) -> np.ndarray:
    t = np.arange(FRAMES * MEL.hop_length) / MEL.sample_rate
    f = 440.0 * 2 ** ((midi - 69) / 12)
    return sum(0.3 * 0.7 ** (h - 1) * np.sin(2 * np.pi * h * f * t) for h in range(1, 7)).astype(np.float32)


def spectrum_bels(audio: np.ndarray) -> torch.Tensor:
    """Log10 power of the tone's STFT, as Vocoder.log_power gives it. -> [1, n_fft/2 + 1, FRAMES]"""
    spec = torch.stft(torch.from_numpy(audio), N_FFT, MEL.hop_length, window=torch.hann_window(N_FFT),
                      center=True, return_complex=True)[..., :FRAMES]
    return torch.log10(spec.abs().square() + 1e-10)[None]


@pytest.fixture(scope="module")
def contrast() -> torch.Tensor:
    return spectrum_contrast_weights(N_FFT, MEL.sample_rate)


def heard(played: float, contrast: torch.Tensor) -> AudiblePitch:
    bels = spectrum_bels(tone(played))
    return AudiblePitch(lambda x0: bels.expand(x0.shape[0], -1, -1), contrast)


@pytest.mark.parametrize("written", [57, 61, 67])
def test_the_audible_term_is_sure_of_the_written_pitch_and_turns_against_it_past_half_a_semitone(contrast,
                                                                                              written):
    target = torch.full((FRAMES,), written)
    x0 = torch.zeros(1, 1, MEL.n_mels, FRAMES)

    def loss(played: float) -> float:
        return float(audible_pitch_loss(x0, target, heard(played, contrast)))

    assert loss(written) < 0.1
    assert loss(written + 0.6) > 2.0 and loss(written - 0.6) > 2.0  # nearer the neighbour than the written
    for played in (written + 1, written - 1, written + 7, written + 12, written - 12):
        assert loss(played) > 5.0, played


def test_on_the_mel_the_register_term_is_never_sure_of_a_clean_tone():
    """Why the term exists: bands a semitone wide leave the mel's register NLL near 0.9 even at the written
    pitch, where the spectrum's is near 0, so only the spectrum's term keeps pulling to the exact note."""
    front = MelFrontEnd(MEL)
    weights = register_weights(MEL.n_mels, MEL.fmin, MEL.fmax)
    target = torch.full((FRAMES,), 61)
    mel = front(torch.from_numpy(tone(61))[None])[..., :FRAMES]
    x0 = torch.zeros(1, 1, MEL.n_mels, FRAMES)
    on_spectrum = float(audible_pitch_loss(x0, target, heard(61, spectrum_contrast_weights(N_FFT, MEL.sample_rate))))
    on_mel = float(register_loss(mel, target, MEL.min_db, MEL.max_db, weights))
    assert on_spectrum < 0.1 < 0.5 < on_mel


def test_melody_control_adds_the_audible_term_and_passes_gradient_through_the_spectrum(contrast):
    cw = chroma_weights(MEL.n_mels, MEL.fmin, MEL.fmax)
    target = torch.full((FRAMES,), 60)
    projection = torch.randn(N_FFT // 2 + 1, MEL.n_mels, generator=torch.Generator().manual_seed(0)) * 0.1
    audible = AudiblePitch(lambda x0: torch.einsum("kf,bfn->bkn", projection, x0[:, 0]), contrast)
    x = torch.rand(1, 1, MEL.n_mels, FRAMES).requires_grad_(True)
    plain = melody_control(target, MEL.min_db, MEL.max_db, cw)
    both = melody_control(target, MEL.min_db, MEL.max_db, cw, audible=audible, audible_weight=2.0)
    total = both.loss(x)
    assert torch.allclose(total, plain.loss(x) + 2.0 * audible_pitch_loss(x, target, audible))
    total.sum().backward()
    assert torch.isfinite(x.grad).all() and float(x.grad.abs().sum()) > 0


def test_the_audible_term_refuses_pitch_class_targets(contrast):
    audible = AudiblePitch(lambda x0: x0[:, 0], contrast)
    with pytest.raises(ValueError, match="MIDI pitches"):
        melody_control(torch.full((FRAMES,), 4), MEL.min_db, MEL.max_db,
                       chroma_weights(MEL.n_mels, MEL.fmin, MEL.fmax), audible=audible)
