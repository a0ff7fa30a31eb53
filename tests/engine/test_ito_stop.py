"""``should_stop``: the optimisation ends early without raising and keeps the best x_T so far
(the live stream's deadline), in the eager loop and in the stepper loop."""

from __future__ import annotations

import time

import pytest
import torch

from ditto_live.engine.backends import EagerStepper, eager_stepper
from ditto_live.engine.conditioning import Cond
from ditto_live.engine.ito import ditto2_optimise, optimise_latent
from tests.engine.test_ito import make_model, noise

TARGET = torch.full((2, 1, 4, 8), 0.5)


def identity(x: torch.Tensor, m: int) -> torch.Tensor:
    return x


def distance(x0: torch.Tensor):
    """Per-row squared distance to TARGET: (total [B], {"mse": [B]})."""
    total = ((x0 - TARGET) ** 2).flatten(1).mean(1)
    return total, {"mse": total}


def stop_after(n: int):
    """A should_stop that answers True from its (n+1)-th call on; counts its calls."""
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] > n
    return should_stop, calls


BACKENDS = {"eager": eager_stepper, "stepper": lambda objective, x, lr, reference: EagerStepper(objective, x, lr)}


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_should_stop_ends_the_loop_without_raising_and_keeps_the_best_x_T(backend):
    x_T = torch.zeros(2, 1, 4, 8)
    should_stop, calls = stop_after(3)
    res = optimise_latent(identity, x_T, distance, [1] * 50, lr=0.05, stepper=BACKENDS[backend],
                          should_stop=should_stop)
    assert res.steps_run == 3
    assert res.loss < res.initial_losses["mse"]  # three steps towards the target were kept
    # the kept x_T is the best one scored: its loss is the minimum of the history
    assert res.loss == pytest.approx(min(res.history), rel=1e-6)
    torch.testing.assert_close(distance(res.x_T_batch)[0][res.best_index], torch.tensor(res.loss))
    assert calls["n"] == 4


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_should_stop_at_once_returns_the_start_scored(backend):
    x_T = torch.randn(2, 1, 4, 8, generator=torch.Generator().manual_seed(0))
    res = optimise_latent(identity, x_T, distance, [1] * 10, lr=0.05, stepper=BACKENDS[backend],
                          should_stop=lambda: True)
    assert res.steps_run == 0
    torch.testing.assert_close(res.x_T_batch, x_T)
    assert res.losses["mse"] == pytest.approx(res.initial_losses["mse"])


def test_a_time_budget_stops_a_slow_loop_within_one_step_of_its_deadline():
    def slow(x: torch.Tensor, m: int) -> torch.Tensor:
        time.sleep(0.02)
        return x

    # first, a loop's one-time costs (the optimiser's and autograd's first use: ~0.2 s in a fresh process,
    # paid by an earlier test when the file runs whole), so the budget below times steps only
    optimise_latent(identity, torch.zeros(2, 1, 4, 8), distance, [1], lr=0.05)
    budget = 0.15
    start = time.perf_counter()
    res = optimise_latent(slow, torch.zeros(2, 1, 4, 8), distance, [1] * 1000, lr=0.05,
                          should_stop=lambda: time.perf_counter() - start > budget)
    elapsed = time.perf_counter() - start
    assert 0 < res.steps_run < 1000
    assert elapsed < budget + 0.5  # one more evaluation past the deadline at most (generous for a loaded CPU)
    assert res.loss < res.initial_losses["mse"]


def test_ditto2_optimise_passes_should_stop_through():
    student = make_model(True)
    from ditto_live.engine.controls import loss_function
    from tests.engine.controls.test_features import all_controls

    should_stop, _ = stop_after(2)
    res = ditto2_optimise(student, noise(1), Cond.null(1, w=3.0), loss_function(all_controls()[:1]), 20,
                          lr=0.05, should_stop=should_stop)
    assert res.steps_run == 2
    assert len(res.history) == 3  # two steps' evaluations and the one should_stop ended at
    assert res.loss == pytest.approx(min(res.history), rel=1e-5)
