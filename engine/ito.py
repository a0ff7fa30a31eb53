"""Inference-time optimisation of the initial noise x_T: DITTO-2 (paper Alg. 1) and the DITTO baseline.

DITTO-2 runs K Adam steps on x_T through a cheap surrogate of the distilled student -- the one-step
jump G(x_T, c, w, T, 0) (M = 1), M-step student sampling, or the adaptive M schedule -- then decodes
x_T* with T steps of CTM gamma-sampling or CM multistep sampling. DITTO optimises through the full
20-step DDIM chain of the base model with CFG, checkpointing each sampler call (paper §2.3), and
decodes with the same chain, so its objective is exactly its output.

Beyond the paper: B seeds are optimised as one batch (the losses are per row, so Adam's per-element
updates keep the rows independent) and the best is returned; a loss tolerance stops early; a previous
x_T* can be passed as the start (warm start); a callback reports every step; ``is_cancelled`` is
checked before every step (and, for DITTO, before every sampler call, and on a CPU before every call's
backward) and raises :class:`JobCancelled`;
``should_stop`` is checked every step too but does not raise: the loop ends and returns the best x_T
so far (a time budget, as the live stream's deadline uses), with ``steps_run`` < K.

The M-step surrogate's sampling noise (CTM gamma-sampling, CM renoising) is fixed per row by a seed
that the result records (``ItoResult.noise_seed``); ``ditto2_decode(noise_seed=...)`` draws the same
noise, so with T = M the output is exactly the surrogate's x0 at x_T* (paper §3.3: the objective is
the decoded output), and any T decodes reproducibly from the seed written in a job's sidecar.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from ditto_live.engine import student_sampling as ss
from ditto_live.engine.backends import Objective, prepare_stepper
from ditto_live.engine.cancel import JobCancelled
from ditto_live.engine.conditioning import Cond
from ditto_live.engine.distill import cm_denoise, ctm_G
from ditto_live.engine.sampling import ddim_sample
from ditto_live.engine.schedule import CLEAN, NUM_TRAIN_STEPS, teacher_grid

log = logging.getLogger(__name__)

LossFn = Callable[[Tensor], tuple[Tensor, dict[str, Tensor]]]  # x0 [B,1,F,N] -> (total [B], {name: [B]})
Callback = Callable[[int, int, dict[str, float]], None]  # (step, total steps, losses of the best row)
StepperMaker = Callable[[Objective, Tensor, float, Objective | None], Any]  # (objective, x_T, lr, float32 reference)
T_MAX = NUM_TRAIN_STEPS - 1  # time index of x_T


def adaptive_schedule(steps: int) -> list[int]:
    """M per optimisation step: M=1 for floor(K/2) steps, M=2 for floor(3K/8), M=4 for floor(K/8).

    The floors leave up to two steps over; they go to the M=1 phase (the cheapest, and the phase
    order stays coarse to fine), so the schedule has exactly K entries.
    """
    n1, n2, n4 = steps // 2, (3 * steps) // 8, steps // 8
    n1 += steps - (n1 + n2 + n4)
    return [1] * n1 + [2] * n2 + [4] * n4


def surrogate_schedule(steps: int, surrogate: int | str) -> list[int]:
    """M per step for a fixed M (an int or a digit string) or "adaptive"."""
    if surrogate == "adaptive":
        return adaptive_schedule(steps)
    m = int(surrogate)
    if m < 1:
        raise ValueError(f"surrogate M must be >= 1, got {m}")
    return [m] * steps


def one_step_x0(student: nn.Module, x_T: Tensor, cond: Cond, student_kind: str = "ctm") -> Tensor:
    """The surrogate of Alg. 1, line 3: x0 = G(x_T, c, w, T, 0), the student's jump from T to clean.

    CTM: ``ctm_G`` (the 1-step Euler jump, i.e. the student's x0 prediction at s = clean);
    CM: the consistency function f(x_T, T). x_T: [B, 1, F, N] -> [B, 1, F, N]
    """
    if student_kind == "ctm":
        return ctm_G(student, x_T, T_MAX, CLEAN, cond)
    if student_kind == "cm":
        return cm_denoise(student, x_T, T_MAX, cond)
    raise ValueError(f"unknown student kind {student_kind!r} (ctm or cm)")


def _backward_check(is_cancelled: Callable[[], bool], step: int) -> Callable[[Tensor], None]:
    """A gradient hook on one sampler call's output: it runs when the backward reaches that call, before
    the call is recomputed (checkpointing) and differentiated, so ``is_cancelled`` is consulted there too."""
    def hook(grad: Tensor) -> None:
        if is_cancelled():
            raise JobCancelled(f"cancelled inside the sampler's backward at call {step}")
    return hook


def ddim_chain(model: nn.Module, x_T: Tensor, cond: Cond, grid: list[int], use_checkpoint: bool = False,
               is_cancelled: Callable[[], bool] | None = None) -> Tensor:
    """The teacher's DDIM sampler (``sampling.ddim_sample``, the engine's one DDIM) on ``grid``, differentiable,
    optionally checkpointed per call. ``is_cancelled`` is consulted after every call (so before the next),
    and on a CPU before every call's backward too. x_T: [B, 1, F, N] -> x0 [B, 1, F, N]"""
    def check(step: int, total: int, x: Tensor) -> None:
        if is_cancelled():
            raise JobCancelled(f"cancelled inside the sampler after call {step} of {total}")
        # CPU only: a CPU backward runs on the thread that called it, so the hook may wait there (a
        # server's job stepping aside); a CUDA backward runs on autograd's one thread per device, shared
        # by every thread's backward, and a hook waiting there would stall the job it waits for
        if x.requires_grad and x.device.type == "cpu":
            x.register_hook(_backward_check(is_cancelled, step))

    return ddim_sample(model, x_T, grid, cond, callback=check if is_cancelled is not None else None,
                       grad_checkpoint=use_checkpoint)


