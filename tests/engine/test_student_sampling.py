"""The students' few-step samplers (engine/student_sampling.py): the decoding grid, the VP form of
gamma-sampling (its end points are deterministic CTM and CM renoising), CM multistep sampling, and the
one sampler signature (generator, callback, gradients for ITO). Also: a student built from a real
UNet teacher starts out equal to it."""

from __future__ import annotations

import pytest
import torch

from ditto_live.engine import distill as D
from ditto_live.engine import student_sampling as S
from ditto_live.engine.conditioning import Cond
from ditto_live.engine.schedule import alpha_sigma, q_sample, teacher_grid
from tests.engine.test_distill import SHAPE, ToyStudent, make_teacher, teacher_ode


def _student(seed: int = 0) -> ToyStudent:
    torch.manual_seed(seed)
    student = ToyStudent(make_teacher())
    torch.nn.init.normal_(student.net[-1].weight, std=0.05)  # a student that is not its teacher
    return student


def _batch(b: int = 8, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, *SHAPE, generator=g), Cond(torch.randint(1, 3, (b, 4), generator=g), 2.0)


# ---------------------------------------------------------------------------------------------
# grid and the VP algebra


def test_student_grid_picks_evenly_spaced_teacher_levels():
    assert S.student_grid(1) == [999, -1]
    assert S.student_grid(2) == [999, 499, -1]
    assert S.student_grid(4) == [999, 749, 499, 249, -1]
    assert S.student_grid(20) == teacher_grid(20)
    for steps in range(1, 9):
        grid = S.student_grid(steps)
        assert len(grid) == steps + 1 and grid[0] == 999 and grid[-1] == -1
        assert set(grid) <= set(teacher_grid(20)) and grid == sorted(grid, reverse=True)
    with pytest.raises(ValueError):
        S.student_grid(0)
    with pytest.raises(ValueError):
        S.student_grid(21)


@pytest.mark.parametrize("gamma", [0.0, 0.05, 0.2, 0.35, 0.7, 1.0])
def test_gamma_level_follows_alg1_line10_in_ve_noise_levels(gamma):
    alpha, sigma = alpha_sigma(torch.tensor([949.0, 499.0, 249.0, 49.0]))
    a_s, s_s = S.gamma_level(alpha, sigma, gamma)
    torch.testing.assert_close(a_s**2 + s_s**2, torch.ones(4))  # a VP level
    torch.testing.assert_close(s_s / a_s, (1 - gamma**2) ** 0.5 * sigma / alpha)  # sigma~_s = sqrt(1-g^2) sigma~
    # the forward transition from s back to t_{n+1} adds exactly gamma * sigma_{n+1} of fresh noise
    torch.testing.assert_close(generic_root(a_s, s_s, alpha, sigma), gamma * sigma, atol=2e-3, rtol=0)


def generic_root(alpha_s, sigma_s, alpha_t, sigma_t):
    """The noise scale of the VP forward transition from level s to a noisier t: sqrt(sigma_t^2 - r^2 sigma_s^2)."""
    return (sigma_t**2 - (alpha_t / alpha_s) ** 2 * sigma_s**2).clamp(min=0).sqrt()


def test_gamma_renoise_gives_the_marginal_of_the_noisier_level():
    g = torch.Generator().manual_seed(0)
    n, gamma = 200_000, 0.6
    x0 = torch.full((n, 1), 0.7)
    a_t, s_t = alpha_sigma(torch.tensor([699.0]))
    a_s, s_s = S.gamma_level(a_t, s_t, gamma)
    x_s = a_s * x0 + s_s * torch.randn(x0.shape, generator=g)  # the marginal at level s
    x_t = S.gamma_renoise(x_s, a_s.expand(n), a_t.expand(n), s_t.expand(n), gamma, torch.randn(x0.shape, generator=g))
    assert abs(float(x_t.mean()) - 0.7 * float(a_t)) < 0.01
    assert abs(float(x_t.std()) - float(s_t)) < 0.01


# ---------------------------------------------------------------------------------------------
# gamma-sampling


def test_gamma_one_is_cm_style_renoising_of_the_students_x0():
    student = _student()
    x, cond = _batch()
    grid = S.student_grid(4)
    got = S.ctm_gamma_sample(student, x, grid, cond, generator=torch.Generator().manual_seed(5), gamma=1.0)
    g = torch.Generator().manual_seed(5)
    want = x
    for t, t_next in zip(grid, grid[1:]):
        x0 = D.ctm_G(student, want, t, -1, cond)
        if t_next == -1:
            want = x0
        else:
            want = q_sample(x0, torch.full((8,), float(t_next)), torch.randn(want.shape, generator=g))
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_gamma_zero_with_the_teacher_grid_is_the_ddim_chain():
    """Gamma-sampling at gamma = 0 and DDIM are one map written two ways (the jump to level s, then the
    renoising with ratio r = sqrt(alpha^2 + sigma^2) = 1): in float32 they differ only by rounding, ~1e-7
    relative per operation over 20 steps (measured: 1e-6 absolute on an Intel Xeon with AMX). The renoising's
    noise term must be exactly zero: the generic root of a rounded difference added ~3e-4 of global-RNG noise
    at some steps on that CPU."""
    teacher = make_teacher()
    x, cond = _batch()
    cond = Cond(cond.tags, 1.0)
    for seed in (0, 1):
        got = S.ctm_gamma_sample(teacher, x, teacher_grid(20), cond, torch.Generator().manual_seed(seed), gamma=0.0)
        torch.testing.assert_close(got, teacher_ode(teacher, x, cond), atol=1e-5, rtol=1e-5)


