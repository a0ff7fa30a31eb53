"""The one table of methods: how DITTO-2 and the DITTO baseline optimise x_T and decode it.

:data:`METHODS` is the only place the two differ. The job language (``jobspec``: ``job.method`` and its
error message), the ``generate --method`` flag, the pipeline and the bench (its method-student rows,
:func:`bench_names`) all read it. Importing it imports no torch: the CLI's ``--help`` and the job
language are torch-free, so the rows import the engine inside the functions that compute (the pattern of
``ditto_live/controls/base.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ditto_live.errors import UsageError

if TYPE_CHECKING:
    from torch import Tensor, nn

    from ditto_live.engine.conditioning import Cond
    from ditto_live.engine.ito import ItoResult, LossFn
    from ditto_live.generation.jobspec import JobSpec
    from ditto_live.generation.models import Bundle

DITTO_STEPS = 20  # DITTO optimises through and decodes with the teacher's DDIM chain of this many calls (M = T)
STUDENTS = ("ctm", "cm")  # the distilled students a DITTO-2 job may name (job.student)


class Optimiser(Protocol):
    """A method's optimisation of x_T [B, 1, F, N] against ``loss_fn`` for K = ``steps`` at Adam learning rate ``lr``;
    ``hooks``: the ITO loop's keywords (stepper, autocast, callback, is_cancelled, tolerance, should_stop)."""

    def __call__(self, model: nn.Module, x_T: Tensor, cond: Cond, loss_fn: LossFn, steps: int, lr: float,
                 spec: JobSpec, noise_seed: int | None, **hooks: Any) -> ItoResult: ...


class Decoder(Protocol):
    """A method's decode of x_T [1, 1, F, N] -> x0 [1, 1, F, N] with T = ``decode_steps`` and the given noise."""

    def __call__(self, model: nn.Module, x_T: Tensor, cond: Cond, spec: JobSpec, noise_seed: int | None,
                 decode_steps: int) -> Tensor: ...


@dataclass(frozen=True)
class Method:
    """How one method optimises x_T and decodes it; :data:`METHODS` holds the two."""

    name: str  # "ditto2" or "ditto"
    summary: str  # one line for the CLI's help
    model: Callable[[Bundle, JobSpec], nn.Module]  # (bundle, spec) -> the network it runs
    optimise: Optimiser  # (model, x_T, cond, loss_fn, steps, lr, spec, noise_seed, **hooks) -> result
    decode: Decoder  # (model, x_T [1,1,F,N], cond, spec, noise_seed, decode_steps) -> x0
    teacher_chain: bool = False  # optimises through and decodes with the teacher's DDIM chain (DITTO); False:
    # a distilled student, with the job's surrogate M, decode steps T and spec.student

    @property
    def chain(self) -> int | None:
        """M = T of the fixed chain the method optimises through and decodes with; None for a student."""
        return DITTO_STEPS if self.teacher_chain else None  # read per call: DITTO_STEPS is the one home


def _ditto2_model(bundle: Bundle, spec: JobSpec) -> nn.Module:
    return bundle.student(spec.student)


def _ditto2_optimise(model: nn.Module, x_T: Tensor, cond: Cond, loss_fn: LossFn, steps: int, lr: float,
                     spec: JobSpec, noise_seed: int | None, **hooks: Any) -> ItoResult:
    from ditto_live.engine.ito import ditto2_optimise

    return ditto2_optimise(model, x_T, cond, loss_fn, steps, lr, spec.surrogate, student_kind=spec.student,
                           gamma=spec.gamma, noise_seed=noise_seed, **hooks)


def _ditto2_decode(model: nn.Module, x_T: Tensor, cond: Cond, spec: JobSpec, noise_seed: int | None,
                   decode_steps: int) -> Tensor:
    from ditto_live.engine.ito import ditto2_decode

    return ditto2_decode(model, x_T, cond, decode_steps, spec.gamma, spec.student, noise_seed=noise_seed)


def _ditto_model(bundle: Bundle, spec: JobSpec) -> nn.Module:
    if bundle.base is None:
        raise UsageError(f"model {spec.model!r} has no base model for the DITTO baseline")
    return bundle.base


def _ditto_optimise(model: nn.Module, x_T: Tensor, cond: Cond, loss_fn: LossFn, steps: int, lr: float,
                    spec: JobSpec, noise_seed: int | None, **hooks: Any) -> ItoResult:
    from ditto_live.engine.ito import ditto_optimise

    return ditto_optimise(model, x_T, cond, loss_fn, steps, lr, sampling_steps=DITTO_STEPS, **hooks)


def _ditto_decode(model: nn.Module, x_T: Tensor, cond: Cond, spec: JobSpec, noise_seed: int | None,
                  decode_steps: int) -> Tensor:
    from ditto_live.engine.ito import ditto_decode

    return ditto_decode(model, x_T, cond, DITTO_STEPS)  # its own chain: what it optimised through


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("ditto2", "DITTO-2, through the distilled student's surrogate", _ditto2_model, _ditto2_optimise, _ditto2_decode),
    Method("ditto", "the DITTO baseline, through the teacher's full chain", _ditto_model, _ditto_optimise, _ditto_decode,
           teacher_chain=True),
)}


def bench_names() -> tuple[str, ...]:
    """The bench's rows: a student method once per student (``ditto2-ctm``), a teacher chain by its name."""
    return tuple(name if m.teacher_chain else f"{name}-{student}"
                 for name, m in METHODS.items() for student in ((None,) if m.teacher_chain else STUDENTS))


def split_bench_name(name: str) -> tuple[str, str | None]:
    """``"ditto2-ctm"`` -> ("ditto2", "ctm"); ``"ditto"`` -> ("ditto", None)."""
    method, _, student = name.partition("-")
    return method, student or None
