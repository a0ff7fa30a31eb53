"""Execution backends for the ITO step and the decoding path (DESIGN.md §9).

An ITO step is one Adam update of x_T on a control objective: ``objective(x_T) -> (total [B], parts)``
(one loss per seed, and each control's share; seeds are independent, so the gradient of the sum is each
seed's gradient). Every stepper's ``step()`` returns the total and the parts at the x_T it updated from;
``engine/ito.py`` runs the one ITO loop over this interface (eager is one stepper among the others).

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
per input signature, builds unchecked steppers after, keeps the exported graphs (the tensors an objective
reads -- a job's targets -- are the graph's inputs, so a second job reuses it), and is the one place
where a refused backend falls back to eager. The decoding path (a no-grad denoiser) goes
through :func:`prepare_module` with the same kind of check; :func:`for_gpu` gives a model bf16 weights
and channels-last convolutions.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import time
from collections.abc import Callable, Hashable
from types import ModuleType
from typing import Any, Protocol, cast

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from ditto_live.engine.backend_names import BACKENDS
from ditto_live.engine.graph_inputs import objective_inputs

log = logging.getLogger(__name__)

Losses = tuple[Tensor, dict[str, Tensor]]  # (total [B], {control name: [B]})
Objective = Callable[[Tensor], Losses]  # x_T [B, 1, F, N] -> (per-seed total [B], per-control parts)
GradFn = Callable[..., tuple[Tensor, Tensor, dict[str, Tensor]]]  # (x_T, *inputs) -> (grad, total, parts)
TENSORRT_HINT = "the tensorrt backend needs torch-tensorrt: pip install 'ditto-live[tensorrt]' on a CUDA machine"


class BackendRefused(RuntimeError):
    """A backend failed its parity check against eager, or cannot run here."""


class Stepper(Protocol):
    """What the ITO loop drives: the x_T being optimised and one Adam update at a time."""

    x: Tensor  # [B, 1, F, N], updated in place by ``step``

    def step(self) -> Losses:
        """One Adam update; the total [B] and parts at the x_T it started from, detached."""
        ...

    def restart(self, x_T: Tensor) -> Stepper:
        """Start again from ``x_T`` (same shape) with a fresh Adam, keeping what was prepared."""
        ...


StepperMaker = Callable[[Objective, Tensor, float, Objective | None], Stepper]  # (objective, x_T, lr, float32 ref)


def detached(losses: Losses) -> Losses:
    total, parts = losses
    return total.detach(), {k: v.detach() for k, v in parts.items()}


class EagerStepper:
    """Adam on x_T with plain autograd."""

    def __init__(self, objective: Objective, x_T: Tensor, lr: float):
        self.objective = objective
        self.x = x_T.detach().clone().requires_grad_(True)
        self.lr = lr
        self.opt = torch.optim.Adam([self.x], lr=lr)

    def restart(self, x_T: Tensor) -> EagerStepper:
        """Start again from ``x_T`` (same shape) with a fresh Adam; the prepared graph is kept. -> self"""
        with torch.no_grad():
            self.x.copy_(x_T)
        self.x.grad = None
        self.opt = torch.optim.Adam([self.x], lr=self.lr)
        return self

    def step(self) -> Losses:
        """One Adam update; returns the total [B] and parts before the update, detached."""
        self.opt.zero_grad(set_to_none=True)
        total, parts = self.objective(self.x)
        total.sum().backward(inputs=[self.x])  # only x_T's gradient: no weight gradients (a third of the backward)
        self.opt.step()
        return detached((total, parts))


def eager_stepper(objective: Objective, x_T: Tensor, lr: float, reference: Objective | None = None) -> Stepper:
    """The default :data:`StepperMaker`: an :class:`EagerStepper` (``reference`` is not needed)."""
    return EagerStepper(objective, x_T, lr)


class CompiledStepper(EagerStepper):
    """``torch.compile`` of the objective (CPU and CUDA), autograd and Adam as in eager."""

    def __init__(self, objective: Objective, x_T: Tensor, lr: float, compiler: str = "inductor"):
        super().__init__(torch.compile(objective, dynamic=False, backend=compiler), x_T, lr)


class DeviceCopies(TorchFunctionMode):
    """Serves repeated host-to-device copies of the same CPU tensor (``.to``/``.cuda`` of a control's
    target, a weight table) from a cache filled during warm-up. A copy from pageable host memory
    synchronises the stream, which a CUDA-graph capture forbids; with the cache the captured graph
    reads the device copies made before the capture. A CPU tensor modified in place gets a new entry."""

    def __init__(self) -> None:
        super().__init__()
        self.cache: dict[tuple[object, ...], tuple[Tensor, Tensor]] = {}  # key -> (CPU source kept alive, copy)

    def __torch_function__(self, func: Any, types: object, args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:  # torch's override protocol
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
                objective(self.x)[0].sum().backward(inputs=[self.x])
                self.opt.step()
        torch.cuda.current_stream().wait_stream(side)
        self._reset(start)
        self.graph = torch.cuda.CUDAGraph()
        self.opt.zero_grad(set_to_none=True)
        with self.copies, torch.cuda.graph(self.graph):
            self.losses = objective(self.x)  # static (total [B], parts), overwritten by every replay
            self.losses[0].sum().backward(inputs=[self.x])
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

    def restart(self, x_T: Tensor) -> CudaGraphStepper:
        """Start again from ``x_T`` (same shape) with Adam's state zeroed; the captured graph is kept. -> self"""
        self._reset(x_T)
        return self

    def step(self) -> Losses:
        self.graph.replay()
        total, parts = detached(self.losses)
        return total.clone(), {k: v.clone() for k, v in parts.items()}