@dataclass
class ItoResult:
    """What an optimisation returns."""

    x_T: Tensor  # the best row's optimised noise [1, 1, F, N]
    x_T_batch: Tensor  # every row's best noise [B, 1, F, N] (for warm starts of all seeds)
    best_index: int  # row of the batch whose loss was lowest
    loss: float  # best row's total loss at its best x_T (surrogate objective)
    losses: dict[str, float]  # best row's per-control losses at its best x_T
    initial_losses: dict[str, float]  # the same row's per-control losses at the starting x_T
    steps_run: int  # gradient steps taken (< K when the tolerance or ``should_stop`` stopped it)
    seconds: float  # wall time of the optimisation
    history: list[float] = field(default_factory=list)  # lowest total loss over the batch, per evaluation
    schedule: list[int] = field(default_factory=list)  # M used at each step
    noise_seed: int | None = None  # DITTO-2: seed of the best row's sampling noise (row i used base + i);
    # ditto2_decode(..., noise_seed=noise_seed) draws the same noise, so T = M decodes the surrogate's output


def _autocast(enabled: bool, device: torch.device):
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def optimise_latent(forward: Callable[[Tensor, int], Tensor], x_T: Tensor, loss_fn: LossFn, schedule: list[int],
                    lr: float = 5e-3, callback: Callback | None = None,
                    is_cancelled: Callable[[], bool] | None = None, tolerance: float = 0.0,
                    autocast: bool = False, backend: str | StepperMaker = "eager", *,
                    should_stop: Callable[[], bool] | None = None) -> ItoResult:
    """Adam on x_T through ``forward(x_T, M) -> x0``; one entry of ``schedule`` (M) per step.

    Keeps, per row, the x_T with the lowest loss seen (every step's x_T and the final one are
    evaluated), stops once the best loss is <= ``tolerance`` (when > 0) or ``should_stop()`` answers
    True (checked after each evaluation, so the x_T it stops at is scored). x_T: [B, 1, F, N].
    ``backend``: "eager" (this loop), another engine/backends.py name, or a stepper maker such as
    a ``backends.StepperFactory`` (see :func:`_optimise_with_stepper`).
    """
    if backend != "eager":
        return _optimise_with_stepper(forward, x_T, loss_fn, schedule, lr, callback, is_cancelled, tolerance,
                                      autocast, backend, should_stop)
    start = time.perf_counter()
    x = x_T.detach().clone().float().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    b = x.shape[0]
    best = torch.full((b,), math.inf, device=x.device)
    best_x = x.detach().clone()
    best_parts: dict[str, Tensor] = {}
    first_parts: dict[str, Tensor] = {}
    history: list[float] = []
    total_steps = len(schedule)
    steps_run = 0

    def evaluate(m: int, grad: bool) -> tuple[Tensor, dict[str, Tensor]]:
        nonlocal best, best_parts, first_parts
        with torch.set_grad_enabled(grad), _autocast(autocast, x.device):
            x0 = forward(x, m)
        total, parts = loss_fn(x0.float())
        with torch.no_grad():
            if not first_parts:
                first_parts = {k: v.detach().clone() for k, v in parts.items()}
            better = total.detach() < best
            best = torch.where(better, total.detach(), best)
            best_x[better] = x.detach()[better]
            for k, v in parts.items():
                kept = best_parts.get(k, torch.full_like(v, math.inf))
                best_parts[k] = torch.where(better, v.detach(), kept)
            history.append(float(total.detach().min()))
        return total, parts

    for step, m in enumerate(schedule):
        if is_cancelled is not None and is_cancelled():
            raise JobCancelled(f"cancelled at step {step} of {total_steps}")
        total, parts = evaluate(m, grad=True)
        if tolerance > 0 and float(best.min()) <= tolerance:
            log.debug("tolerance %.4g reached after %d steps", tolerance, step)
            break
        if should_stop is not None and should_stop():
            log.debug("stopped by should_stop after %d of %d steps", step, total_steps)
            break
        opt.zero_grad(set_to_none=True)
        total.sum().backward(inputs=[x])  # only x_T's gradient: no weight gradients (a third of the backward)
        opt.step()
        steps_run += 1
        if callback is not None:
            row = int(total.detach().argmin())
            callback(step + 1, total_steps, {"total": float(total.detach()[row]),
                                             **{k: float(v.detach()[row]) for k, v in parts.items()}})
    else:
        if schedule:
            evaluate(schedule[-1], grad=False)
    if not schedule:
        evaluate(1, grad=False)
    i = int(best.argmin())
    return ItoResult(
        x_T=best_x[i:i + 1].detach(), x_T_batch=best_x.detach(), best_index=i, loss=float(best[i]),
        losses={k: float(v[i]) for k, v in best_parts.items()},
        initial_losses={k: float(v[i]) for k, v in first_parts.items()},
        steps_run=steps_run, seconds=time.perf_counter() - start, history=history, schedule=list(schedule))


