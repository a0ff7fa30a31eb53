"""DITTO-2 and DITTO optimise x_T: schedules, loss decrease for every control, seeds, early stop, warm start,
callbacks, cancellation, and both methods end to end on a narrow UNet."""

from __future__ import annotations

import pytest
import torch

from ditto_live.engine.conditioning import Cond
from ditto_live.engine.controls import loss_function
from ditto_live.engine.ito import (
    JobCancelled,
    adaptive_schedule,
    ddim_chain,
    ditto2_decode,
    ditto2_optimise,
    ditto_decode,
    ditto_optimise,
    one_step_x0,
    surrogate_schedule,
)
from ditto_live.engine.schedule import teacher_grid
from ditto_live.engine.unet import UNet
from tests.engine.conftest import make_unet
from tests.engine.controls.test_features import F_MELS, N, all_controls


def make_model(w_embed: bool, seed: int = 0) -> UNet:
    """The narrow UNet, a student when ``w_embed`` (test_ito_stop and test_ito_gradients import it)."""
    return make_unet(w_embed=w_embed, seed=seed)


def noise(b: int = 1, seed: int = 0) -> torch.Tensor:
    return torch.randn(b, 1, F_MELS, N, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("k", "phases"), [(70, (36, 26, 8)), (8, (4, 3, 1)), (16, (8, 6, 2)), (150, (76, 56, 18)),
                                          (1, (1, 0, 0)), (3, (2, 1, 0)), (0, (0, 0, 0))])
def test_adaptive_schedule_phase_lengths(k, phases):
    sched = adaptive_schedule(k)
    assert len(sched) == k
    assert (sched.count(1), sched.count(2), sched.count(4)) == phases
    assert sched == sorted(sched)  # coarse to fine
    assert phases[1] == (3 * k) // 8 and phases[2] == k // 8  # the paper's floors; the remainder goes to M=1
    assert surrogate_schedule(5, "3") == [3] * 5 and surrogate_schedule(k, "adaptive") == sched


@pytest.mark.parametrize("index", range(7))
def test_ditto2_lowers_every_controls_loss(index):
    control = all_controls()[index]
    student = make_model(True)
    result = ditto2_optimise(student, noise(), Cond.null(1, w=3.0), loss_function([control]), steps=12, lr=0.05)
    before, after = result.initial_losses[control.name], result.losses[control.name]
    assert after < 0.9 * before, (control.name, before, after)
    assert result.steps_run == 12 and len(result.history) == 13


def test_seeds_are_optimised_independently_and_the_best_is_returned():
    student = make_model(True)
    loss_fn = loss_function(all_controls()[:1])
    x = noise(3)
    batch = ditto2_optimise(student, x, Cond.null(3, w=3.0), loss_fn, steps=4, lr=0.05)
    single = ditto2_optimise(student, x[1:2], Cond.null(1, w=3.0), loss_fn, steps=4, lr=0.05)
    torch.testing.assert_close(batch.x_T_batch[1:2], single.x_T, atol=1e-5, rtol=1e-4)
    finals = loss_fn(one_step_x0(student, batch.x_T_batch, Cond.null(3, w=3.0)))[0]
    assert batch.best_index == int(finals.argmin())
    torch.testing.assert_close(batch.x_T, batch.x_T_batch[batch.best_index:batch.best_index + 1])


def test_tolerance_stops_early_and_warm_start_resumes_from_the_optimum():
    student = make_model(True)
    loss_fn = loss_function(all_controls()[:1])
    cold = ditto2_optimise(student, noise(), Cond.null(1, w=3.0), loss_fn, steps=10, lr=0.05)
    target = cold.history[5]
    early = ditto2_optimise(student, noise(), Cond.null(1, w=3.0), loss_fn, steps=10, lr=0.05, tolerance=target)
    # the 6th step scored the x_T of 5 updates, reached the tolerance and stopped; that x_T is kept
    assert early.steps_run == 6 and early.loss == pytest.approx(target) and early.stopped == "tolerance"
    warm = ditto2_optimise(student, cold.x_T, Cond.null(1, w=3.0), loss_fn, steps=2, lr=0.05)
    assert warm.initial_losses["intensity"] == pytest.approx(cold.loss, rel=1e-4)


