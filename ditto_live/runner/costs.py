"""What a deadline reserves: the measured cost of the stages after the optimisation (decode, vocode, write).

A job with a deadline (``JobSpec.deadline_s``) stops its optimisation early so that what follows still fits;
:class:`DeadlineCosts` learns that tail from the jobs that ran, per (model, method, student, decode steps),
and tells a new job how much of its budget to keep back. A configuration's first run warms caches up (JIT,
allocator) and is not a measure.
"""

from __future__ import annotations

from dataclasses import dataclass

from ditto_live.generation.jobspec import JobSpec
from ditto_live.generation.pipeline import decode_steps_of

CostKey = tuple[str, str, str, int]  # (model, method, student, decode steps)


@dataclass
class StageCosts:
    """Measured wall time of the stages after the optimisation, per model and decoder (the deadline
    reserves them). Follows a slower run at once and a faster one slowly (safer for a deadline)."""

    decode_s: float  # decoding one window
    tail_s_per_s: float  # vocode + write, per second of audio

    def update(self, decode_s: float, tail_s_per_s: float, keep: float = 0.5) -> None:
        self.decode_s = max(decode_s, keep * self.decode_s + (1 - keep) * decode_s)
        self.tail_s_per_s = max(tail_s_per_s, keep * self.tail_s_per_s + (1 - keep) * tail_s_per_s)


def cost_key(spec: JobSpec) -> CostKey:
    return spec.model, spec.method, spec.student, decode_steps_of(spec)


class DeadlineCosts:
    """The stage costs learned so far, by :func:`cost_key`."""

    def __init__(self) -> None:
        self._costs: dict[CostKey, StageCosts] = {}  # measured costs per configuration
        self._warmed: set[CostKey] = set()  # configurations whose first (warm-up) run is over

    def reserved_s(self, spec: JobSpec, windows: int, seconds: float) -> float:
        """Seconds a job of ``windows`` model windows and ``seconds`` of audio keeps back (0: not measured yet)."""
        costs = self._costs.get(cost_key(spec))
        return costs.decode_s * windows + costs.tail_s_per_s * seconds if costs else 0.0

    def learn(self, spec: JobSpec, decode_s: float, tail_s: float, seconds: float) -> None:
        """Record a run: ``decode_s`` per window, ``tail_s`` for vocode (+ write) of ``seconds`` of audio."""
        key = cost_key(spec)
        tail = tail_s / max(seconds, 1e-3)
        if key not in self._warmed:  # a first run warms caches up (JIT, allocator): not a measure
            self._warmed.add(key)
        elif key not in self._costs:
            self._costs[key] = StageCosts(decode_s, tail)
        else:
            self._costs[key].update(decode_s, tail)