def export_grad_graph(objective: Objective, x_probe: Tensor, inputs: tuple[Tensor, ...] = ()) -> torch.fx.GraphModule:
    """Trace forward + backward of the objective into one graph: (x_T, *inputs) -> (grad [like x_T], total [B],
    parts). ``inputs``: tensors the objective reads (see :func:`objective_inputs`); the trace finds them by
    identity and makes them placeholders instead of constants, so the graph can be called with another job's."""
    from torch.func import grad_and_value
    from torch.fx.experimental.proxy_tensor import make_fx

    def summed(x: Tensor) -> tuple[Tensor, Losses]:
        total, parts = objective(x)
        return total.sum(), (total, parts)

    def grad_and_losses(x: Tensor, *_inputs: Tensor) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        grad, (_, (total, parts)) = grad_and_value(summed, has_aux=True)(x)
        return grad, total, parts

    return make_fx(grad_and_losses)(x_probe.detach(), *inputs)


class GraphStepper(EagerStepper):
    """Adam on x_T driven by a graph that returns (grad, total, parts): the exported or TensorRT path.
    ``inputs``: the tensors passed after x_T (the job's targets, see :func:`objective_inputs`)."""

    def __init__(self, grad_fn: GradFn, x_T: Tensor, lr: float, inputs: tuple[Tensor, ...] = ()):
        super().__init__(lambda x: grad_fn(x, *inputs)[1:], x_T, lr)
        self.grad_fn = grad_fn  # the prepared graph, kept by :class:`StepperFactory` for the next job
        self.inputs = inputs

    def step(self) -> Losses:
        grad, total, parts = self.grad_fn(self.x.detach(), *self.inputs)
        self.x.grad = grad
        self.opt.step()
        return detached((total, parts))


def _import_tensorrt() -> ModuleType:
    try:
        import torch_tensorrt
    except ImportError as exc:
        raise BackendRefused(TENSORRT_HINT) from exc
    return torch_tensorrt


def _tensorrt_grad_fn(objective: Objective, x_probe: Tensor, inputs: tuple[Tensor, ...]) -> GradFn:
    torch_tensorrt = _import_tensorrt()
    graph = export_grad_graph(objective, x_probe, inputs)
    return torch_tensorrt.compile(graph, ir="dynamo", inputs=[x_probe.detach(), *inputs],
                                  enabled_precisions={torch.float32, torch.bfloat16})