def _optimise_with_stepper(forward: Callable[[Tensor, int], Tensor], x_T: Tensor, loss_fn: LossFn,
                           schedule: list[int], lr: float, callback: Callback | None,
                           is_cancelled: Callable[[], bool] | None, tolerance: float, autocast: bool,
                           backend: str | StepperMaker,
                           should_stop: Callable[[], bool] | None = None) -> ItoResult:
    """:func:`optimise_latent` with the Adam steps run by an engine/backends.py stepper (compiled, CUDA
    graph, exported, TensorRT), prepared with its parity check against eager.

    Needs a fixed M (a stepper holds one objective). A stepper returns each step's total losses before
    its update, so the callback gets only "total", the tolerance stops after the step that reached it,
    ``should_stop`` is checked before each step (the x_T it stops at is scored once more, without a
    step), and the per-control losses are evaluated once at the start and once at the best x_T.
    """
    if len(set(schedule)) > 1:
        raise ValueError("an execution backend needs a fixed surrogate M; the adaptive schedule runs eager")
    start = time.perf_counter()
    m = schedule[0] if schedule else 1
    x = x_T.detach().clone().float()

    def x0_of(x_in: Tensor, amp: bool = autocast) -> Tensor:
        with _autocast(amp, x_in.device):
            return forward(x_in, m).float()

    def objective(x_in: Tensor) -> Tensor:  # x_T [B, 1, F, N] -> total loss [B]
        return loss_fn(x0_of(x_in))[0]

    def in_float32(x_in: Tensor) -> Tensor:  # the objective without autocast: the parity check's precision floor
        return loss_fn(x0_of(x_in, False))[0]

    with torch.no_grad():
        _, first_parts = loss_fn(x0_of(x))
    make = ((lambda o, x0, rate, ref: prepare_stepper(backend, o, x0, rate, reference=ref))
            if isinstance(backend, str) else backend)
    stepper = make(objective, x, lr, in_float32 if autocast else None)
    best = torch.full((x.shape[0],), math.inf, device=x.device)
    best_x = x.clone()
    history: list[Tensor] = []  # kept on the device: no sync per step (a CUDA graph's replays queue up)
    steps_run = 0

    def keep(total: Tensor, at: Tensor) -> None:
        nonlocal best
        better = total < best
        best = torch.where(better, total, best)
        best_x.copy_(torch.where(better.view(-1, *([1] * (at.dim() - 1))), at, best_x))
        history.append(total.min())

    reached = False  # the tolerance stopped it: the last x_T was scored by its step
    for step in range(len(schedule)):
        if is_cancelled is not None and is_cancelled():
            raise JobCancelled(f"cancelled at step {step} of {len(schedule)}")
        if should_stop is not None and should_stop():
            log.debug("stopped by should_stop after %d of %d steps", step, len(schedule))
            break
        at = stepper.x.detach().clone()
        total = stepper.step().float()
        keep(total, at)
        steps_run += 1
        if callback is not None:
            callback(step + 1, len(schedule), {"total": float(total.min())})
        if tolerance > 0 and float(best.min()) <= tolerance:
            log.debug("tolerance %.4g reached after %d steps", tolerance, steps_run)
            reached = True
            break
    if not reached:
        with torch.no_grad():
            keep(objective(stepper.x.detach()).float(), stepper.x.detach())
    with torch.no_grad():
        _, best_parts = loss_fn(x0_of(best_x))
    i = int(best.argmin())
    return ItoResult(
        x_T=best_x[i:i + 1].clone(), x_T_batch=best_x, best_index=i, loss=float(best[i]),
        losses={k: float(v[i]) for k, v in best_parts.items()},
        initial_losses={k: float(v[i]) for k, v in first_parts.items()},
        steps_run=steps_run, seconds=time.perf_counter() - start,
        history=torch.stack(history).tolist() if history else [], schedule=list(schedule))