def test_callback_reports_every_step_and_cancellation_stops_within_one_step():
    student = make_model(True)
    loss_fn = loss_function(all_controls()[:2])
    seen = []
    ditto2_optimise(student, noise(), Cond.null(1, w=3.0), loss_fn, steps=5, lr=0.05,
                    callback=lambda step, total, losses: seen.append((step, total, sorted(losses))))
    assert [s[0] for s in seen] == [1, 2, 3, 4, 5] and seen[0][1] == 5
    assert seen[0][2] == ["intensity", "melody", "total"]

    calls = []
    student.register_forward_hook(lambda *a: calls.append(1))
    flag = {"cancel": False}

    def cb(step, total, losses):
        if step == 2:
            flag["cancel"] = True
            calls.clear()

    with pytest.raises(JobCancelled):
        ditto2_optimise(student, noise(), Cond.null(1, w=3.0), loss_fn, steps=50, lr=0.05, callback=cb,
                        is_cancelled=lambda: flag["cancel"])
    assert calls == []  # no model call after the flag was raised


def test_ditto2_end_to_end_with_ctm_and_cm_decoders_and_adaptive_surrogate():
    student = make_model(True)
    loss_fn = loss_function(all_controls()[:1])
    for kind in ("ctm", "cm"):
        result = ditto2_optimise(student, noise(2), Cond.null(2, w=3.0), loss_fn, 8, 0.05, "adaptive",
                                 student_kind=kind, gamma=0.2, generator=torch.Generator().manual_seed(0))
        x0 = ditto2_decode(student, result.x_T, Cond.null(1, w=3.0), 2, 0.2, kind, noise_seed=result.noise_seed)
        assert x0.shape == (1, 1, F_MELS, N) and torch.isfinite(x0).all()
        assert result.schedule == [1, 1, 1, 1, 2, 2, 2, 4]
        assert result.loss < result.initial_losses["intensity"]


def test_ditto_baseline_runs_the_checkpointed_20_step_chain_with_cfg():
    teacher = make_model(False)
    calls = []
    # a pre-hook: a checkpointed call's recomputation stops once it has what the backward needs, before
    # the forward returns (torch's early stop), so only the start of each forward is sure to be seen
    teacher.register_forward_pre_hook(lambda m, args: calls.append(args[0].shape[0]))
    cond = Cond(torch.ones(1, 4, dtype=torch.long), w=3.0)
    result = ditto_optimise(teacher, noise(), cond, loss_function(all_controls()[:1]), 2, lr=0.05)
    x0 = ditto_decode(teacher, result.x_T, cond)
    assert x0.shape == (1, 1, F_MELS, N) and torch.isfinite(x0).all()
    assert set(calls) == {2}  # CFG batches the conditional and unconditional rows
    # 2 steps x (20 forward + 20 recomputed in backward) + 1 final evaluation + 20 to decode
    assert len(calls) == 2 * 40 + 20 + 20
    assert result.loss <= result.initial_losses["intensity"]


def test_checkpointing_does_not_change_the_gradient():
    teacher = make_model(False)
    cond = Cond(torch.ones(1, 4, dtype=torch.long), w=2.0)
    grads = []
    for use in (False, True):
        x = noise().requires_grad_(True)
        ddim_chain(teacher, x, cond, teacher_grid(5), use_checkpoint=use).square().mean().backward()
        grads.append(x.grad)
    torch.testing.assert_close(grads[0], grads[1])


def test_bf16_autocast_still_lowers_the_loss():
    student = make_model(True)
    control = all_controls()[1]  # melody
    result = ditto2_optimise(student, noise(), Cond.null(1, w=3.0), loss_function([control]), steps=8, lr=0.05,
                             autocast=True)
    assert result.losses["melody"] < 0.95 * result.initial_losses["melody"]


def test_the_backend_objective_matches_the_optimiser_and_drives_the_eager_stepper():
    from ditto_live.engine.backends import EagerStepper

    student = make_model(True)
    loss_fn = loss_function(all_controls()[:1])
    cond = Cond.null(2, w=3.0)
    objective = lambda x_T: loss_fn(one_step_x0(student, x_T, cond))  # noqa: E731 - the M = 1 objective
    x = noise(2)
    stepper = EagerStepper(objective, x, lr=0.05)
    first, first_parts = stepper.step()
    for _ in range(5):
        last, parts = stepper.step()
    assert (last < first).all()
    assert parts.keys() == first_parts.keys() == {"intensity"}  # a step returns the total and the parts