def make_stepper(backend: str, objective: Objective, x_T: Tensor, lr: float, compiler: str = "inductor",
                 warmup: int = 3, inputs: tuple[Tensor, ...] = ()) -> Stepper:
    """Build the stepper of ``backend`` without checking it (see :func:`prepare_stepper`).

    ``compiler`` is torch.compile's backend for ``compiled`` ("inductor"; "aot_eager" traces the same
    forward/backward graphs without code generation, for quick CPU checks); ``warmup``: steps before a
    CUDA-graph capture (one suffices once the process has compiled and run the graph's kernels);
    ``inputs``: the tensors the objective reads, made inputs of an exported or TensorRT graph.
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
        return GraphStepper(export_grad_graph(objective, x_T, inputs), x_T, lr, inputs)
    if backend == "tensorrt":
        return GraphStepper(_tensorrt_grad_fn(objective, x_T, inputs), x_T, lr, inputs)
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


def parity_error(stepper: Stepper, reference: EagerStepper, steps: int) -> float:
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
                    tolerance: float = 1e-2, compiler: str = "inductor", reference: Objective | None = None,
                    inputs: tuple[Tensor, ...] = ()) -> Stepper:
    """A stepper for ``backend`` that has matched eager on a probe run from ``x_T``, or BackendRefused.

    The probe runs ``probe_steps`` Adam steps with both and compares the trajectories; the probe
    stepper is then restarted from ``x_T`` (its compiled or captured graph is kept) and returned.
    ``reference``: the same objective in float32 when ``objective`` runs under reduced precision; the
    check then allows :data:`PRECISION_MULTIPLE` times eager's own distance from it.
    """
    if backend == "eager":
        return EagerStepper(objective, x_T, lr)
    try:
        probe = make_stepper(backend, objective, x_T, lr, compiler, inputs=inputs)
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
    """Prepares the steppers of one backend, a :data:`StepperMaker`: ``factory(objective, x_T, lr, reference)``.

    The parity check runs for the first stepper of each input signature (shape, dtype, device, a caller's
    ``key`` naming the model, and the objective's :func:`objective_inputs` key: its code and the numbers it
    bakes in); later ones are built unchecked. An exported or TensorRT graph is kept per signature and
    called with the next job's tensors (its targets), so a second job prepares nothing. A refused backend
    falls back to eager here, the one place (``fallback``), for good: ``refused`` says why."""

    def __init__(self, backend: str, probe_steps: int = 3, tolerance: float = 1e-2, compiler: str = "inductor",
                 key: Hashable = (), fallback: bool = False):
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
        self.backend = backend  # one of BACKENDS
        self.probe_steps = probe_steps  # Adam steps of the parity probe
        self.tolerance = tolerance  # largest x_T difference to eager accepted, relative to eager's move
        self.compiler = compiler  # torch.compile backend for "compiled"
        self.key = key  # names the objective's model; part of the signature
        self.fallback = fallback  # a refused backend runs eager (the product); False: BackendRefused (the bench)
        self.verified: set[Hashable] = set()  # signatures that passed the parity check
        self.graphs: dict[Hashable, GradFn] = {}  # signature -> prepared exported/TensorRT graph
        self.refused: str | None = None  # why this backend was refused (then every stepper is eager)
        self.preparations = 0  # graphs built (traced, compiled or captured), parity probes included
        self.last_prepare_s = 0.0  # wall time of the last call (probe + build), synchronised on CUDA
        self.last_checked = False  # whether the last call ran the parity check
        self.last_reused = False  # whether the last call reused a kept graph

    @property
    def running(self) -> str:
        """The backend the steppers run on now: this one, or eager once it was refused."""
        return "eager" if self.refused is not None else self.backend

    def __call__(self, objective: Objective, x_T: Tensor, lr: float, reference: Objective | None = None) -> Stepper:
        start = time.perf_counter()
        self.last_checked = self.last_reused = False
        try:
            stepper = self._make(objective, x_T, lr, reference)
        except BackendRefused as exc:
            if not self.fallback:
                raise
            log.warning("backend %s refused for %s, running eager: %s", self.backend, self.key, exc)
            self.refused = str(exc)
            stepper = EagerStepper(objective, x_T, lr)
        if x_T.device.type == "cuda":
            torch.cuda.synchronize(x_T.device)
        self.last_prepare_s = time.perf_counter() - start
        return stepper

    def _make(self, objective: Objective, x_T: Tensor, lr: float, reference: Objective | None) -> Stepper:
        if self.running == "eager":
            return EagerStepper(objective, x_T, lr)
        graph_key, inputs = objective_inputs(objective)
        signature = (tuple(x_T.shape), x_T.dtype, str(x_T.device), self.key, graph_key)
        if signature in self.graphs:
            self.last_reused = True
            return GraphStepper(self.graphs[signature], x_T, lr, inputs)
        self.preparations += 1
        if signature in self.verified:
            stepper = make_stepper(self.backend, objective, x_T, lr, self.compiler, warmup=1, inputs=inputs)
        else:
            self.last_checked = True
            stepper = prepare_stepper(self.backend, objective, x_T, lr, self.probe_steps, self.tolerance,
                                      self.compiler, reference, inputs)
            self.verified.add(signature)
        if isinstance(stepper, GraphStepper):
            self.graphs[signature] = stepper.grad_fn
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


AUTOCAST_LAYERS = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.Linear)  # bf16 under autocast


def autocast_weights(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose convolution and linear layers hold bf16 weights: what bf16 autocast casts
    them to at every call anyway (it keeps a cast only of a weight that needs a gradient, and a frozen
    student's do not), so under autocast it computes the same, bit for bit, without a thousand weight casts
    per ITO step (a served intensity job on a 2-core Xeon with AMX: 1.85 s against 1.91 s at two threads,
    docs/results/cpu_xeon_amx/autocast_weights.json). Call it only under autocast: outside, its layers would
    meet float32 inputs. The original is left as it is."""
    out = copy.deepcopy(model)
    for layer in out.modules():
        if isinstance(layer, AUTOCAST_LAYERS):
            layer.to(torch.bfloat16)
    return out


