"""Target builders are exact on known inputs, and features read what they should on known mels."""

from __future__ import annotations

import pytest
import torch

from ditto_live.engine.audio import db_to_norm
from ditto_live.engine.controls.intensity import (
    band_weights,
    intensity_feature,
    intensity_from_points,
    intensity_shape,
    moving_average,
)
from ditto_live.engine.controls.masked import inpaint_target, loop_loss, masked_mse, outpaint_target
from ditto_live.engine.controls.melody import (
    NO_NOTE,
    chroma_log_probs,
    chroma_weights,
    melody_accuracy,
    melody_target,
)
from ditto_live.engine.controls.structure import form_target, mfcc, self_similarity, structure_loss

FR = 22050 / 256  # frames per second
C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]


def test_c_major_scale_at_120_bpm_gives_one_pitch_class_per_half_second():
    notes = [[p, i, 1] for i, p in enumerate(C_MAJOR)]  # quarter notes, in beats
    target = melody_target(notes, "beats", 120, 512, FR)
    for n in range(512):
        beat = int((n / FR) / 0.5)
        expected = C_MAJOR[beat] % 12 if beat < 8 else NO_NOTE
        assert int(target[n]) == expected, n
    assert int(target[0]) == 0 and int(target[44]) == 2 and int(target[330]) == 0  # C, D (0.51 s), high C (3.83 s)


def test_gaps_are_ignored_and_the_highest_overlapping_note_wins():
    target = melody_target([[60, 0, 1.0], [67, 0.5, 0.5], [62, 2.0, 0.5]], "seconds", 120, 256, FR)
    assert int(target[10]) == 0  # only C
    assert int(target[60]) == 7  # C and G overlap: G
    assert int(target[100]) == NO_NOTE and int(target[180]) == 2


def test_aba_form_is_the_block_matrix():
    expected = torch.tensor([
        [1, 1, 0, 0, 1, 1], [1, 1, 0, 0, 1, 1], [0, 0, 1, 1, 0, 0],
        [0, 0, 1, 1, 0, 0], [1, 1, 0, 0, 1, 1], [1, 1, 0, 0, 1, 1]], dtype=torch.float32)
    assert torch.equal(form_target("ABA", 6, size=6), expected)
    assert torch.equal(form_target("aba", 600, size=6), expected)
    aaba = form_target("AABA", 64, size=8)
    assert aaba[0, 3] == 1 and aaba[0, 5] == 0 and aaba[4, 5] == 1 and aaba[7, 0] == 1


def test_structure_feature_prefers_the_matching_form():
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(80, 1, generator=g), torch.rand(80, 1, generator=g)
    mel = torch.cat([a.expand(80, 20), b.expand(80, 20), a.expand(80, 20)], -1) * 1.6 - 0.8
    mel = mel + 0.05 * torch.randn(80, 60, generator=g)
    ssm = self_similarity(mfcc(mel[None, None], -100, 0), size=12)
    assert structure_loss(ssm, form_target("ABA", 60, 12)) < 0.5 * structure_loss(ssm, form_target("AB", 60, 12))


def test_intensity_points_interpolate_linearly_in_beats_and_hold_at_the_ends():
    curve = intensity_from_points([[0, -30], [4, -10]], "beats", 120, 400, FR)  # 4 beats = 2 s
    assert curve[0] == -30
    assert curve[int(FR)] == pytest.approx(-20, abs=0.05)  # 1 s = half-way
    assert (curve[int(2 * FR) + 1:] == -10).all()
    bars = intensity_from_points([[0, -30], [1, -10]], "bars", 120, 400, FR)
    torch.testing.assert_close(bars, curve)


def test_intensity_shapes_span_low_to_high():
    cres = intensity_shape("crescendo", 100, -40, -10)
    assert cres[0] == -40 and cres[-1] == -10 and (cres.diff() >= 0).all()
    swell = intensity_shape("swell", 101, -40, -10)
    assert swell[50] == pytest.approx(-10) and swell[0] == pytest.approx(-40)
    assert len(set(intensity_shape("steps", 100).tolist())) == 4
    with pytest.raises(ValueError, match="unknown intensity shape"):
        intensity_shape("wobble", 10)


def test_intensity_feature_rises_10_db_when_every_band_does():
    w = band_weights(80, 0, 11025)
    quiet = db_to_norm(torch.full((1, 1, 80, 64), -50.0), -100, 0)
    loud = db_to_norm(torch.full((1, 1, 80, 64), -40.0), -100, 0)
    q, lo = intensity_feature(quiet, -100, 0, w), intensity_feature(loud, -100, 0, w)
    torch.testing.assert_close(lo - q, torch.full_like(q, 10.0), atol=1e-3, rtol=0)
    torch.testing.assert_close(moving_average(torch.ones(2, 30), 7), torch.ones(2, 30))


def test_chroma_of_a_band_at_a_finds_pitch_class_a():
    weights = chroma_weights(80, 0, 11025)
    assert torch.allclose(weights.sum(1)[weights.sum(1) > 0], torch.ones(1))
    import librosa
    centres = librosa.mel_frequencies(82, fmin=0, fmax=11025)[1:-1]
    band = int(abs(centres - 1760).argmin())  # A6
    db = torch.full((1, 1, 80, 8), -90.0)
    db[:, :, band] = -20.0
    logp = chroma_log_probs(db_to_norm(db, -100, 0), -100, 0, weights)
    assert (logp.argmax(1) == 9).all()
    assert melody_accuracy(logp, torch.full((8,), 9))[0] == 1.0


