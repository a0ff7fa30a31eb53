"""Every control's feature is differentiable (finite, non-zero gradients) and its loss is per row."""

from __future__ import annotations

import pytest
import torch

from ditto_live.engine.controls import combined_loss
from ditto_live.engine.controls.intensity import band_weights, intensity_control, intensity_shape
from ditto_live.engine.controls.masked import inpaint_target, loop_control, masked_control, outpaint_target
from ditto_live.engine.controls.melody import chroma_weights, melody_control, melody_target
from ditto_live.engine.controls.structure import form_target, structure_control
from ditto_live.engine.controls.text import text_control

F_MELS, N = 80, 64
FR = 22050 / 256


class FakeClap:
    """A text-audio model with the engine/clap.py interface: pooled mel -> linear -> unit norm."""

    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.proj = torch.randn(F_MELS, 16, generator=g)
        self.text = torch.randn(1, 16, generator=g)

    def encode_audio(self, mel):
        return torch.nn.functional.normalize(mel[:, 0].mean(-1) @ self.proj, dim=-1)

    def encode_text(self, captions):
        return torch.nn.functional.normalize(self.text.expand(len(captions), -1), dim=-1)


def all_controls():
    g = torch.Generator().manual_seed(1)
    ref = torch.rand(1, F_MELS, N, generator=g) * 2 - 1
    return [
        intensity_control(intensity_shape("crescendo", N), -100, 0, band_weights(F_MELS, 0, 11025), smooth_frames=9),
        melody_control(melody_target([[60, 0, 0.2], [64, 0.3, 0.3]], "seconds", 120, N, FR), -100, 0,
                       chroma_weights(F_MELS, 0, 11025)),
        structure_control(form_target("ABA", N, size=16), -100, 0),
        masked_control("inpaint", *inpaint_target(ref, 20, 40)),
        masked_control("outpaint", *outpaint_target(ref, 16, N)),
        loop_control(8),
        text_control(FakeClap(), "a calm folk song"),
    ]


@pytest.mark.parametrize("index", range(7))
def test_every_feature_has_finite_nonzero_gradients(index):
    control = all_controls()[index]
    x0 = (torch.rand(2, 1, F_MELS, N, generator=torch.Generator().manual_seed(2)) * 1.6 - 0.8).requires_grad_(True)
    loss = control.loss(x0)
    assert loss.shape == (2,)
    loss.sum().backward()
    assert torch.isfinite(x0.grad).all()
    assert x0.grad.abs().sum() > 0, control.name
    # rows are independent: the loss of row 0 has no gradient on row 1
    x1 = x0.detach().clone().requires_grad_(True)
    control.loss(x1)[0].backward()
    assert x1.grad[1].abs().sum() == 0


def test_combined_loss_is_the_weighted_sum_and_names_each_part():
    controls = all_controls()
    x0 = torch.rand(3, 1, F_MELS, N) * 2 - 1
    total, parts = combined_loss(controls, x0)
    assert list(parts) == ["intensity", "melody", "structure", "inpaint", "outpaint", "loop", "text"]
    expected = sum(c.weight * c.loss(x0) for c in controls)
    torch.testing.assert_close(total, expected)
