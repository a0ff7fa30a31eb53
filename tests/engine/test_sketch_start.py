"""The warm start from a sketch (issue 27): the written notes rendered as a tone at the written pitch,
the student's deterministic DDIM inversion, and the mix that keeps the start's variance."""

from __future__ import annotations

import torch

from ditto_live.engine.conditioning import Cond
from ditto_live.engine.controls.melody import render_notes
from ditto_live.engine.distill import ctm_G, init_student_from_teacher
from ditto_live.engine.student_sampling import ddim_invert, mix_start
from ditto_live.engine.unet import UNET_PRESETS, UNet

SR, HOP = 22050, 256


def test_rendered_notes_sound_at_the_written_pitch_and_are_silent_between_them():
    pitch = torch.full((64,), -1)
    pitch[8:40] = 69  # A4 = 440 Hz
    audio = render_notes(pitch, SR, HOP)
    assert audio.shape == (64 * HOP,) and float(audio.abs().max()) <= 0.3 + 1e-6
    held = audio[12 * HOP:36 * HOP]
    spectrum = torch.fft.rfft(held * torch.hann_window(len(held)))
    peak_hz = float(spectrum.abs().argmax()) * SR / len(held)
    assert abs(peak_hz - 440.0) < 5.0
    assert float(audio[:8 * HOP].abs().max()) == 0.0 and float(audio[40 * HOP:].abs().max()) == 0.0


def test_a_new_note_starts_with_an_attack():
    pitch = torch.tensor([60] * 20 + [62] * 20)
    audio = render_notes(pitch, SR, HOP)
    onset = 20 * HOP
    assert float(audio[onset]) == 0.0  # the second note rises again from silence...
    assert float(audio[onset:onset + 60].abs().max()) < 0.5 * float(audio[onset + 220:onset + 280].abs().max())
    assert float(audio[onset - 60:onset].abs().max()) > 0.2  # ...where the first was still sounding


def test_the_mix_keeps_unit_variance_and_holds_its_share_of_the_inversion():
    gen = torch.Generator().manual_seed(0)
    inverted = 5.0 * torch.randn(1, 1, 80, 512, generator=gen)
    noise = torch.randn(1, 1, 80, 512, generator=gen)
    start = mix_start(inverted, noise, 0.7)
    assert abs(float(start.std()) - 1.0) < 0.02
    corr = float(torch.corrcoef(torch.stack([start.flatten(), inverted.flatten()]))[0, 1])
    assert abs(corr - 0.7 ** 0.5) < 0.02
    assert torch.equal(mix_start(inverted, noise, 0.0), noise)


def test_the_inversion_is_deterministic():
    torch.manual_seed(0)
    student = init_student_from_teacher(UNet(UNET_PRESETS["tiny"], (3, 3, 3, 3))).eval()
    cond = Cond(torch.zeros(1, 4, dtype=torch.long), w=3.0)
    sketch = torch.rand(1, 1, 80, 64) * 2 - 1
    x_T = ddim_invert(student, sketch, cond, steps=4)
    assert x_T.shape == sketch.shape and not x_T.requires_grad
    assert torch.equal(x_T, ddim_invert(student, sketch, cond, steps=4))


def test_the_default_students_one_step_output_from_the_inverted_notes_follows_them():
    """On the shipped model: G(x_T) from the inverted rendering is nearer the rendering than from noise."""
    from ditto_live.engine.audio import MelFrontEnd
    from ditto_live.generation.models import load_bundle

    bundle = load_bundle("default")
    student = bundle.ctm
    cond = Cond(torch.zeros(1, 4, dtype=torch.long), w=3.0)
    pitch = torch.tensor(([60] * 43 + [64] * 43 + [67] * 42) * 4)  # 512 frames: C E G, four times
    sketch = MelFrontEnd(bundle.mel_config).wav_to_mel(render_notes(pitch, SR, HOP)[None])
    x_T = ddim_invert(student, sketch, cond, steps=8)
    back = ctm_G(student, x_T, 999, -1, cond).detach()
    noise_out = ctm_G(student, torch.randn_like(sketch), 999, -1, cond).detach()
    assert float((back - sketch).square().mean()) < float((noise_out - sketch).square().mean())


