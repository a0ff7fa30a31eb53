"""The DITTO baseline consults ``is_cancelled`` in its backward pass too (before each sampler call is
recomputed), so a job can be cancelled there, and a server's job can step aside there: another thread
runs a whole optimisation step on the same model meanwhile, and neither result changes."""

from __future__ import annotations

import threading

import pytest
import torch

from ditto_live.engine.conditioning import Cond
from ditto_live.engine.controls import loss_function
from ditto_live.engine.ito import JobCancelled, ditto_optimise
from tests.engine.conftest import make_unet
from tests.engine.controls.test_features import F_MELS, N, all_controls

CALLS = 3  # sampler calls in the chain (the baseline uses 20; 3 keeps the test fast)


def noise(seed: int) -> torch.Tensor:
    return torch.randn(1, 1, F_MELS, N, generator=torch.Generator().manual_seed(seed))


def optimise(teacher, seed: int, steps: int, is_cancelled=None):
    cond = Cond(torch.ones(1, 4, dtype=torch.long), w=2.0)
    return ditto_optimise(teacher, noise(seed), cond, loss_function(all_controls()[:1]), steps, lr=0.05,
                          sampling_steps=CALLS, is_cancelled=is_cancelled)


def test_is_cancelled_is_consulted_before_every_calls_backward():
    teacher = make_unet(w_embed=False)
    checks = []
    optimise(teacher, 0, steps=2, is_cancelled=lambda: checks.append(torch.is_grad_enabled()) or False)
    # per step: 1 before it + CALLS in the forward + CALLS in the backward; then the final evaluation's
    # forward (no gradient, so no backward checks)
    assert len(checks) == 2 * (1 + 2 * CALLS) + CALLS


def test_a_cancellation_during_the_backward_stops_the_job():
    teacher = make_unet(w_embed=False)
    count = 0

    def cancel_in_backward() -> bool:
        nonlocal count
        count += 1
        return count == 1 + CALLS + 2  # the second call's backward of the first step

    with pytest.raises(JobCancelled, match="backward"):
        optimise(teacher, 0, steps=3, is_cancelled=cancel_in_backward)
    assert count == 1 + CALLS + 2  # nothing consulted it after it answered True


def test_another_thread_runs_whole_steps_while_a_job_waits_in_its_backward():
    teacher = make_unet(w_embed=False)
    alone_a = optimise(teacher, 1, steps=2).x_T
    alone_b = optimise(teacher, 2, steps=2).x_T
    b_ran, b_done = threading.Event(), threading.Event()
    results: dict[str, torch.Tensor] = {}
    count = 0

    def step_aside() -> bool:  # what JobRunner's check does when a deadline job waits: let it run
        nonlocal count
        count += 1
        if count == 1 + CALLS + 1:  # in the first step's backward
            b_ran.set()
            assert b_done.wait(60), "the other thread never finished"
        return False

    def other() -> None:
        assert b_ran.wait(60)
        try:
            results["b"] = optimise(teacher, 2, steps=2).x_T
        finally:
            b_done.set()

    thread = threading.Thread(target=other)
    thread.start()
    results["a"] = optimise(teacher, 1, steps=2, is_cancelled=step_aside).x_T
    thread.join(60)
    assert b_done.is_set() and "b" in results  # it ran to the end while the job waited mid-backward
    torch.testing.assert_close(results["a"], alone_a, rtol=0, atol=0)
    torch.testing.assert_close(results["b"], alone_b, rtol=0, atol=0)
