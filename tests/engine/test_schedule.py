"""The cosine VP schedule and the v / eps / x0 algebra of engine/schedule.py."""

from __future__ import annotations

import torch

from ditto_live.engine.schedule import (
    CLEAN,
    alpha_sigma,
    cfg_combine,
    cosine_alphas_cumprod,
    ddim_jump,
    ddim_step_from_v,
    eps_from_v,
    q_sample,
    teacher_grid,
    v_target,
    x0_from_v,
)


def _batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(6, 1, 4, 8, generator=g)
    eps = torch.randn(6, 1, 4, 8, generator=g)
    t = torch.tensor([0, 1, 250, 500, 998, 999])
    return x0, eps, t


def test_alpha_sigma_lie_on_the_unit_circle_and_clean_level_is_exact():
    t = torch.arange(-1, 1000)
    a, s = alpha_sigma(t)
    torch.testing.assert_close(a**2 + s**2, torch.ones_like(a), atol=1e-6, rtol=0)
    assert a[0] == 1 and s[0] == 0  # t = -1 is clean data
    assert torch.all(a[1:] < a[:-1])  # signal decreases monotonically with t
    assert a[-1] < 1e-3  # t = 999 is (almost) pure noise


def test_cosine_schedule_has_1000_steps_in_the_unit_interval():
    ac = cosine_alphas_cumprod()
    assert ac.shape == (1000,)
    assert 0 < ac.min() and ac.max() < 1


def test_x0_and_eps_recovered_from_the_true_v():
    x0, eps, t = _batch()
    x_t = q_sample(x0, t, eps)
    v = v_target(x0, t, eps)
    torch.testing.assert_close(x0_from_v(x_t, t, v), x0, atol=1e-5, rtol=0)
    torch.testing.assert_close(eps_from_v(x_t, t, v), eps, atol=1e-5, rtol=0)


def test_ddim_jump_with_exact_predictions_follows_the_forward_process():
    x0, eps, t = _batch(1)
    x_t = q_sample(x0, t, eps)
    s = (t - 100).clamp_min(CLEAN)
    # with the true x0 and eps, one DDIM step lands exactly on q_sample at s with the same noise
    torch.testing.assert_close(ddim_step_from_v(x_t, t, s, v_target(x0, t, eps)), q_sample(x0, s, eps),
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(ddim_jump(x0, eps, torch.full_like(t, CLEAN)), x0)


def test_teacher_grid_is_20_evenly_spaced_steps_from_T_to_clean():
    g = teacher_grid(20)
    assert g[0] == 999 and g[-1] == CLEAN and len(g) == 21
    assert {a - b for a, b in zip(g[:-2], g[1:-1])} == {50}


def test_cfg_is_w_cond_plus_one_minus_w_uncond():
    c, u = torch.randn(3, 2), torch.randn(3, 2)
    torch.testing.assert_close(cfg_combine(c, u, 1.0), c)
    torch.testing.assert_close(cfg_combine(c, u, 0.0), u)
    w = torch.tensor([1.0, 2.0, 4.0])
    torch.testing.assert_close(cfg_combine(c, u, w), w[:, None] * c + (1 - w[:, None]) * u)
