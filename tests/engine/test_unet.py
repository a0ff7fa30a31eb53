"""The UNet of engine/unet.py: shapes and sizes of both presets, determinism, the zero-initialised
w input, and that a small one can fit a batch."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from ditto_live.engine.schedule import q_sample, v_target
from ditto_live.engine.unet import UNET_PRESETS, UNet, UNetConfig, count_parameters
from tests.engine.conftest import make_unet

VOCAB = (6, 4, 5, 9)  # tag vocabulary sizes (null included)

# a reduced-width UNet with every feature switched on (stem, attention, cross-attention, feed-forward)
SMALL = UNetConfig(channels=(16, 32), blocks=(1, 1), attention=(False, True), mid_attention=True,
                   cross_attention=True, head_dim=16, ff_mult=2, emb_dim=32, stem=2, groups=8)


def _inputs(b: int = 2, f: int = 16, n: int = 32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, 1, f, n, generator=g)
    t = torch.randint(0, 1000, (b,), generator=g).float()
    tags = torch.stack([torch.randint(0, v, (b,), generator=g) for v in VOCAB], dim=1)
    return x, t, tags


def test_paper_preset_has_about_41M_parameters_and_keeps_the_shape():
    with torch.device("meta"):  # count and trace shapes without allocating or computing
        model = UNet(UNET_PRESETS["paper"], VOCAB)
        x = torch.empty(1, 1, 160, 512)
        v = model(x, torch.zeros(1), torch.zeros(1, 4, dtype=torch.long))
    assert 38e6 < count_parameters(model) < 44e6
    assert v.shape == (1, 1, 160, 512)
    assert model.downsample_factor == 16
    assert UNET_PRESETS["paper"].channels == (64, 64, 128, 128, 256)


def test_tiny_preset_has_1_to_4M_parameters_and_runs_at_80_mels():
    model = make_unet(UNET_PRESETS["tiny"], vocab_sizes=VOCAB)
    assert 1e6 <= count_parameters(model) <= 4e6
    assert model.downsample_factor == 16
    x, t, tags = _inputs(1, 80, 64)
    with torch.no_grad():
        v = model(x, t, tags)
    assert v.shape == x.shape and torch.isfinite(v).all()


def test_any_frame_count_divisible_by_the_factor_works_and_others_raise():
    model = make_unet(SMALL, vocab_sizes=VOCAB)
    f = model.downsample_factor  # 2 (stem) * 2 (one downsampling) = 4
    assert f == 4
    for n in (f, 3 * f, 10 * f):
        x, t, tags = _inputs(1, 8, n)
        assert model(x, t, tags).shape == (1, 1, 8, n)
    x, t, tags = _inputs(1, 8, 3 * f + 2)
    with pytest.raises(ValueError, match="multiples of 4"):
        model(x, t, tags)


def test_same_seed_same_output_and_tags_and_time_matter():
    x, t, tags = _inputs()
    a, b = make_unet(SMALL, seed=3, vocab_sizes=VOCAB), make_unet(SMALL, seed=3, vocab_sizes=VOCAB)
    with torch.no_grad():
        va, vb = a(x, t, tags), b(x, t, tags)
        assert torch.equal(va, vb)
        assert not torch.allclose(va, make_unet(SMALL, seed=4, vocab_sizes=VOCAB)(x, t, tags))
        assert not torch.allclose(va, a(x, t, torch.zeros_like(tags)))  # tags change the prediction
        assert not torch.allclose(va, a(x, t + 100, tags))  # so does time


def test_zero_initialised_w_projection_makes_a_student_equal_its_teacher():
    teacher = make_unet(SMALL, vocab_sizes=VOCAB)
    student = UNet(dataclasses.replace(SMALL, w_embed=True), VOCAB)
    missing, unexpected = student.load_state_dict(teacher.state_dict(), strict=False)
    assert unexpected == [] and all(k.startswith("w_mlp.") for k in missing)
    assert student.takes_w and not teacher.takes_w
    x, t, tags = _inputs()
    with torch.no_grad():
        v_teacher = teacher(x, t, tags)
        assert v_teacher.abs().mean() > 1e-3  # a real output, not a zero network
        for w in (1.0, 3.5, 8.0):
            torch.testing.assert_close(student(x, t, tags, torch.full((2,), w)), v_teacher, atol=0, rtol=0)
    with pytest.raises(ValueError, match="guidance weight"):
        student(x, t, tags)


def test_w_input_is_trainable_from_zero_init():
    student = make_unet(SMALL, w_embed=True, vocab_sizes=VOCAB)
    x, t, tags = _inputs()
    student(x, t, tags, torch.full((2,), 4.0)).square().mean().backward()
    assert student.w_mlp[-1].weight.grad.abs().sum() > 0


def test_runs_under_bf16_autocast():
    model = make_unet(UNET_PRESETS["tiny"], vocab_sizes=VOCAB)
    x, t, tags = _inputs(1, 80, 32)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        v = model(x, t, tags)
    ref = model(x, t, tags).detach()
    assert v.shape == x.shape
    assert (v.float() - ref).abs().mean() < 0.1 * ref.abs().mean()


STEPS = 60


def test_small_unet_overfits_one_batch():
    """v-prediction MSE on one fixed (x0, t, eps) batch must fall at least 5x."""
    model = make_unet(SMALL, vocab_sizes=VOCAB)
    g = torch.Generator().manual_seed(1)
    x0 = torch.tanh(torch.randn(4, 1, 16, 32, generator=g).cumsum(-1) * 0.3)  # smooth, mel-like rows
    eps = torch.randn(x0.shape, generator=g)
    t = torch.tensor([100.0, 300.0, 600.0, 900.0])
    tags = _inputs(4)[2]
    x_t, target = q_sample(x0, t, eps), v_target(x0, t, eps)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(STEPS):
        loss = (model(x_t, t, tags) - target).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] * 5 < losses[0], (losses[0], losses[-1])