Sampler = Callable[..., Tensor]  # sample(model, x, grid, cond, generator=None, ...) -> x0


def draw_noise_seed(generator: torch.Generator | None) -> int:
    """The base seed of DITTO-2's sampling noise, drawn from the job's generator (0 without one).

    ``ditto2_optimise`` draws it right after the caller's x_T; a caller that decodes an unoptimised
    x_T may draw it the same way so that its decode uses the noise an optimisation would have."""
    if generator is None:
        return 0
    return int(torch.randint(0, 2**31 - 1, (1,), generator=generator, device=generator.device))


def student_sampler(kind: str, gamma: float) -> tuple[Sampler, Callable[[int], list[int]]]:
    """The student's few-step sampler and its grid: CTM gamma-sampling or CM multistep sampling."""
    if kind == "ctm":
        return (lambda model, x, grid, cond, generator=None:
                ss.ctm_gamma_sample(model, x, grid, cond, generator=generator, gamma=gamma)), ss.student_grid
    if kind == "cm":
        return ss.cm_multistep_sample, ss.student_grid
    raise ValueError(f"unknown student kind {kind!r} (ctm or cm)")


def ditto2_optimise(student: nn.Module, x_T: Tensor, cond: Cond, loss_fn: LossFn, steps: int, lr: float = 5e-3,
                    surrogate: int | str = 1, *, student_kind: str = "ctm", gamma: float = 0.2,
                    generator: torch.Generator | None = None, callback: Callback | None = None,
                    is_cancelled: Callable[[], bool] | None = None, tolerance: float = 0.0,
                    autocast: bool = False, sampler: Sampler | None = None,
                    grid_fn: Callable[[int], list[int]] | None = None,
                    backend: str | StepperMaker = "eager",
                    should_stop: Callable[[], bool] | None = None, noise_seed: int | None = None) -> ItoResult:
    """DITTO-2 optimisation (Alg. 1, lines 1-6): Adam on x_T through the student surrogate.

    M = 1 uses G(x_T, T, 0); M > 1 runs M steps of the student's sampler (the decoding sampler,
    with the same noise at every step so the objective stays fixed). Row i's noise comes from its own
    generator seeded ``noise_seed + i`` (``noise_seed``: given, or drawn from ``generator``); the
    result's ``noise_seed`` is the best row's, for ``ditto2_decode``. x_T: [B, 1, F, N].
    """
    schedule = surrogate_schedule(steps, surrogate)
    if any(m > 1 for m in schedule) and sampler is None:
        sampler, grid_fn = student_sampler(student_kind, gamma)
    base_seed = draw_noise_seed(generator) if noise_seed is None else int(noise_seed)

    def forward(x: Tensor, m: int) -> Tensor:
        if m == 1:
            return one_step_x0(student, x, cond, student_kind)
        return sampler(student, x, grid_fn(m), cond, generator=ss.row_generators(base_seed, x.shape[0], x.device))

    result = optimise_latent(forward, x_T, loss_fn, schedule, lr, callback, is_cancelled, tolerance, autocast,
                             backend, should_stop=should_stop)
    result.noise_seed = base_seed + result.best_index
    return result


