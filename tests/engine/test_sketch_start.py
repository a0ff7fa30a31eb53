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
    control = intensity_control(target, -100.0, 20.0, band_weights(80, 0.0, 11025.0), smooth_frames=9,
                                sketch_share=0.7)
    assert control.sketch is not None and control.sketch.share == 0.7
    assert intensity_control(target, -100.0, 20.0, band_weights(80, 0.0, 11025.0)).sketch is None  # off: no share
    sketched = control.sketch.move(x0)
    assert sketched.shape == x0.shape and float(sketched.max()) <= 1.0 and float(sketched.min()) >= -1.0
    assert float(control.loss(sketched)[0]) < 0.2 * float(control.loss(x0)[0])
    # the gain is the same for every band of a frame: the frame's spectral shape is kept where nothing clips
    inside = (sketched > -1) & (sketched < 1) & (x0 > -1) & (x0 < 1)
    delta, inside = (sketched - x0)[0, 0], inside[0, 0]  # [F, N]
    spread = torch.where(inside, delta, -torch.inf).amax(0) - torch.where(inside, delta, torch.inf).amin(0)
    assert float(spread[inside.any(0)].max()) < 1e-5


def test_sketches_apply_in_turn_and_the_most_cautious_share_holds():
    from ditto_live.engine.controls import Control, Sketch, sketch_of

    def zero(x0):
        return torch.zeros_like(x0)

    def plus_one(x0):
        return x0 + 1

    def loss(x0):
        return x0.mean((1, 2, 3))

    x0 = torch.full((1, 1, 4, 8), 5.0)
    controls = [Control("a", loss, sketch=Sketch(zero, 0.7)), Control("b", loss),
                Control("c", loss, sketch=Sketch(plus_one, 0.4))]
    mel, share = sketch_of(controls, x0)
    assert torch.equal(mel, torch.ones_like(x0)) and share == 0.4  # zero, then plus one: the list's order
    assert sketch_of([Control("b", loss)], x0) is None


def test_a_painting_sketch_pastes_the_reference_on_the_enforced_frames_and_keeps_the_output_elsewhere():
    from ditto_live.engine.controls.masked import masked_control, outpaint_target

    x0 = _music_like()  # [1, 1, F, N]
    reference, mask = outpaint_target(torch.rand(1, x0.shape[2], 40) * 2 - 1, overlap=12, frames=x0.shape[-1])
    control = masked_control("outpaint", reference, mask, sketch_share=0.7)
    assert control.sketch is not None and control.sketch.share == 0.7
    assert masked_control("outpaint", reference, mask).sketch is None  # off: no share
    sketched = control.sketch.move(x0)
    assert sketched.shape == x0.shape
    assert torch.equal(sketched[..., :12], reference[None, ..., :12]) and torch.equal(sketched[..., 12:], x0[..., 12:])
    assert float(control.loss(sketched)[0]) == 0.0 < float(control.loss(x0)[0])  # the sketch meets the loss


def test_a_loop_sketch_copies_the_start_onto_the_end_and_meets_the_loss():
    from ditto_live.engine.controls.masked import loop_control

    x0 = _music_like()
    control = loop_control(16, sketch_share=1.0)
    assert control.sketch is not None and loop_control(16).sketch is None  # off: no share
    sketched = control.sketch.move(x0)
    assert torch.equal(sketched[..., -16:], x0[..., :16]) and torch.equal(sketched[..., :-16], x0[..., :-16])
    assert float(control.loss(sketched)[0]) == 0.0 < float(control.loss(x0)[0])
