"""What a job is, as data: :class:`JobSpec` and its :class:`ControlSpec` list, the ranges every number a
request may set obeys (one schema for job fields and live controls), and :class:`JobSpecError`.

No parsing and no knowledge of the control kinds: the kinds (``ditto_live/controls/``) import these types,
and the job language (``ditto_live/generation/jobspec.py``, which reads the kinds' table) parses into them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from ditto_live.errors import UsageError

INTENSITY_SHAPES = ("crescendo", "decrescendo", "swell", "dip", "steps", "flat")


class JobSpecError(UsageError):
    """A job request is malformed; the message names the offending key."""


@dataclass(frozen=True)
class ControlSpec:
    type: str  # one of CONTROL_TYPES
    weight: float = 1.0  # weight of this control's loss in the sum
    params: dict[str, Any] = field(default_factory=dict)  # the type's own keys (see module doc)


@dataclass(frozen=True)
class JobSpec:
    method: str = "ditto2"  # "ditto2" or "ditto" (the full-chain baseline)
    student: str = "ctm"  # distilled student for ditto2: "ctm" or "cm"
    model: str = "default"  # bundled model name or checkpoint path
    seconds: float | None = None  # clip length in seconds (None: bars, else the model window)
    bars: float | None = None  # clip length in bars at ``bpm`` (4 beats a bar)
    bpm: float = 120.0  # song tempo: beats in note lists and curves, and the tempo tag
    seed: int = 0  # random seed of x_T
    tags: dict[str, str] = field(default_factory=dict)  # genre / mood / instrument (tempo follows bpm)
    controls: tuple[ControlSpec, ...] = ()  # weighted sum of control losses
    steps: int = 0  # K optimisation steps; 0 = the controls' default
    lr: float = 0.0  # Adam learning rate on x_T; 0 = the controls' default (the smallest of theirs)
    surrogate: str = "1"  # M during optimisation: "1", "2", ..., or "adaptive"
    decode_steps: int = 0  # T decoding steps (1..8); 0 = the controls' default (1 with a melody, else 2)
    gamma: float = 0.2  # CTM gamma-sampling stochasticity
    cfg: float = 3.0  # classifier-free guidance weight w
    seeds: int = 1  # B seeds optimised together, best returned
    tolerance: float = 0.0  # early stop when the total control loss falls below it
    deadline_s: float = 0.0  # wall-clock budget of the whole job in s (0 = none): the optimisation stops
    #                          early, keeping its best x_T, so decoding and writing still end in time; a job
    #                          with a deadline also goes before jobs without one (the live stream sets it)
    sample_rate_out: int = 0  # 0 = model rate, else 44100 or 48000
    name: str = "clip"  # prefix of the result file name

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["controls"] = [{"type": c.type, "weight": c.weight, **c.params} for c in self.controls]
        return d


@dataclass(frozen=True)
class Range:
    """The values a number may take: ``low <= x <= high`` (``low < x`` when ``open_low``), finite."""

    low: float  # smallest value allowed
    high: float  # largest value allowed
    integer: bool = False  # must be a whole number
    open_low: bool = False  # ``low`` itself is excluded
    unit: str = ""  # said in messages ("seconds", "dB")

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
            return False
        if self.integer and not float(value).is_integer():
            return False
        return (value > self.low if self.open_low else value >= self.low) and value <= self.high

    def describe(self, name: str) -> str:
        low = f"{_number(self.low)} {'<' if self.open_low else '<='} "
        kind = "a whole number " if self.integer else ""
        return f"expected {kind}{low}{name} <= {_number(self.high)}{' ' + self.unit if self.unit else ''}"


def _finite(value: int | float) -> bool:
    """A finite number a float can hold (an int of 400 digits is not: ``math.isfinite`` would overflow)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


# One schema for every number a request may set: job fields, and the live controls (ditto_live/server/server.py),
# which fill in job fields and steer the stream, so they obey the same ranges.
FIELD_RANGES: dict[str, Range] = {
    "seconds": Range(0, 60, open_low=True),
    "bars": Range(0, 64, open_low=True),
    "bpm": Range(20, 400),
    "seed": Range(0, 2**31 - 1, integer=True),
    "steps": Range(0, 2000, integer=True),
    "lr": Range(0, 1),
    "decode_steps": Range(0, 8, integer=True),
    "gamma": Range(0, 1),
    "cfg": Range(0, 20),
    "seeds": Range(1, 16, integer=True),
    "tolerance": Range(0, 1e6),
    "deadline_s": Range(0, 600, unit="seconds (0 = no deadline)"),
}
MAX_CONTROLS = 16  # most controls one job may list (each adds work to every step: ditto_live/server/budget.py)
MAX_PARAM_DEPTH = 3  # most nesting of a control's values (a list of [time, dB] points is 2 deep)
INTENSITY_DB = Range(-100, 0, unit="dB")  # intensity levels: low_db, high_db, curve points, the live control
LIVE_CONTROL_RANGES: dict[str, Range] = {  # /ditto/control/set names -> the range they share with job fields
    "intensity": INTENSITY_DB, "cfg": FIELD_RANGES["cfg"], "seed": FIELD_RANGES["seed"], "bpm": FIELD_RANGES["bpm"],
}