def test_gamma_renoise_adds_exactly_gamma_sigma_of_noise_and_none_at_gamma_zero():
    alpha, sigma = alpha_sigma(torch.tensor([949.0, 849.0, 499.0, 49.0]))
    x_s, eps = torch.randn(4, 3), torch.randn(4, 3)
    for gamma in (0.0, 0.2, 0.7):
        a_s, s_s = S.gamma_level(alpha, sigma, gamma)
        got = S.gamma_renoise(x_s, a_s, alpha, sigma, gamma, eps)
        generic = (alpha / a_s)[:, None] * x_s + generic_root(a_s, s_s, alpha, sigma)[:, None] * eps
        torch.testing.assert_close(got, generic, atol=2e-3, rtol=0)
        noise_free = S.gamma_renoise(x_s, a_s, alpha, sigma, gamma, torch.zeros_like(eps))
        torch.testing.assert_close(got - noise_free, gamma * sigma[:, None] * eps)
    a_s, _ = S.gamma_level(alpha, sigma, 0.0)
    assert torch.equal(S.gamma_renoise(x_s, a_s, alpha, sigma, 0.0, eps), (alpha / a_s)[:, None] * x_s)


def test_gamma_zero_is_deterministic_and_gamma_positive_uses_the_generator():
    student = _student()
    x, cond = _batch()
    grid = S.student_grid(3)

    def run(seed, gamma):
        return S.ctm_gamma_sample(student, x, grid, cond, torch.Generator().manual_seed(seed), gamma=gamma)

    assert torch.equal(run(0, 0.0), run(1, 0.0))
    assert torch.equal(run(0, 0.2), run(0, 0.2))
    assert not torch.allclose(run(0, 0.2), run(1, 0.2))


def test_one_step_gamma_sampling_is_the_surrogate_jump():
    student = _student()
    x, cond = _batch()
    torch.testing.assert_close(S.ctm_gamma_sample(student, x, [999, -1], cond, gamma=0.3),
                               D.ctm_G(student, x, 999, -1, cond))


# ---------------------------------------------------------------------------------------------
# CM multistep sampling


def test_cm_multistep_denoises_then_renoises_with_fresh_noise():
    student = _student()
    x, cond = _batch()
    grid = S.student_grid(3)
    got = S.cm_multistep_sample(student, x, grid, cond, generator=torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    want = x
    for t, t_next in zip(grid, grid[1:]):
        x0 = D.cm_denoise(student, want, t, cond)
        want = x0 if t_next == -1 else q_sample(x0, torch.full((8,), float(t_next)),
                                                torch.randn(want.shape, generator=g))
    torch.testing.assert_close(got, want)
    assert torch.equal(S.cm_multistep_sample(student, x, [999, -1], cond), D.cm_denoise(student, x, 999, cond))


# ---------------------------------------------------------------------------------------------
# the one sampler signature


@pytest.mark.parametrize("sampler", [S.ctm_gamma_sample, S.cm_multistep_sample])
def test_samplers_report_progress_and_pass_gradients(sampler):
    student = _student()
    x, cond = _batch()
    x = x.requires_grad_(True)
    calls = []
    out = sampler(student, x, S.student_grid(4), cond, torch.Generator().manual_seed(0),
                  lambda step, total, xi: calls.append((step, total, tuple(xi.shape))))
    assert calls == [(i, 4, (8, *SHAPE)) for i in range(1, 5)]
    out.pow(2).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize("grid", [[999], [499, 999, -1], [999, 999, -1]])
def test_samplers_refuse_a_grid_that_does_not_descend(grid):
    student = _student()
    x, cond = _batch()
    with pytest.raises(ValueError):
        S.ctm_gamma_sample(student, x, grid, cond)
    with pytest.raises(ValueError):
        S.cm_multistep_sample(student, x, grid, cond)


# ---------------------------------------------------------------------------------------------
# a student from a real UNet teacher


def test_student_from_a_unet_teacher_equals_it_at_init():
    unet = pytest.importorskip("ditto_live.engine.unet")
    torch.manual_seed(0)
    cfg = unet.UNetConfig(channels=(8, 16), blocks=(1, 1), attention=(False, True), mid_attention=False,
                          head_dim=8, ff_mult=0, emb_dim=32, groups=4)
    teacher = unet.UNet(cfg, (3, 3, 3, 3)).eval()
    student = D.init_student_from_teacher(teacher).eval()
    assert student.takes_w and not teacher.takes_w
    assert all(bool((p == 0).all()) for p in student.w_mlp[-1].parameters())  # the zero-initialised projection
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 1, 8, 16, generator=g)
    t = torch.tensor([999.0, 500.0, 10.0])
    tags = torch.randint(0, 3, (3, 4), generator=g)
    with torch.no_grad():
        v_teacher = teacher(x, t, tags)
        for w in (1.0, 2.5, 4.0):
            torch.testing.assert_close(student(x, t, tags, torch.full((3,), w)), v_teacher)
    # and w does matter once the projection has moved off zero
    torch.nn.init.normal_(student.w_mlp[-1].weight, std=0.1)
    with torch.no_grad():
        assert not torch.allclose(student(x, t, tags, torch.full((3,), 1.0)),
                                  student(x, t, tags, torch.full((3,), 4.0)))