def ditto2_decode(student: nn.Module, x_T: Tensor, cond: Cond, decode_steps: int = 2, gamma: float = 0.2,
                  student_kind: str = "ctm", generator: torch.Generator | None = None,
                  sampler: Sampler | None = None, grid_fn: Callable[[int], list[int]] | None = None, *,
                  noise_seed: int | None = None) -> Tensor:
    """Alg. 1, lines 7-12: T steps of CTM gamma-sampling (or CM multistep) from x_T*. -> x0

    ``noise_seed`` (an ``ItoResult.noise_seed``) draws row i's noise from a generator seeded
    ``noise_seed + i``, the stream the optimisation's M-step surrogate used: with T = M the decode is
    the surrogate's output at x_T*, and any T is reproducible from the seed. Otherwise ``generator``.
    """
    if noise_seed is not None and generator is not None:
        raise ValueError("give ditto2_decode a noise_seed or a generator, not both")
    with torch.no_grad():
        if decode_steps == 1 and sampler is None:
            return one_step_x0(student, x_T, cond, student_kind)
        if sampler is None:
            sampler, grid_fn = student_sampler(student_kind, gamma)
        if noise_seed is not None:
            generator = ss.row_generators(int(noise_seed), x_T.shape[0], x_T.device)
        return sampler(student, x_T, grid_fn(decode_steps), cond, generator=generator)


def ditto_optimise(teacher: nn.Module, x_T: Tensor, cond: Cond, loss_fn: LossFn, steps: int, lr: float = 5e-3,
                   *, sampling_steps: int = 20, use_checkpoint: bool = True, callback: Callback | None = None,
                   is_cancelled: Callable[[], bool] | None = None, tolerance: float = 0.0,
                   autocast: bool = False, backend: str | StepperMaker = "eager",
                   should_stop: Callable[[], bool] | None = None) -> ItoResult:
    """The DITTO baseline: Adam on x_T through the full DDIM chain (CFG, checkpoint per call)."""
    grid = teacher_grid(sampling_steps)

    def forward(x: Tensor, m: int) -> Tensor:
        return ddim_chain(teacher, x, cond, grid, use_checkpoint, is_cancelled)

    return optimise_latent(forward, x_T, loss_fn, [sampling_steps] * steps, lr, callback, is_cancelled,
                           tolerance, autocast, backend, should_stop=should_stop)


def ditto_decode(teacher: nn.Module, x_T: Tensor, cond: Cond, sampling_steps: int = 20) -> Tensor:
    """DITTO's output: the same DDIM chain from x_T*, without gradients. -> x0"""
    with torch.no_grad():
        return ddim_chain(teacher, x_T, cond, teacher_grid(sampling_steps))
