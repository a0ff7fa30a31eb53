"""The job request language shared by the CLI, the OSC server, the MIDI bridge and the Live device.

A job is JSON (a dict). Example::

    {"method": "ditto2", "seconds": 5.94, "bpm": 120, "seed": 7,
     "tags": {"genre": "folk", "mood": "major", "instrument": "piano"},
     "controls": [{"type": "intensity", "shape": "crescendo"},
                  {"type": "melody", "notes": [[60, 0, 1], [62, 1, 1]], "unit": "beats", "weight": 1.0}],
     "steps": 70, "decode_steps": 2, "gamma": 0.2, "cfg": 3.0, "sample_rate_out": 48000}

Control types and their keys (``weight`` defaults to 1):

- intensity: ``shape`` (crescendo | decrescendo | swell | dip | steps | flat) with ``low_db``/``high_db``,
  or ``points`` [[time, dB], ...] with ``unit`` beats|seconds (linear between points)
- melody: ``notes`` [[midi_pitch, start, duration], ...] with ``unit`` beats|seconds, or ``midi`` (path)
- structure: ``form`` such as "ABA", "AABA"
- inpaint: ``reference`` (WAV path), ``start``/``end`` of the region to regenerate, ``unit`` seconds|bars
- outpaint: ``reference`` (WAV path), ``overlap`` (how much of the reference's end opens the new clip)
- loop: ``reference`` optional; the clip's end continues seamlessly into its start
- text: ``caption``
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ditto_live.errors import UsageError

CONTROL_TYPES = ("intensity", "melody", "structure", "inpaint", "outpaint", "loop", "text")
METHODS = ("ditto2", "ditto")
STUDENTS = ("ctm", "cm")
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
    lr: float = 5e-3  # Adam learning rate on x_T
    surrogate: str = "1"  # M during optimisation: "1", "2", ..., or "adaptive"
    decode_steps: int = 2  # T decoding steps (1..8)
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


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise JobSpecError(message)


def parse_control(raw: Any, index: int) -> ControlSpec:
    _check(isinstance(raw, dict), f"controls[{index}]: expected an object")
    kind = raw.get("type")
    _check(kind in CONTROL_TYPES, f"controls[{index}].type: {kind!r} is not one of {', '.join(CONTROL_TYPES)}")
    weight = raw.get("weight", 1.0)
    _check(isinstance(weight, (int, float)) and not isinstance(weight, bool) and weight >= 0,
           f"controls[{index}].weight: expected a number >= 0")
    params = {k: v for k, v in raw.items() if k not in ("type", "weight")}
    if kind == "intensity":
        _check("shape" in params or "points" in params, f"controls[{index}]: intensity needs shape or points")
        if "shape" in params:
            _check(params["shape"] in INTENSITY_SHAPES,
                   f"controls[{index}].shape: {params['shape']!r} is not one of {', '.join(INTENSITY_SHAPES)}")
    elif kind == "melody":
        _check("notes" in params or "midi" in params, f"controls[{index}]: melody needs notes or midi")
        if "notes" in params:
            notes = params["notes"]
            _check(isinstance(notes, list) and len(notes) > 0, f"controls[{index}].notes: expected a non-empty list")
            for j, n in enumerate(notes):
                _check(isinstance(n, list) and len(n) == 3 and all(isinstance(v, (int, float)) for v in n),
                       f"controls[{index}].notes[{j}]: expected [pitch, start, duration]")
                _check(0 <= n[0] <= 127 and n[2] > 0 and n[1] >= 0,
                       f"controls[{index}].notes[{j}]: pitch 0-127, start >= 0, duration > 0")
    elif kind == "structure":
        form = params.get("form")
        _check(isinstance(form, str) and form.isalpha() and 1 < len(form) <= 16,
               f"controls[{index}].form: expected letters such as 'ABA'")
    elif kind in ("inpaint", "outpaint"):
        _check(isinstance(params.get("reference"), str), f"controls[{index}].reference: expected a WAV path")
    elif kind == "text":
        _check(isinstance(params.get("caption"), str) and params["caption"].strip() != "",
               f"controls[{index}].caption: expected a non-empty string")
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
    _check(spec.surrogate == "adaptive" or spec.surrogate.isdigit() and 1 <= int(spec.surrogate) <= 8,
           "job.surrogate: expected 1..8 or 'adaptive'")
    _check(1 <= spec.decode_steps <= 8, "job.decode_steps: expected 1..8")
    _check(0 <= spec.gamma <= 1, "job.gamma: expected 0..1")
    _check(0 <= spec.steps <= 2000, "job.steps: expected 0..2000")
    _check(1 <= spec.seeds <= 16, "job.seeds: expected 1..16")
    _check(0 <= spec.deadline_s <= 600, "job.deadline_s: expected 0..600 seconds (0 = no deadline)")
    _check(spec.bpm > 0 and spec.bpm <= 400, "job.bpm: expected 0 < bpm <= 400")
    _check(spec.sample_rate_out in (0, 22050, 44100, 48000), "job.sample_rate_out: expected 0, 22050, 44100 or 48000")
    _check(spec.seconds is None or 0 < spec.seconds <= 60, "job.seconds: expected 0 < seconds <= 60")
    _check(spec.bars is None or 0 < spec.bars <= 64, "job.bars: expected 0 < bars <= 64")
    _check(all(isinstance(k, str) and isinstance(v, str) for k, v in spec.tags.items()),
           "job.tags: expected string values")
    _check(spec.name.replace("-", "").replace("_", "").isalnum() and len(spec.name) <= 64,
           "job.name: letters, digits, - and _ only")
    return spec


def clip_seconds(spec: JobSpec, window_seconds: float) -> float:
    """Length of the requested clip: seconds, else bars at the tempo (4/4), else one model window."""
    if spec.seconds is not None:
        return float(spec.seconds)
    if spec.bars is not None:
        return float(spec.bars) * 4 * 60.0 / spec.bpm
    return window_seconds
