"""Inference-time optimisation of the initial noise x_T: DITTO-2 (paper Alg. 1) and the DITTO baseline.

DITTO-2 runs K Adam steps on x_T through a cheap surrogate of the distilled student -- the one-step
jump G(x_T, c, w, T, 0) (M = 1), M-step student sampling, or the adaptive M schedule -- then decodes
x_T* with T steps of CTM gamma-sampling or CM multistep sampling. DITTO optimises through the full
20-step DDIM chain of the base model with CFG, checkpointing each sampler call (paper §2.3), and
decodes with the same chain, so its objective is exactly its output.

Beyond the paper: B seeds are optimised as one batch (the losses are per row, so Adam's per-element
updates keep the rows independent) and the best is returned; a loss tolerance stops early, and so
may a plateau of the best loss (``Plateau``, off by default); a previous x_T* can be passed as the
start (warm start); a callback reports every step; one loop (:func:`optimise_latent`) runs every
execution backend, eager being one stepper among them; ``is_cancelled`` is checked before every step (and, for DITTO, before every sampler call, and on a CPU before every call's
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

import torch
from torch import Tensor, nn

from ditto_live.engine import student_sampling as ss
from ditto_live.engine.backends import StepperMaker, eager_stepper
from ditto_live.engine.cancel import JobCancelled
from ditto_live.engine.conditioning import Cond
from ditto_live.engine.distill import cm_denoise, ctm_G
from ditto_live.engine.sampling import ddim_sample
from ditto_live.engine.schedule import CLEAN, NUM_TRAIN_STEPS, teacher_grid

log = logging.getLogger(__name__)

LossFn = Callable[[Tensor], tuple[Tensor, dict[str, Tensor]]]  # x0 [B,1,F,N] -> (total [B], {name: [B]})
Callback = Callable[[int, int, dict[str, float]], None]  # (step, total steps, losses of the best row)
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
    if is_cancelled is None:
        return ddim_sample(model, x_T, grid, cond, grad_checkpoint=use_checkpoint)
    cancelled = is_cancelled

    def check(step: int, total: int, x: Tensor) -> None:
        if cancelled():
            raise JobCancelled(f"cancelled inside the sampler after call {step} of {total}")
        # CPU only: a CPU backward runs on the thread that called it, so the hook may wait there (a
        # server's job stepping aside); a CUDA backward runs on autograd's one thread per device, shared
        # by every thread's backward, and a hook waiting there would stall the job it waits for
        if x.requires_grad and x.device.type == "cpu":
            x.register_hook(_backward_check(cancelled, step))

    return ddim_sample(model, x_T, grid, cond, callback=check, grad_checkpoint=use_checkpoint)


@dataclass
class ItoResult:
    """What an optimisation returns."""

    x_T: Tensor  # the best row's optimised noise [1, 1, F, N]
    x_T_batch: Tensor  # every row's best noise [B, 1, F, N] (for warm starts of all seeds)
    best_index: int  # row of the batch whose loss was lowest
    loss: float  # best row's total loss at its best x_T (surrogate objective)
    losses: dict[str, float]  # best row's per-control losses at its best x_T
    initial_losses: dict[str, float]  # the same row's per-control losses at the starting x_T
    steps_run: int  # gradient steps taken (< K when the tolerance, a plateau or ``should_stop`` stopped it)
    seconds: float  # wall time of the optimisation
    history: list[float] = field(default_factory=list)  # lowest total loss over the batch, per evaluation
    schedule: list[int] = field(default_factory=list)  # M used at each step
    noise_seed: int | None = None  # DITTO-2: seed of the best row's sampling noise (row i used base + i);
    # ditto2_decode(..., noise_seed=noise_seed) draws the same noise, so T = M decodes the surrogate's output
    stopped: str | None = None  # why it ended before K: "tolerance", "plateau", "should_stop"; None: ran K steps


def _autocast(enabled: bool, device: torch.device) -> contextlib.AbstractContextManager[object]:
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


@dataclass(frozen=True)
class Plateau:
    """Stop when the best total loss has stopped improving (issue 27: melody and structure run K = 150)."""

    window: int  # steps over which the best total loss must improve (> 0)
    min_improvement: float  # relative improvement of the best total loss over ``window`` steps below which it stops


def plateaued(best_so_far: list[float], plateau: Plateau) -> bool:
    """Whether the best total loss (one entry per step, non-increasing) improved by less than
    ``plateau.min_improvement`` of its value over the last ``plateau.window`` steps."""
    if len(best_so_far) <= plateau.window:
        return False
    before, now = best_so_far[-1 - plateau.window], best_so_far[-1]
    return before - now < plateau.min_improvement * abs(before)


@dataclass
class Surrogate:
    """The ITO objective: x_T -> (total [B], parts) through ``forward(x_T, m)`` (under bf16 autocast when
    ``autocast``), the losses in float32. ``m`` is the current step's M; a backend holds one."""

    forward: Callable[[Tensor, int], Tensor]  # (x_T [B,1,F,N], M) -> x0 [B,1,F,N]
    loss_fn: LossFn  # x0 -> (total [B], {name: [B]})
    autocast: bool  # bf16 autocast of the model calls
    m: int = 1  # M of the current step

    def __call__(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        with _autocast(self.autocast, x.device):
            x0 = self.forward(x, self.m)
        return self.loss_fn(x0.float())

    def in_float32(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """The objective without autocast: a backend's parity check judges bf16 against it."""
        return self.loss_fn(self.forward(x, self.m).float())


class BestSoFar:
    """Per row, the x_T with the lowest total seen, its parts, the first parts, and the batch's best per step.
    Everything stays on the device (no sync per step: a CUDA graph's replays queue up)."""

    def __init__(self, x: Tensor):
        self.total = torch.full((x.shape[0],), math.inf, device=x.device)  # [B]
        self.x = x.detach().clone()  # [B, 1, F, N]
        self.parts: dict[str, Tensor] = {}  # {name: [B]} at each row's best
        self.first: dict[str, Tensor] = {}  # {name: [B]} at the start
        self.history: list[Tensor] = []  # lowest total over the batch, per evaluation

    def keep(self, total: Tensor, parts: dict[str, Tensor], at: Tensor) -> None:
        total = total.float()
        if not self.first:
            self.first = {k: v.detach().clone() for k, v in parts.items()}
        better = total < self.total
        self.total = torch.where(better, total, self.total)
        self.x.copy_(torch.where(better.view(-1, *([1] * (at.dim() - 1))), at, self.x))
        for k, v in parts.items():
            self.parts[k] = torch.where(better, v.float(), self.parts.get(k, torch.full_like(total, math.inf)))
        self.history.append(total.min())

    def lowest(self) -> float:
        return float(self.total.min())


def report_step(callback: Callback, step: int, steps: int, total: Tensor, parts: dict[str, Tensor]) -> None:
    """The callback gets the losses of the step's best row (the row with the lowest total at that x_T)."""
    row = int(total.argmin())
    callback(step, steps, {"total": float(total[row]), **{k: float(v[row]) for k, v in parts.items()}})


def optimise_latent(forward: Callable[[Tensor, int], Tensor], x_T: Tensor, loss_fn: LossFn, schedule: list[int],
                    lr: float = 5e-3, callback: Callback | None = None,
                    is_cancelled: Callable[[], bool] | None = None, tolerance: float = 0.0,
                    autocast: bool = False, stepper: StepperMaker = eager_stepper, *,
                    should_stop: Callable[[], bool] | None = None, plateau: Plateau | None = None) -> ItoResult:
    """The one ITO loop: Adam on x_T through ``forward(x_T, M) -> x0``, one entry of ``schedule`` (M) per step,
    the steps run by a stepper (``stepper``: eager, or a backend's maker such as a ``backends.StepperFactory``;
    a backend needs a fixed M). x_T: [B, 1, F, N].

    Before each step ``is_cancelled`` (raises :class:`JobCancelled`) and ``should_stop`` (ends the loop) are
    asked. A step returns the losses at the x_T it updated from; per row the x_T with the lowest total is
    kept, and the callback gets the step's best row. The loop stops after the step whose x_T reached
    ``tolerance`` (when > 0) or a ``plateau``; otherwise the final x_T is scored once more, without a step.
    """
    if len(set(schedule)) > 1 and stepper is not eager_stepper:
        raise ValueError("an execution backend needs a fixed surrogate M; the adaptive schedule runs eager")
    start = time.perf_counter()
    objective = Surrogate(forward, loss_fn, autocast, schedule[0] if schedule else 1)
    steps = stepper(objective, x_T.detach().clone().float(), lr, objective.in_float32 if autocast else None)
    best = BestSoFar(steps.x)
    best_so_far: list[float] = []  # the batch's best total after each step (plateau only: one sync per step)
    stopped: str | None = None
    for step, m in enumerate(schedule):
        if is_cancelled is not None and is_cancelled():
            raise JobCancelled(f"cancelled at step {step} of {len(schedule)}")
        if should_stop is not None and should_stop():
            stopped = "should_stop"
            break
        objective.m = m
        at = steps.x.detach().clone()
        total, parts = steps.step()
        best.keep(total, parts, at)
        if callback is not None:
            report_step(callback, step + 1, len(schedule), total, parts)
        if tolerance > 0 and best.lowest() <= tolerance:
            stopped = "tolerance"
        elif plateau is not None:
            best_so_far.append(best.lowest())
            stopped = "plateau" if plateaued(best_so_far, plateau) else None
        if stopped is not None:
            break
    if stopped in (None, "should_stop"):  # score the x_T the loop ends at
        with torch.no_grad():
            total, parts = objective(steps.x.detach())
        best.keep(total, parts, steps.x.detach())
    if stopped is not None:
        log.debug("stopped (%s) after %d of %d steps", stopped, len(best.history) - 1, len(schedule))
    i = int(best.total.argmin())
    steps_run = len(best.history) - (1 if stopped in (None, "should_stop") else 0)
    return ItoResult(
        x_T=best.x[i:i + 1].clone(), x_T_batch=best.x, best_index=i, loss=float(best.total[i]),
        losses={k: float(v[i]) for k, v in best.parts.items()},
        initial_losses={k: float(v[i]) for k, v in best.first.items()},
        steps_run=steps_run, seconds=time.perf_counter() - start,
        history=torch.stack(best.history).tolist(), schedule=list(schedule), stopped=stopped)


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
                    grid_fn: Callable[[int], list[int]] | None = None, stepper: StepperMaker = eager_stepper,
                    should_stop: Callable[[], bool] | None = None, noise_seed: int | None = None,
                    plateau: Plateau | None = None) -> ItoResult:
    """DITTO-2 optimisation (Alg. 1, lines 1-6): Adam on x_T through the student surrogate.

    M = 1 uses G(x_T, T, 0); M > 1 runs M steps of the student's sampler (the decoding sampler,
    with the same noise at every step so the objective stays fixed). Row i's noise comes from its own
    generator seeded ``noise_seed + i`` (``noise_seed``: given, or drawn from ``generator``); the
    result's ``noise_seed`` is the best row's, for ``ditto2_decode``. x_T: [B, 1, F, N].
    """
    schedule = surrogate_schedule(steps, surrogate)
    if any(m > 1 for m in schedule) and sampler is None:
        sampler, grid_fn = student_sampler(student_kind, gamma)
    draw, grid_of = sampler, grid_fn
    base_seed = draw_noise_seed(generator) if noise_seed is None else int(noise_seed)

    def one_step(x: Tensor, m: int) -> Tensor:
        return one_step_x0(student, x, cond, student_kind)

    def sampled(x: Tensor, m: int) -> Tensor:
        if m == 1:
            return one_step(x, m)
        assert draw is not None and grid_of is not None, "an M > 1 surrogate needs a sampler and its grid"
        return draw(student, x, grid_of(m), cond, generator=ss.row_generators(base_seed, x.shape[0], x.device))

    # M = 1 does not read the noise seed: a backend's graph is then the same for every job's seed
    forward = sampled if any(m > 1 for m in schedule) else one_step
    result = optimise_latent(forward, x_T, loss_fn, schedule, lr, callback, is_cancelled, tolerance, autocast,
                             stepper, should_stop=should_stop, plateau=plateau)
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
        if sampler is None or grid_fn is None:
            sampler, grid_fn = student_sampler(student_kind, gamma)
        noise = generator if noise_seed is None else ss.row_generators(int(noise_seed), x_T.shape[0], x_T.device)
        return sampler(student, x_T, grid_fn(decode_steps), cond, generator=noise)


def ditto_optimise(teacher: nn.Module, x_T: Tensor, cond: Cond, loss_fn: LossFn, steps: int, lr: float = 5e-3,
                   *, sampling_steps: int = 20, use_checkpoint: bool = True, callback: Callback | None = None,
                   is_cancelled: Callable[[], bool] | None = None, tolerance: float = 0.0,
                   autocast: bool = False, stepper: StepperMaker = eager_stepper,
                   should_stop: Callable[[], bool] | None = None, plateau: Plateau | None = None) -> ItoResult:
    """The DITTO baseline: Adam on x_T through the full DDIM chain (CFG, checkpoint per call)."""
    grid = teacher_grid(sampling_steps)

    def forward(x: Tensor, m: int) -> Tensor:
        return ddim_chain(teacher, x, cond, grid, use_checkpoint, is_cancelled)

    return optimise_latent(forward, x_T, loss_fn, [sampling_steps] * steps, lr, callback, is_cancelled,
                           tolerance, autocast, stepper, should_stop=should_stop, plateau=plateau)


def ditto_decode(teacher: nn.Module, x_T: Tensor, cond: Cond, sampling_steps: int = 20) -> Tensor:
    """DITTO's output: the same DDIM chain from x_T*, without gradients. -> x0"""
    with torch.no_grad():
        return ddim_chain(teacher, x_T, cond, teacher_grid(sampling_steps))
