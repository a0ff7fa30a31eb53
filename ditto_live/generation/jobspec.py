"""The job request language shared by the CLI, the OSC server, the MIDI bridge and the Live device.

A job is JSON (a dict). Example::

    {"method": "ditto2", "seconds": 5.94, "bpm": 120, "seed": 7,
     "tags": {"genre": "folk", "mood": "major", "instrument": "piano"},
     "controls": [{"type": "intensity", "shape": "crescendo"},
                  {"type": "melody", "notes": [[60, 0, 1], [62, 1, 1]], "unit": "beats", "weight": 1.0}],
     "steps": 70, "decode_steps": 2, "gamma": 0.2, "cfg": 3.0, "sample_rate_out": 48000}

Control types and their keys (``weight`` defaults to 1) are the control kinds' (``ditto_live/controls/``,
one module each, listed in ``controls.KINDS``; docs/controls.md): intensity, melody, structure, inpaint,
outpaint, loop, text.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any

from ditto_live.errors import UsageError
from ditto_live.generation.methods import METHODS, STUDENTS  # job.method and job.student name its rows

INTENSITY_SHAPES = ("crescendo", "decrescendo", "swell", "dip", "steps", "flat")
SURROGATES = tuple(str(m) for m in range(1, 9)) + ("adaptive",)  # M during optimisation (ASCII digits only)


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
    lr: float = 5e-3  # Adam learning rate on x_T
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


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "method": (str,), "student": (str,), "model": (str,), "seconds": (int, float, type(None)),
    "bars": (int, float, type(None)), "bpm": (int, float), "seed": (int,), "tags": (dict,),
    "controls": (list,), "steps": (int,), "lr": (int, float), "surrogate": (str, int), "decode_steps": (int,),
    "gamma": (int, float), "cfg": (int, float), "seeds": (int,), "tolerance": (int, float), "deadline_s": (int, float),
    "sample_rate_out": (int,), "name": (str,),
}


@dataclass(frozen=True)
class Range:
    """The values a number may take: ``low <= x <= high`` (``low < x`` when ``open_low``), finite."""

    low: float  # smallest value allowed
    high: float  # largest value allowed
    integer: bool = False  # must be a whole number
    open_low: bool = False  # ``low`` itself is excluded
    unit: str = ""  # said in messages ("seconds", "dB")

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return False
        if self.integer and not float(value).is_integer():
            return False
        return (value > self.low if self.open_low else value >= self.low) and value <= self.high

    def describe(self, name: str) -> str:
        low = f"{_number(self.low)} {'<' if self.open_low else '<='} "
        kind = "a whole number " if self.integer else ""
        return f"expected {kind}{low}{name} <= {_number(self.high)}{' ' + self.unit if self.unit else ''}"


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
    "lr": Range(0, 1, open_low=True),
    "decode_steps": Range(0, 8, integer=True),
    "gamma": Range(0, 1),
    "cfg": Range(0, 20),
    "seeds": Range(1, 16, integer=True),
    "tolerance": Range(0, 1e6),
    "deadline_s": Range(0, 600, unit="seconds (0 = no deadline)"),
}
INTENSITY_DB = Range(-100, 0, unit="dB")  # intensity levels: low_db, high_db, curve points, the live control
LIVE_CONTROL_RANGES: dict[str, Range] = {  # /ditto/control/set names -> the range they share with job fields
    "intensity": INTENSITY_DB, "cfg": FIELD_RANGES["cfg"], "seed": FIELD_RANGES["seed"], "bpm": FIELD_RANGES["bpm"],
}
_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")  # a result name: ASCII, so the file name is portable


def check_live_control(name: str, value: float) -> float:
    """A live control's value, checked against the schema it shares with job fields; JobSpecError if not."""
    rule = LIVE_CONTROL_RANGES.get(name)
    _check(rule is not None, f"control {name!r:.40}: expected one of {', '.join(LIVE_CONTROL_RANGES)}")
    assert rule is not None
    _check(rule.contains(value), f"control {name} = {value:g}: {rule.describe(name)}")
    return float(value)


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise JobSpecError(message)


def parse_control(raw: Any, index: int) -> ControlSpec:
    _check(isinstance(raw, dict), f"controls[{index}]: expected an object")
    from ditto_live.controls import CONTROL_TYPES, KINDS  # the kinds import this module: read them here

    kind = raw.get("type")
    _check(kind in CONTROL_TYPES, f"controls[{index}].type: {kind!r} is not one of {', '.join(CONTROL_TYPES)}")
    weight = raw.get("weight", 1.0)
    _check(Range(0, 1e6).contains(weight), f"controls[{index}].weight: expected a number 0..1e6")
    params = {k: v for k, v in raw.items() if k not in ("type", "weight")}
    KINDS[kind].validate(params, f"controls[{index}]")  # each kind checks its own keys (ditto_live/controls/)
    return ControlSpec(kind, float(weight), params)


def parse_job(raw: Any) -> JobSpec:
    """Validate a job dict and build a :class:`JobSpec`; errors name the key."""
    _check(isinstance(raw, dict), "job: expected a JSON object")
    for key, value in raw.items():
        _check(key in _FIELD_TYPES, f"job.{key}: unknown key")
        types = _FIELD_TYPES[key]
        _check(isinstance(value, types) and not (isinstance(value, bool) and bool not in types),
               f"job.{key}: wrong type {type(value).__name__}")
    d = dict(raw)
    d["surrogate"] = str(d.get("surrogate", "1"))
    d["controls"] = tuple(parse_control(c, i) for i, c in enumerate(d.get("controls", [])))
    spec = JobSpec(**d)
    _check(spec.method in METHODS, f"job.method: {spec.method!r} is not one of {', '.join(METHODS)}")
    _check(spec.student in STUDENTS, f"job.student: {spec.student!r} is not one of {', '.join(STUDENTS)}")
    _check(spec.surrogate in SURROGATES, "job.surrogate: expected 1..8 or 'adaptive'")
    for key, rule in FIELD_RANGES.items():
        value = getattr(spec, key)
        if value is not None:
            _check(rule.contains(value), f"job.{key} = {value!r:.40}: {rule.describe(key)}")
    _check(spec.sample_rate_out in (0, 22050, 44100, 48000), "job.sample_rate_out: expected 0, 22050, 44100 or 48000")
    _check(all(isinstance(k, str) and isinstance(v, str) for k, v in spec.tags.items()),
           "job.tags: expected string values")
    _check(bool(_NAME_RE.fullmatch(spec.name)), "job.name: 1-64 ASCII letters, digits, - and _")
    return spec


def clip_seconds(spec: JobSpec, window_seconds: float) -> float:
    """Length of the requested clip: seconds, else bars at the tempo (4/4), else one model window."""
    if spec.seconds is not None:
        return float(spec.seconds)
    if spec.bars is not None:
        return float(spec.bars) * 4 * 60.0 / spec.bpm
    return window_seconds


def __getattr__(name: str) -> Any:
    """``CONTROL_TYPES`` is the control registry's (ditto_live/controls/), read when first asked for: the
    kinds import this module for ControlSpec and JobSpecError."""
    if name == "CONTROL_TYPES":
        from ditto_live.controls import CONTROL_TYPES

        return CONTROL_TYPES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