def _music_like(frames: int = 256, seed: int = 0) -> torch.Tensor:
    """A normalised mel with slow spectral and level movement (smoothed noise), [1, 1, 80, frames]."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 1, 80, frames, generator=gen)
    x = torch.nn.functional.avg_pool2d(x, (5, 9), stride=1, padding=(2, 4)) * 2.0 - 0.3
    return x.clamp(-1, 1)


def test_an_intensity_sketch_gains_each_frame_to_the_curve_and_lowers_the_loss():
    from ditto_live.engine.controls.intensity import band_weights, intensity_control

    x0 = _music_like()
    target = torch.linspace(-35.0, -12.0, x0.shape[-1])  # a crescendo in RMS dB
    control = intensity_control(target, -100.0, 20.0, band_weights(80, 0.0, 11025.0), smooth_frames=9)
    assert control.sketch is not None
    sketched = control.sketch(x0)
    assert sketched.shape == x0.shape and float(sketched.max()) <= 1.0 and float(sketched.min()) >= -1.0
    assert float(control.loss(sketched)[0]) < 0.2 * float(control.loss(x0)[0])
    # the gain is the same for every band of a frame: the frame's spectral shape is kept where nothing clips
    inside = (sketched > -1) & (sketched < 1) & (x0 > -1) & (x0 < 1)
    delta, inside = (sketched - x0)[0, 0], inside[0, 0]  # [F, N]
    spread = torch.where(inside, delta, -torch.inf).amax(0) - torch.where(inside, delta, torch.inf).amin(0)
    assert float(spread[inside.any(0)].max()) < 1e-5


def test_a_form_sketch_repeats_a_returning_section_and_moves_a_new_letter():
    from ditto_live.engine.controls.structure import (
        form_labels,
        form_sketch,
        letter_shift,
        sections,
        shift_bins,
    )

    labels = form_labels("ABA", 240)
    assert sections(labels) == [(0, 0, 80), (1, 80, 160), (0, 160, 240)]
    x0 = _music_like(240)
    sketched = form_sketch(labels)(x0)
    assert torch.equal(sketched[..., 160:240], sketched[..., 0:80])  # A returns as the same music
    assert torch.equal(sketched[..., 0:80], x0[..., 0:80])  # the first letter is the output itself
    assert torch.equal(sketched[..., 80:160], shift_bins(x0[..., 80:160], letter_shift(1)))  # B moved
    assert [letter_shift(k, 4) for k in range(5)] == [0, 4, -4, 8, -8]
    up = shift_bins(torch.arange(6.0)[:, None], 2)
    assert up[:, 0].tolist() == [0.0, 0.0, 0.0, 1.0, 2.0, 3.0]
    assert shift_bins(torch.arange(6.0)[:, None], -2)[:, 0].tolist() == [2.0, 3.0, 4.0, 5.0, 5.0, 5.0]


def test_a_form_sketch_stretches_a_returning_section_of_another_length():
    from ditto_live.engine.controls.structure import form_sketch

    labels = torch.tensor([0] * 40 + [1] * 40 + [0] * 80)  # A B A', the last A twice as long
    x0 = _music_like(160)
    sketched = form_sketch(labels)(x0)
    stretched = torch.nn.functional.interpolate(x0[0, :, :, :40], size=80, mode="linear", align_corners=False)
    assert torch.allclose(sketched[0, :, :, 80:], stretched)


def test_the_form_sketch_lowers_the_structure_loss():
    from ditto_live.engine.controls.structure import form_target, structure_control

    x0 = _music_like(256, seed=3)
    control = structure_control(form_target("AABA", 256, 16), -100.0, 20.0, labels=form_labels_of("AABA", 256))
    assert control.sketch is not None
    assert float(control.loss(control.sketch(x0))[0]) < float(control.loss(x0)[0])


def form_labels_of(form: str, frames: int) -> torch.Tensor:
    from ditto_live.engine.controls.structure import form_labels

    return form_labels(form, frames)