def for_gpu(model: nn.Module, bf16: bool = True, channels_last: bool = True) -> nn.Module:
    """A copy of ``model`` with bf16 weights and channels-last convolution weights (run it under bf16
    autocast, which also casts the float32 inputs). The original is left as it is."""
    out = copy.deepcopy(model)
    if bf16:
        out = out.to(dtype=torch.bfloat16)
    if channels_last:
        out = out.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # (Module.to takes it)
    return out


class _Exported(nn.Module):
    """An exported or TensorRT graph that keeps the denoiser's attributes (``takes_w``, ``cfg``)."""

    def __init__(self, graph: Callable[..., Tensor], original: nn.Module):
        super().__init__()
        self.graph = graph
        self.takes_w = getattr(original, "takes_w", False)
        self.cfg = getattr(original, "cfg", None)

    def forward(self, *args: Tensor) -> Tensor:
        return self.graph(*args)


def make_module(backend: str, model: nn.Module, example: tuple[Tensor, ...], compiler: str = "inductor") -> nn.Module:
    """``model`` for ``backend`` (unchecked): compiled, exported with static shapes, or TensorRT."""
    if backend in ("eager", "cudagraph"):
        return model  # a decode is 1-8 calls; the CUDA graph pays off in the ITO loop
    if backend == "compiled":
        return cast(nn.Module, torch.compile(model, dynamic=False, backend=compiler))  # an OptimizedModule
    if backend == "exported":
        return _Exported(torch.export.export(model, example).module(), model)
    if backend == "tensorrt":
        torch_tensorrt = _import_tensorrt()
        graph = torch_tensorrt.compile(model, ir="dynamo", inputs=list(example),
                                       enabled_precisions={torch.float32, torch.bfloat16})
        return _Exported(graph, model)
    raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")


def prepare_module(backend: str, model: nn.Module, example: tuple[Tensor, ...], tolerance: float = 1e-3,
                   compiler: str = "inductor", autocast: bool = False) -> nn.Module:
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