def test_painting_targets_place_the_reference_where_asked():
    ref = torch.arange(2 * 10, dtype=torch.float32).reshape(1, 2, 10)
    _, mask = inpaint_target(ref, 3, 6)
    assert mask.tolist() == [1, 1, 1, 0, 0, 0, 1, 1, 1, 1]
    with pytest.raises(ValueError, match="outside the clip"):
        inpaint_target(ref, 8, 12)
    target, mask = outpaint_target(ref, 4, 8)
    assert torch.equal(target[..., :4], ref[..., -4:]) and mask.tolist() == [1] * 4 + [0] * 4
    x0 = target[None].clone()
    assert masked_mse(x0, target, mask)[0] == 0
    x0[..., 5:] += 1  # outside the mask: no effect
    assert masked_mse(x0, target, mask)[0] == 0
    periodic = torch.rand(1, 1, 4, 6).repeat(1, 1, 1, 3)
    assert loop_loss(periodic, 6)[0] == 0 and loop_loss(torch.rand(1, 1, 4, 18), 6)[0] > 0


def test_intensity_feature_reads_as_librosa_rms_db_of_the_audio():
    """The calibration offset: the mel energy equals 20 log10 RMS measured by librosa, within 0.3 dB."""
    import numpy as np

    from ditto_live.engine.audio import PRESETS, MelFrontEnd
    from ditto_live.judges.metrics import rms_db_curve

    cfg = PRESETS["tiny"]
    t = np.arange(256 * 256) / cfg.sample_rate
    rng = np.random.default_rng(0)
    for audio in (0.3 * np.sin(2 * np.pi * 440 * t) * np.linspace(0.1, 1, len(t)), 0.05 * rng.standard_normal(len(t))):
        mel = MelFrontEnd(cfg)(torch.tensor(audio, dtype=torch.float32)[None])
        feature = intensity_feature(mel, cfg.min_db, cfg.max_db, band_weights(80, cfg.fmin, cfg.fmax))[0].numpy()
        reference = rms_db_curve(audio, cfg.sample_rate)[: len(feature)]
        assert np.abs(feature - reference)[60:-60].max() < 0.3


def _render(program: int, pitches: list[int], seconds_per_note: float = 0.5):
    """Render notes with FluidSynth and pretty_midi's General MIDI font; None when FluidSynth is missing."""
    import glob
    import os

    import numpy as np
    import pretty_midi

    fonts = glob.glob(os.path.join(os.path.dirname(pretty_midi.__file__), "*.sf2"))
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    inst = pretty_midi.Instrument(program)
    for i, p in enumerate(pitches):
        inst.notes.append(pretty_midi.Note(100, p, i * seconds_per_note, (i + 1) * seconds_per_note))
    pm.instruments.append(inst)
    try:
        audio = pm.fluidsynth(fs=22050, synthesizer=fonts[0] if fonts else None)
    except (ImportError, OSError, IndexError, ValueError):
        return None
    audio = np.pad(audio, (0, max(0, 512 * 256 - len(audio))))[: 512 * 256]
    return torch.tensor(audio / (np.abs(audio).max() + 1e-9) * 0.5, dtype=torch.float32)[None]


def test_melody_feature_reads_a_rendered_piano_scale():
    """On real audio (FluidSynth piano, C4 up), the mel chroma's argmax is the played pitch class."""
    from ditto_live.engine.audio import PRESETS, MelFrontEnd

    pitches = [60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65]
    audio = _render(0, pitches)
    if audio is None:
        pytest.skip("FluidSynth is not available")
    cfg = PRESETS["tiny"]
    logp = chroma_log_probs(MelFrontEnd(cfg)(audio), cfg.min_db, cfg.max_db, chroma_weights(80, cfg.fmin, cfg.fmax))
    target = melody_target([[p, i * 0.5, 0.5] for i, p in enumerate(pitches)], "seconds", 120, 512, FR)
    assert melody_accuracy(logp, target)[0] > 0.9


def test_structure_with_a_prefix_rewards_returning_to_the_first_section():
    """Window 2 of an "ABA" clip: with the A and B already generated, an A-like window scores better
    than a B-like one, and the gradient reaches only the window."""
    from ditto_live.engine.controls.structure import labels_to_target, structure_control

    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(80, 1, generator=g) * 1.6 - 0.8, torch.rand(80, 1, generator=g) * 1.6 - 0.8
    noise = lambda n: 0.05 * torch.randn(80, n, generator=g)  # noqa: E731
    prefix = torch.cat([a + noise(40), b + noise(40)], -1)[None]  # [1, F, 80]
    labels = torch.tensor([0] * 40 + [1] * 40 + [0] * 40)
    control = structure_control(labels_to_target(labels, 24), -100, 0, prefix=prefix)
    like_a = (a + noise(40))[None, None].requires_grad_(True)
    like_b = (b + noise(40))[None, None]
    assert control.loss(like_a) < 0.5 * control.loss(like_b)
    control.loss(like_a).sum().backward()
    assert like_a.grad.abs().sum() > 0
