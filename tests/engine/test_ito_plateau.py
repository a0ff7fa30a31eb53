"""The plateau stop of the one ITO loop: it ends a loop whose best loss has flattened, records why and the
steps run, and leaves alone a loop that keeps improving (and every loop, by default)."""

from __future__ import annotations

import torch

from ditto_live.engine.ito import Plateau, optimise_latent, plateaued


def identity(x: torch.Tensor, m: int) -> torch.Tensor:
    return x


def flattening(x0: torch.Tensor):
    """A loss that is 1 + (x - 0.3)^2 clamped once x passes 0.3: it stops improving after a few steps."""
    gap = (0.3 - x0).clamp(min=0).flatten(1).mean(1)
    total = 1.0 + gap ** 2
    return total, {"flat": total}


def bowl(x0: torch.Tensor):
    """A quadratic far from its minimum: every step improves it by about the same amount."""
    total = ((x0 - 100.0) ** 2).flatten(1).mean(1)
    return total, {"bowl": total}


def test_plateaued_compares_the_best_loss_over_the_window():
    rule = Plateau(window=3, min_improvement=0.01)
    assert not plateaued([10.0, 9.0, 8.0], rule)  # too few steps to judge
    assert not plateaued([10.0, 9.0, 8.0, 7.0], rule)  # 30 % better than 3 steps ago
    assert plateaued([10.0, 9.0, 8.99, 8.98, 8.97], rule)  # 0.3 % better than 3 steps ago


def test_a_loop_whose_loss_flattens_stops_on_the_plateau():
    x_T = torch.zeros(2, 1, 4, 8)
    res = optimise_latent(identity, x_T, flattening, [1] * 200, lr=0.05, plateau=Plateau(5, 1e-3))
    assert res.stopped == "plateau"
    assert 5 < res.steps_run < 60 and len(res.history) == res.steps_run  # no step after the stop
    assert res.loss < res.initial_losses["flat"]


def test_a_loop_that_keeps_improving_runs_every_step():
    x_T = torch.zeros(2, 1, 4, 8)
    res = optimise_latent(identity, x_T, bowl, [1] * 40, lr=0.05, plateau=Plateau(5, 1e-3))
    assert res.stopped is None and res.steps_run == 40


def test_the_plateau_stop_is_off_by_default():
    x_T = torch.zeros(2, 1, 4, 8)
    res = optimise_latent(identity, x_T, flattening, [1] * 60, lr=0.05)
    assert res.stopped is None and res.steps_run == 60
