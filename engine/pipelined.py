"""Adam on x_T with two gradients computed at once: the ITO step for two idle CPU cores.

At this model's size a second OpenMP thread speeds one gradient of the student up by about a quarter (an ITO
step 57-62 ms against 72-76 ms on one thread, 2-core Xeon), while two gradients computed side by side, each on
one thread, take 39-40 ms a gradient. So the step applies the gradient of the iterate before the current one,
and the gradient of the current one is computed meanwhile (a gradient one step late, as in pipelined or
asynchronous SGD):

    x_{k+1} = x_k - Adam(g(x_{k-1})),   g(x_{-1}) := g(x_0)

The iterates do not depend on how many gradients run at once (``width``): with one they are computed in turn
on the calling thread, the same numbers, slower. Each returned loss is the one of the gradient just applied,
at the iterate it was computed at (``scored``), so the ITO loop keeps the best iterate it has seen.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import torch
from torch import Tensor

from ditto_live.engine.backends import Losses, Objective, Stepper, detached

Gradient = tuple[Tensor, Losses]  # (dL/dx [B, 1, F, N], losses at x)


def gradient(objective: Objective, x: Tensor) -> Gradient:
    """The objective's gradient and losses at ``x`` (a detached copy is differentiated). -> (grad, losses)"""
    leaf = x.detach().clone().requires_grad_(True)
    total, parts = objective(leaf)
    (grad,) = torch.autograd.grad(total.sum(), [leaf])
    return grad, detached((total, parts))


def _worker_threads(threads: int) -> Callable[[], None]:
    """A pool thread's set-up: ``threads`` torch threads (torch sets a new thread's count at its first
    parallel operation from the last count set anywhere; asking first makes the count set here stay)."""
    def setup() -> None:
        torch.get_num_threads()
        torch.set_num_threads(threads)
    return setup


class PipelinedStepper:
    """Adam on x_T with each step's gradient taken one iterate late, so that two gradients run at once.

    ``width()`` is read before every step: 2 or more computes the current iterate's gradient on a second
    thread while the step waits for the previous one (each on ``width() // 2`` torch threads); 1 computes
    each gradient on the calling thread when it is needed. Call :meth:`close` when done: it waits for the
    gradients still running and returns their losses."""

    def __init__(self, objective: Objective, x_T: Tensor, lr: float, width: Callable[[], int]):
        self.objective = objective
        self.x = x_T.detach().clone().requires_grad_(True)  # the iterate x_k [B, 1, F, N]
        self.lr = lr
        self.width = width
        self.opt = torch.optim.Adam([self.x], lr=lr)
        self.scored = self.x.detach().clone()  # where the last step's losses were computed
        self._k = 0  # index of the current iterate
        self._points: dict[int, Tensor] = {0: self.scored}  # k -> x_k, while its gradient may be wanted
        self._gradients: dict[int, Future[Gradient] | Gradient] = {}  # k -> g(x_k), running or in hand
        self._pool: ThreadPoolExecutor | None = None
        self._pool_threads = 0

    def restart(self, x_T: Tensor) -> Stepper:
        """Start again from ``x_T`` with a fresh Adam and no gradient in hand. -> self"""
        self.close()
        with torch.no_grad():
            self.x.copy_(x_T)
        self.opt = torch.optim.Adam([self.x], lr=self.lr)
        self._k, self.scored = 0, self.x.detach().clone()
        self._points = {0: self.scored}
        return self

    def step(self) -> Losses:
        """x_{k+1} = x_k - Adam(g(x_{k-1})); with room for two gradients, g(x_{k+1}) starts before returning.
        -> the losses at ``scored`` = x_{k-1} (x_0 for the first two steps)"""
        width = self.width()
        wanted = max(self._k - 1, 0)
        if width >= 2:
            self._start(self._k, width)  # runs beside the wait below
        grad, losses = self._take(wanted)
        self.x.grad = grad
        self.opt.step()
        self._k += 1
        self._points[self._k] = self.x.detach().clone()
        if width >= 2:
            self._start(self._k, width)
        for k in [k for k in self._points if k < self._k - 1]:  # never wanted again
            self._points.pop(k)
            self._gradients.pop(k, None)
        return losses

    def close(self) -> list[tuple[Losses, Tensor]]:
        """Wait for the gradients still running and end the pool. -> (losses, x_k) of those not returned"""
        done = []
        for k in sorted(self._gradients):
            try:
                _, losses = self._result(k)
            except Exception:  # noqa: BLE001 - raised to the step that wanted it; unwanted otherwise
                continue
            if self._k > 0 and k >= self._k - 1:
                done.append((losses, self._points[k]))
        self._gradients = {}
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        return done

    def _start(self, k: int, width: int) -> None:
        """Start g(x_k) on the pool, unless it is in hand or running."""
        if k in self._gradients:
            return
        threads = max(1, width // 2)
        if self._pool is None or self._pool_threads != threads:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
            self._pool = ThreadPoolExecutor(2, "ditto-gradient", initializer=_worker_threads(threads))
            self._pool_threads = threads
        self._gradients[k] = self._pool.submit(gradient, self.objective, self._points[k])

    def _take(self, k: int) -> Gradient:
        """g(x_k): from the pool, or computed here; ``scored`` becomes x_k. -> (grad, losses)"""
        if k not in self._gradients:
            self._gradients[k] = gradient(self.objective, self._points[k])
        self.scored = self._points[k]
        return self._result(k)

    def _result(self, k: int) -> Gradient:
        got = self._gradients[k]
        if isinstance(got, Future):
            got = self._gradients[k] = got.result()
        return got


def pipelined_stepper(width: Callable[[], int]) -> Callable[[Objective, Tensor, float, Objective | None], Stepper]:
    """A stepper maker (``backends.StepperMaker``) for :class:`PipelinedStepper` with this ``width``."""
    def make(objective: Objective, x_T: Tensor, lr: float, reference: Objective | None = None) -> Stepper:
        return PipelinedStepper(objective, x_T, lr, width)
    return make
