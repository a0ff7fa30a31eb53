"""The product's execution backend (DESIGN.md §7, §10): which backend runs the ITO steps and the decoder on
this device, prepared once per (model, shape, batch) and kept; a refused backend falls back to eager.

The backends themselves (eager, the CUDA graph, compiled, exported, TensorRT; their names in
``engine.backends.BACKENDS``), their parity checks and the ITO steps' fallback to eager are
``engine/backends.py`` (``StepperFactory``); this module is the choice and the cache around them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable
from typing import Any

from torch import Tensor, nn

from ditto_live.engine.backend_names import BACKEND_CHOICES, CUDA_ONLY
from ditto_live.engine.backends import (
    BackendRefused,
    StepperFactory,
    StepperMaker,
    eager_stepper,
    prepare_module,
)
from ditto_live.errors import UsageError

log = logging.getLogger(__name__)

ModelKey = tuple[Hashable, ...]  # what a prepared backend is kept for: model, method, student, shape, precision

__all__ = ["BACKEND_CHOICES", "Backends", "resolve_backend"]


def resolve_backend(name: str, device: str) -> str:
    """The backend a request for ``name`` runs on ``device``: ``auto`` is the fastest measured there (the
    CUDA graph on CUDA; eager on a CPU, docs/bench.md); a backend the device cannot run is a UsageError."""
    if name not in BACKEND_CHOICES:
        raise UsageError(f"backend {name!r}: choose from {', '.join(BACKEND_CHOICES)}")
    cuda = str(device).startswith("cuda")
    if name == "auto":
        return "cudagraph" if cuda else "eager"
    if name in CUDA_ONLY and not cuda:
        usable = ", ".join(b for b in BACKEND_CHOICES if b not in CUDA_ONLY)
        raise UsageError(f"backend {name!r} needs a CUDA device (this one is {device!r}); use --backend {usable}")
    return name


class Backends:
    """The product's execution backend: resolved once per device; for each (model, shape, batch) key a
    :class:`StepperFactory` for the ITO steps (it keeps the prepared graphs and falls back to eager when
    refused) and a checked decoder, prepared once and kept."""

    def __init__(self, name: str = "auto", device: str = "cpu", compiler: str = "inductor",
                 tolerance: float = 1e-2, methods: tuple[str, ...] = ("ditto2",), fallback: bool = True):
        self.requested = name  # what the user asked for ("auto", "eager", ...)
        self.name = resolve_backend(name, device)  # what runs when not refused
        self.compiler = compiler  # torch.compile backend of "compiled"
        self.tolerance = tolerance  # parity: largest x_T difference to eager, relative to eager's move
        self.methods = methods  # methods whose ITO runs on the backend (DITTO's 20-call chain stays eager)
        self.fallback = fallback  # a refused backend runs eager (the product); False: BackendRefused (the bench)
        self._factories: dict[ModelKey, StepperFactory] = {}
        self._decoders: dict[ModelKey, nn.Module] = {}
        self.refused: dict[ModelKey, str] = {}  # decoder key -> why it decodes eager (the ITO's: its factory's)

    def applies(self, method: str) -> bool:
        return self.name != "eager" and method in self.methods

    def stepper(self, method: str, surrogate: int | str, key: ModelKey) -> tuple[StepperMaker, str | None]:
        """The ITO's stepper maker for a job of ``method`` with this surrogate M and (model, shape, batch) key,
        and why it runs eager when this backend does not apply (None otherwise)."""
        if not self.applies(method):
            return eager_stepper, None
        if surrogate == "adaptive":
            return eager_stepper, "the adaptive surrogate schedule runs eager (a backend holds one M)"
        if key not in self._factories:
            self._factories[key] = StepperFactory(self.name, tolerance=self.tolerance, compiler=self.compiler,
                                                  key=key, fallback=self.fallback)
        return self._factories[key], None

    @staticmethod
    def ran(maker: StepperMaker, why_eager: str | None) -> dict[str, Any]:
        """The record of a job's ITO backend: which ran, why it fell back (or None), preparation seconds,
        whether the parity check ran and whether a prepared graph was reused."""
        if not isinstance(maker, StepperFactory):
            return {"backend": "eager", "backend_fallback": why_eager, "backend_prepare_s": 0.0,
                    "parity_checked": False, "graph_reused": False}
        return {"backend": maker.running, "backend_fallback": maker.refused,
                "backend_prepare_s": round(maker.last_prepare_s, 4), "parity_checked": maker.last_checked,
                "graph_reused": maker.last_reused}

    def decoder(self, key: ModelKey, model: nn.Module, example: tuple[Tensor, ...],
                autocast: bool) -> tuple[nn.Module, float]:
        """The student prepared for decoding under this backend (checked against eager on ``example``, the
        call model(x [1,1,F,N], t [1], tags [1,4], w [1])); eager's model when refused. -> (model, prepare s)"""
        if self.name == "eager" or ("decode", *key) in self.refused:
            return model, 0.0
        if key in self._decoders:
            return self._decoders[key], 0.0
        start = time.perf_counter()
        try:
            self._decoders[key] = prepare_module(self.name, model, example, 2e-2 if autocast else 1e-3,
                                                 self.compiler, autocast)
        except BackendRefused as exc:
            self.refuse(("decode", *key), str(exc))
            return model, 0.0
        return self._decoders[key], time.perf_counter() - start

    def refuse(self, key: ModelKey, reason: str) -> None:
        log.warning("backend %s refused for %s, running eager: %s", self.name, key, reason)
        self.refused[key] = reason
