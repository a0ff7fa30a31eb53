"""Execution backends for the ITO step (DESIGN.md §9).

An ITO step is one Adam update of x_T on a control objective: ``objective(x_T) -> losses [B]``
(one loss per seed; seeds are independent, so the gradient of the sum is each seed's gradient).

- ``eager``: autograd + torch.optim.Adam.
- ``compiled``: the objective through ``torch.compile``; on CUDA the whole step (forward, backward,
  Adam) is captured once in a CUDA graph and replayed (static shapes; Adam with ``capturable=True``).
- ``exported``: forward + backward traced with ``make_fx(grad_and_value(...))`` into one aten graph —
  the inference graph a TensorRT build consumes; Adam runs on its output.
- ``tensorrt``: the exported graph compiled by torch-tensorrt, when installed.

Every backend is prepared through :func:`prepare_stepper`, which runs a parity check against eager
on the probe and refuses a backend whose trajectory disagrees.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

Objective = Callable[[Tensor], Tensor]  # x_T [B, 1, F, N] -> per-seed losses [B]
BACKENDS = ("eager", "compiled", "exported", "tensorrt")


class BackendRefused(RuntimeError):
    """A backend failed its parity check against eager, or cannot run here."""


class EagerStepper:
    """Adam on x_T with plain autograd."""

    def __init__(self, objective: Objective, x_T: Tensor, lr: float):
        self.objective = objective
        self.x = x_T.detach().clone().requires_grad_(True)
        self.opt = torch.optim.Adam([self.x], lr=lr)

    def step(self) -> Tensor:
        """One Adam update; returns the per-seed losses before the update, detached. [B]"""
        self.opt.zero_grad(set_to_none=True)
        losses = self.objective(self.x)
        losses.sum().backward()
        self.opt.step()
        return losses.detach()


class CompiledStepper(EagerStepper):
    """``torch.compile`` of the objective (CPU and CUDA), autograd and Adam as in eager."""

    def __init__(self, objective: Objective, x_T: Tensor, lr: float):
        super().__init__(torch.compile(objective, dynamic=False), x_T, lr)


class CudaGraphStepper:
    """The whole step — forward, backward, Adam — captured in one CUDA graph and replayed."""

    def __init__(self, objective: Objective, x_T: Tensor, lr: float, warmup: int = 3):
        if x_T.device.type != "cuda":
            raise BackendRefused("CUDA graph capture needs a CUDA device")
        self.x = x_T.detach().clone().requires_grad_(True)
        start = self.x.detach().clone()
        self.opt = torch.optim.Adam([self.x], lr=lr, capturable=True)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(warmup):  # allocate grads and optimizer state outside the capture
                self.opt.zero_grad(set_to_none=False)
                objective(self.x).sum().backward()
                self.opt.step()
        torch.cuda.current_stream().wait_stream(side)
        self._reset(start)
        self.graph = torch.cuda.CUDAGraph()
        self.opt.zero_grad(set_to_none=False)
        with torch.cuda.graph(self.graph):
            self.losses = objective(self.x)
            self.losses.sum().backward()
            self.opt.step()
        self._reset(start)

    def _reset(self, start: Tensor) -> None:
        with torch.no_grad():
            self.x.copy_(start)
            for state in self.opt.state.values():
                for value in state.values():
                    if torch.is_tensor(value):
                        value.zero_()

    def step(self) -> Tensor:
        self.graph.replay()
        return self.losses.detach().clone()


def export_grad_graph(objective: Objective, x_probe: Tensor) -> torch.fx.GraphModule:
    """Trace forward + backward of the objective into one graph: x_T -> (grad [like x_T], losses [B])."""
    from torch.func import grad_and_value
    from torch.fx.experimental.proxy_tensor import make_fx

    def total(x: Tensor) -> tuple[Tensor, Tensor]:
        losses = objective(x)
        return losses.sum(), losses

    def grad_and_losses(x: Tensor) -> tuple[Tensor, Tensor]:
        grad, (_, losses) = grad_and_value(total, has_aux=True)(x)
        return grad, losses

    return make_fx(grad_and_losses)(x_probe.detach())


class GraphStepper:
    """Adam on x_T driven by a graph that returns (grad, losses): the exported or TensorRT path."""

    def __init__(self, grad_fn: Callable[[Tensor], tuple[Tensor, Tensor]], x_T: Tensor, lr: float):
        self.grad_fn = grad_fn
        self.x = x_T.detach().clone().requires_grad_(True)
        self.opt = torch.optim.Adam([self.x], lr=lr)

    def step(self) -> Tensor:
        grad, losses = self.grad_fn(self.x.detach())
        self.x.grad = grad
        self.opt.step()
        return losses.detach()


def _tensorrt_grad_fn(objective: Objective, x_probe: Tensor) -> Callable[[Tensor], tuple[Tensor, Tensor]]:
    try:
        import torch_tensorrt
    except ImportError as exc:
        raise BackendRefused(
            "the tensorrt backend needs torch-tensorrt: pip install 'ditto-live[tensorrt]' on a CUDA machine"
        ) from exc
    graph = export_grad_graph(objective, x_probe)
    return torch_tensorrt.compile(graph, ir="dynamo", inputs=[x_probe.detach()],
                                  enabled_precisions={torch.float32, torch.bfloat16})


def make_stepper(backend: str, objective: Objective, x_T: Tensor, lr: float):
    """Build the stepper of ``backend`` without checking it (see :func:`prepare_stepper`)."""
    if backend == "eager":
        return EagerStepper(objective, x_T, lr)
    if backend == "compiled":
        if x_T.device.type == "cuda":
            return CudaGraphStepper(torch.compile(objective, dynamic=False), x_T, lr)
        return CompiledStepper(objective, x_T, lr)
    if backend == "exported":
        return GraphStepper(export_grad_graph(objective, x_T), x_T, lr)
    if backend == "tensorrt":
        return GraphStepper(_tensorrt_grad_fn(objective, x_T), x_T, lr)
    raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")


def parity_error(stepper, reference: EagerStepper, steps: int) -> float:
    """Largest relative difference of x_T between ``stepper`` and eager after each of ``steps`` steps."""
    worst = 0.0
    for _ in range(steps):
        stepper.step()
        reference.step()
        diff = (stepper.x.detach().float() - reference.x.detach().float()).norm()
        worst = max(worst, float(diff / reference.x.detach().float().norm().clamp_min(1e-12)))
    return worst


def prepare_stepper(backend: str, objective: Objective, x_T: Tensor, lr: float,
                    probe_steps: int = 3, tolerance: float = 1e-3):
    """A stepper for ``backend`` that has matched eager on a probe run from ``x_T``, or BackendRefused.

    The probe runs ``probe_steps`` Adam steps with both and compares the trajectories; the returned
    stepper starts fresh from ``x_T``.
    """
    if backend == "eager":
        return EagerStepper(objective, x_T, lr)
    try:
        probe = make_stepper(backend, objective, x_T, lr)
        err = parity_error(probe, EagerStepper(objective, x_T, lr), probe_steps)
    except BackendRefused:
        raise
    except Exception as exc:  # a backend that cannot even build here is refused, not fatal
        raise BackendRefused(f"{backend} backend failed to prepare: {type(exc).__name__}: {exc}") from exc
    if not err <= tolerance:
        raise BackendRefused(f"{backend} backend disagrees with eager: relative error {err:.2e} > {tolerance:.0e}")
    return make_stepper(backend, objective, x_T, lr)
