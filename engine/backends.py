"""Execution backends for the ITO step and the decoding path (DESIGN.md §9).

An ITO step is one Adam update of x_T on a control objective: ``objective(x_T) -> losses [B]``
(one loss per seed; seeds are independent, so the gradient of the sum is each seed's gradient).

- ``eager``: autograd + torch.optim.Adam.
- ``cudagraph`` (CUDA only): the eager objective, with the whole step (forward, backward, Adam) captured
  once in a CUDA graph and replayed -- no compilation, so it is cheap to prepare; the win on a
  launch-bound UNet.
- ``compiled``: the objective through ``torch.compile``; on CUDA the whole step is then captured in a
  CUDA graph as above (static shapes; Adam with ``capturable=True``).
- ``exported``: forward + backward traced with ``make_fx(grad_and_value(...))`` into one aten graph --
  the inference graph a TensorRT build consumes; Adam runs on its output.
- ``tensorrt``: the exported graph compiled by torch-tensorrt, when installed.

Every stepper is prepared through :func:`prepare_stepper`, which runs a parity check against eager
on the probe and refuses a backend whose trajectory disagrees; :class:`StepperFactory` does that once
per input signature and builds unchecked steppers after. The decoding path (a no-grad denoiser) goes
through :func:`prepare_module` with the same kind of check; :func:`for_gpu` gives a model bf16 weights
and channels-last convolutions.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import time
from collections.abc import Callable, Hashable

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

log = logging.getLogger(__name__)

Objective = Callable[[Tensor], Tensor]  # x_T [B, 1, F, N] -> per-seed losses [B]
BACKENDS = ("eager", "cudagraph", "compiled", "exported", "tensorrt")
TENSORRT_HINT = "the tensorrt backend needs torch-tensorrt: pip install 'ditto-live[tensorrt]' on a CUDA machine"


class BackendRefused(RuntimeError):
    """A backend failed its parity check against eager, or cannot run here."""


class EagerStepper:
    """Adam on x_T with plain autograd."""

    def __init__(self, objective: Objective, x_T: Tensor, lr: float):
        self.objective = objective
        self.x = x_T.detach().clone().requires_grad_(True)
        self.lr = lr
        self.opt = torch.optim.Adam([self.x], lr=lr)

    def restart(self, x_T: Tensor):
        """Start again from ``x_T`` (same shape) with a fresh Adam; the prepared graph is kept. -> self"""
        with torch.no_grad():
            self.x.copy_(x_T)
        self.x.grad = None
        self.opt = torch.optim.Adam([self.x], lr=self.lr)
        return self

    def step(self) -> Tensor:
        """One Adam update; returns the per-seed losses before the update, detached. [B]"""
        self.opt.zero_grad(set_to_none=True)
        losses = self.objective(self.x)
        losses.sum().backward(inputs=[self.x])
        self.opt.step()
        return losses.detach()


class CompiledStepper(EagerStepper):
    """``torch.compile`` of the objective (CPU and CUDA), autograd and Adam as in eager."""

    def __init__(self, objective: Objective, x_T: Tensor, lr: float, compiler: str = "inductor"):
        super().__init__(torch.compile(objective, dynamic=False, backend=compiler), x_T, lr)


class DeviceCopies(TorchFunctionMode):
    """Serves repeated host-to-device copies of the same CPU tensor (``.to``/``.cuda`` of a control's
    target, a weight table) from a cache filled during warm-up. A copy from pageable host memory
    synchronises the stream, which a CUDA-graph capture forbids; with the cache the captured graph
    reads the device copies made before the capture. A CPU tensor modified in place gets a new entry."""

    def __init__(self):
        super().__init__()
        self.cache: dict[tuple, tuple[Tensor, Tensor]] = {}  # key -> (CPU source kept alive, device copy)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        src = args[0] if args else None
        if func not in (Tensor.to, Tensor.cuda) or not isinstance(src, Tensor) or src.device.type != "cpu":
            return func(*args, **kwargs)
        key = (id(src), src._version, func, repr(args[1:]), repr(sorted(kwargs.items())))
        if key in self.cache:
            return self.cache[key][1]
        out = func(*args, **kwargs)
        if isinstance(out, Tensor) and out.device != src.device:  # a host-to-device copy
            self.cache[key] = (src, out)
        return out


class CudaGraphStepper:
    """The whole step -- forward, backward, Adam -- captured in one CUDA graph and replayed.

    Static tensors: ``x`` (the leaf being optimised), its ``.grad``, Adam's state (capturable, so its
    step count lives on the device) and ``losses``; each replay overwrites them in place. Warm-up
    steps on a side stream run any lazy work (compilation, cuDNN autotuning, Adam's state allocation)
    before the capture; x and Adam's state are then reset to the start. The grad is set to None before
    the capture so that backward *writes* a fresh gradient from the graph's pool on every replay
    (with a zeroed grad instead, the captured kernel would accumulate into it across replays).
    With ``host_copies`` (an eager objective), warm-up and capture run under :class:`DeviceCopies`, so
    CPU tensors the objective moves to the GPU are copied once; a compiled objective is captured as it
    is (its controls must hold device tensors, as the benchmark's do). The objective must not draw
    random numbers from a generator unknown to the graph, nor synchronise otherwise (``.item()``,
    boolean-mask indexing).
    """

    def __init__(self, objective: Objective, x_T: Tensor, lr: float, warmup: int = 3, host_copies: bool = True):
        if x_T.device.type != "cuda":
            raise BackendRefused("CUDA graph capture needs a CUDA device")
        self.x = x_T.detach().clone().requires_grad_(True)
        start = self.x.detach().clone()
        self.opt = torch.optim.Adam([self.x], lr=lr, capturable=True)
        self.copies = DeviceCopies() if host_copies else contextlib.nullcontext()  # the graph reads its copies
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), self.copies:
            for _ in range(max(1, warmup)):
                self.opt.zero_grad(set_to_none=True)
                objective(self.x).sum().backward(inputs=[self.x])
                self.opt.step()
        torch.cuda.current_stream().wait_stream(side)
        self._reset(start)
        self.graph = torch.cuda.CUDAGraph()
        self.opt.zero_grad(set_to_none=True)
        with self.copies, torch.cuda.graph(self.graph):
            self.losses = objective(self.x)
            self.losses.sum().backward(inputs=[self.x])
            self.opt.step()
        self._reset(start)

    def _reset(self, start: Tensor) -> None:
        """x back to ``start``; Adam's moments and step count to zero (a fresh optimiser)."""
        with torch.no_grad():
            self.x.copy_(start)
            for state in self.opt.state.values():
                for value in state.values():
                    if torch.is_tensor(value):
                        value.zero_()

    def restart(self, x_T: Tensor):
        """Start again from ``x_T`` (same shape) with Adam's state zeroed; the captured graph is kept. -> self"""
        self._reset(x_T)
        return self

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


class GraphStepper(EagerStepper):
    """Adam on x_T driven by a graph that returns (grad, losses): the exported or TensorRT path."""

    def __init__(self, grad_fn: Callable[[Tensor], tuple[Tensor, Tensor]], x_T: Tensor, lr: float):
        super().__init__(None, x_T, lr)
        self.grad_fn = grad_fn

    def step(self) -> Tensor:
        grad, losses = self.grad_fn(self.x.detach())
        self.x.grad = grad
        self.opt.step()
        return losses.detach()


def _import_tensorrt():
    try:
        import torch_tensorrt
    except ImportError as exc:
        raise BackendRefused(TENSORRT_HINT) from exc
    return torch_tensorrt


def _tensorrt_grad_fn(objective: Objective, x_probe: Tensor) -> Callable[[Tensor], tuple[Tensor, Tensor]]:
    torch_tensorrt = _import_tensorrt()
    graph = export_grad_graph(objective, x_probe)
    return torch_tensorrt.compile(graph, ir="dynamo", inputs=[x_probe.detach()],
                                  enabled_precisions={torch.float32, torch.bfloat16})


def make_stepper(backend: str, objective: Objective, x_T: Tensor, lr: float, compiler: str = "inductor",
                 warmup: int = 3):
    """Build the stepper of ``backend`` without checking it (see :func:`prepare_stepper`).

    ``compiler`` is torch.compile's backend for ``compiled`` ("inductor"; "aot_eager" traces the same
    forward/backward graphs without code generation, for quick CPU checks); ``warmup``: steps before a
    CUDA-graph capture (one suffices once the process has compiled and run the graph's kernels).
    """
    if backend == "eager":
        return EagerStepper(objective, x_T, lr)
    if backend == "cudagraph":
        return CudaGraphStepper(objective, x_T, lr, warmup)
    if backend == "compiled":
        if x_T.device.type == "cuda":
            return CudaGraphStepper(torch.compile(objective, dynamic=False, backend=compiler), x_T, lr, warmup,
                                    host_copies=False)
        return CompiledStepper(objective, x_T, lr, compiler)
    if backend == "exported":
        return GraphStepper(export_grad_graph(objective, x_T), x_T, lr)
    if backend == "tensorrt":
        return GraphStepper(_tensorrt_grad_fn(objective, x_T), x_T, lr)
    raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")


def relative_error(a: Tensor, b: Tensor) -> float:
    """||a - b|| / ||b||, in float32."""
    a, b = a.detach().float(), b.detach().float()
    return float((a - b).norm() / b.norm().clamp_min(1e-12))


NOISE_MULTIPLE = 3.0  # a backend may differ from eager by this multiple of eager's difference from itself:
# on a GPU, eager is not deterministic (atomics in the convolution backward; bf16), and Adam's first steps,
# ~lr * sign(g) per element, turn that noise into a few % of x_T's move (4 % measured on an H200 under bf16)
PRECISION_MULTIPLE = 2.0  # under bf16 autocast a backend may differ from eager by this multiple of eager's difference
# from its float32 self: two bf16 roundings of one computation differ by about sqrt(2) times either one's distance
# to float32; 2 leaves a margin. (CPU, tiny UNet, 3 steps: exported 0.14 and eager-bf16 0.21 from eager-fp32.)


def parity_error(stepper, reference: EagerStepper, steps: int) -> float:
    """Largest difference of x_T between ``stepper`` and eager after each of ``steps`` steps, relative to
    how far eager has moved x_T: ||x - x_eager|| / ||x_eager - x_start||. (Relative to ||x_T|| itself a
    wrong update would hide: K Adam steps move x_T by about K * lr of its norm.)"""
    start = reference.x.detach().float().clone()
    worst = 0.0
    for _ in range(steps):
        stepper.step()
        reference.step()
        moved = reference.x.detach().float() - start
        worst = max(worst, relative_error(stepper.x.detach().float() - start, moved))
    return worst


def prepare_stepper(backend: str, objective: Objective, x_T: Tensor, lr: float, probe_steps: int = 3,
                    tolerance: float = 1e-2, compiler: str = "inductor", reference: Objective | None = None):
    """A stepper for ``backend`` that has matched eager on a probe run from ``x_T``, or BackendRefused.

    The probe runs ``probe_steps`` Adam steps with both and compares the trajectories; the probe
    stepper is then restarted from ``x_T`` (its compiled or captured graph is kept) and returned.
    ``reference``: the same objective in float32 when ``objective`` runs under reduced precision; the
    check then allows :data:`PRECISION_MULTIPLE` times eager's own distance from it.
    """
    if backend == "eager":
        return EagerStepper(objective, x_T, lr)
    try:
        probe = make_stepper(backend, objective, x_T, lr, compiler)
        err = parity_error(probe, EagerStepper(objective, x_T, lr), probe_steps)
    except BackendRefused:
        raise
    except Exception as exc:  # a backend that cannot even build here is refused, not fatal
        raise BackendRefused(f"{backend} backend failed to prepare: {type(exc).__name__}: {exc}") from exc
    floor = parity_error(EagerStepper(objective, x_T, lr), EagerStepper(objective, x_T, lr), probe_steps)
    gap = 0.0 if reference is None else parity_error(EagerStepper(objective, x_T, lr),
                                                     EagerStepper(reference, x_T, lr), probe_steps)
    limit = max(tolerance, NOISE_MULTIPLE * floor, PRECISION_MULTIPLE * gap)
    if not err <= limit:
        raise BackendRefused(f"{backend} backend disagrees with eager: relative error {err:.2e} > {limit:.1e} "
                             f"(tolerance {tolerance:.0e}; eager against itself {floor:.1e}, against float32 "
                             f"{gap:.1e})")
    log.info("%s backend matches eager over %d probe steps (relative error %.2e; eager against itself %.2e, "
             "against float32 %.2e)", backend, probe_steps, err, floor, gap)
    return probe.restart(x_T)


class StepperFactory:
    """Prepares the steppers of one backend: the parity check runs for the first stepper of each input
    signature (shape, dtype, device, and a caller's ``key`` naming the objective), later ones are built
    unchecked. Call it as ITO's ``backend``: ``factory(objective, x_T, lr, reference) -> stepper``
    (``reference``: the objective in float32 when it runs under bf16, see :func:`prepare_stepper`)."""

    def __init__(self, backend: str, probe_steps: int = 3, tolerance: float = 1e-2, compiler: str = "inductor",
                 key: Hashable = ()):
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
        self.backend = backend  # one of BACKENDS
        self.probe_steps = probe_steps  # Adam steps of the parity probe
        self.tolerance = tolerance  # largest x_T difference to eager accepted, relative to eager's move
        self.compiler = compiler  # torch.compile backend for "compiled"
        self.key = key  # names the objective (model, controls); part of the signature
        self.verified: set[Hashable] = set()  # signatures that passed the parity check
        self.last_prepare_s = 0.0  # wall time of the last call (probe + build), synchronised on CUDA
        self.last_checked = False  # whether the last call ran the parity check

    def __call__(self, objective: Objective, x_T: Tensor, lr: float, reference: Objective | None = None):
        start = time.perf_counter()
        signature = (tuple(x_T.shape), x_T.dtype, str(x_T.device), self.key)
        self.last_checked = self.backend != "eager" and signature not in self.verified
        if self.last_checked:
            stepper = prepare_stepper(self.backend, objective, x_T, lr, self.probe_steps, self.tolerance,
                                      self.compiler, reference)
            self.verified.add(signature)
        else:
            stepper = make_stepper(self.backend, objective, x_T, lr, self.compiler, warmup=1)
        if x_T.device.type == "cuda":
            torch.cuda.synchronize(x_T.device)
        self.last_prepare_s = time.perf_counter() - start
        return stepper


# ---------------------------------------------------------------------------------------------
# the decoding path: a no-grad denoiser call


def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU computes bf16 natively (x86 AVX512-BF16 or AMX; read from Linux's cpuinfo)."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as fh:
            flags = next((line for line in fh if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def default_autocast(device: str) -> bool:
    """Whether ITO runs the model under bf16 autocast when the user does not say: on a CPU with native bf16
    (a step of the tiny preset's surrogate took 54 ms against 72 ms in fp32 on two AVX512-BF16 cores,
    with the same adherence on the card's runs); never on a GPU, where fp32 + TF32 was faster at B = 1
    (docs/bench.md) and parity checks are tighter; never on CPUs that would emulate bf16."""
    return str(device).startswith("cpu") and cpu_has_native_bf16()


def for_gpu(model: nn.Module, bf16: bool = True, channels_last: bool = True) -> nn.Module:
    """A copy of ``model`` with bf16 weights and channels-last convolution weights (run it under bf16
    autocast, which also casts the float32 inputs). The original is left as it is."""
    out = copy.deepcopy(model)
    if bf16:
        out = out.to(dtype=torch.bfloat16)
    if channels_last:
        out = out.to(memory_format=torch.channels_last)
    return out


class _Exported(nn.Module):
    """An exported or TensorRT graph that keeps the denoiser's attributes (``takes_w``, ``cfg``)."""

    def __init__(self, graph: Callable, original: nn.Module):
        super().__init__()
        self.graph = graph
        self.takes_w = getattr(original, "takes_w", False)
        self.cfg = getattr(original, "cfg", None)

    def forward(self, *args: Tensor) -> Tensor:
        return self.graph(*args)


def make_module(backend: str, model: nn.Module, example: tuple[Tensor, ...], compiler: str = "inductor"):
    """``model`` for ``backend`` (unchecked): compiled, exported with static shapes, or TensorRT."""
    if backend in ("eager", "cudagraph"):
        return model  # a decode is 1-8 calls; the CUDA graph pays off in the ITO loop
    if backend == "compiled":
        return torch.compile(model, dynamic=False, backend=compiler)
    if backend == "exported":
        return _Exported(torch.export.export(model, example).module(), model)
    if backend == "tensorrt":
        torch_tensorrt = _import_tensorrt()
        graph = torch_tensorrt.compile(model, ir="dynamo", inputs=list(example),
                                       enabled_precisions={torch.float32, torch.bfloat16})
        return _Exported(graph, model)
    raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")


def prepare_module(backend: str, model: nn.Module, example: tuple[Tensor, ...], tolerance: float = 1e-3,
                   compiler: str = "inductor", autocast: bool = False):
    """``model`` for ``backend`` after its output on ``example`` matched eager's, or BackendRefused."""
    if backend in ("eager", "cudagraph"):
        return model
    device = example[0].device
    amp = torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast)
    try:
        prepared = make_module(backend, model, example, compiler)
        with torch.no_grad(), amp:
            err = relative_error(prepared(*example), model(*example))
    except BackendRefused:
        raise
    except Exception as exc:
        raise BackendRefused(f"{backend} decode backend failed to prepare: {type(exc).__name__}: {exc}") from exc
    if not err <= tolerance:
        raise BackendRefused(f"{backend} decode backend disagrees with eager: relative error {err:.2e}")
    return prepared
