"""The job request language shared by the CLI, the OSC server, the MIDI bridge and the Live device.

A job is JSON (a dict). Example::

    {"method": "ditto2", "seconds": 5.94, "bpm": 120, "seed": 7,
     "tags": {"genre": "folk", "mood": "major", "instrument": "piano"},
     "controls": [{"type": "intensity", "shape": "crescendo"},
                  {"type": "melody", "notes": [[60, 0, 1], [62, 1, 1]], "unit": "beats", "weight": 1.0}],
     "steps": 70, "decode_steps": 2, "gamma": 0.2, "cfg": 3.0, "sample_rate_out": 48000}

Control types and their keys (``weight`` defaults to 1) are the control kinds' (``ditto_live/controls/``,
one module each, listed in ``controls.KINDS``; docs/controls.md): intensity, melody, structure, inpaint,
outpaint, loop, text. The types a job parses into (``JobSpec``, ``ControlSpec``, the ranges) are defined in
``spec.py``, which the kinds import (so the kinds and this parser import each other in one direction only),
and are re-exported here.
"""

from __future__ import annotations

import re
from typing import Any

from ditto_live.controls import CONTROL_TYPES, KINDS
from ditto_live.generation.methods import METHODS, STUDENTS  # job.method and job.student name its rows
from ditto_live.generation.spec import (
    FIELD_RANGES,
    INTENSITY_DB,
    INTENSITY_SHAPES,
    LIVE_CONTROL_RANGES,
    MAX_CONTROLS,
    MAX_PARAM_DEPTH,
    ControlSpec,
    JobSpec,
    JobSpecError,
    Range,
)

__all__ = ["CONTROL_TYPES", "FIELD_RANGES", "INTENSITY_DB", "INTENSITY_SHAPES", "LIVE_CONTROL_RANGES", "METHODS",
           "STUDENTS", "SURROGATES", "ControlSpec", "JobSpec", "JobSpecError", "Range", "check_live_control",
           "clip_seconds", "parse_control", "parse_job"]  # the job language: its data types (spec.py) and parsing

COMMON_CONTROL_KEYS = ("unit",)  # what every control may say besides its kind's own keys (and type, weight)
SURROGATES = tuple(str(m) for m in range(1, 9)) + ("adaptive",)  # M during optimisation (ASCII digits only)
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "method": (str,), "student": (str,), "model": (str,), "seconds": (int, float, type(None)),
    "bars": (int, float, type(None)), "bpm": (int, float), "seed": (int,), "tags": (dict,),
    "controls": (list,), "steps": (int,), "lr": (int, float), "surrogate": (str, int), "decode_steps": (int,),
    "gamma": (int, float), "cfg": (int, float), "seeds": (int,), "tolerance": (int, float), "deadline_s": (int, float),
    "sample_rate_out": (int,), "name": (str,),
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
    kind = raw.get("type")
    _check(kind in CONTROL_TYPES, f"controls[{index}].type: {kind!r} is not one of {', '.join(CONTROL_TYPES)}")
    weight = raw.get("weight", 1.0)
    _check(Range(0, 1e6).contains(weight), f"controls[{index}].weight: expected a number 0..1e6")
    params = {k: v for k, v in raw.items() if k not in ("type", "weight")}
    known = KINDS[kind].keys
    unknown = sorted(str(k) for k in params if known and k not in known and k not in COMMON_CONTROL_KEYS)
    _check(not unknown, f"controls[{index}].{unknown[0] if unknown else ''!s:.40}: unknown key for {kind} (its keys: "
           f"{', '.join((*known, *COMMON_CONTROL_KEYS))})")
    for name, value in params.items():
        _check(_depth(value) <= MAX_PARAM_DEPTH,
               f"controls[{index}].{name!s:.40}: nested deeper than {MAX_PARAM_DEPTH} levels")
    KINDS[kind].validate(params, f"controls[{index}]")  # each kind checks its own keys (ditto_live/controls/)
    return ControlSpec(kind, float(weight), params)


def _depth(value: Any, limit: int = MAX_PARAM_DEPTH + 1) -> int:
    """How deep lists and objects nest in ``value`` (counted no further than ``limit``: junk 900 levels
    deep is refused without recursing through it)."""
    if not isinstance(value, list | dict) or limit <= 0:
        return 0
    items = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(v, limit - 1) for v in items), default=0)


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
    _check(len(d.get("controls", [])) <= MAX_CONTROLS, f"job.controls: at most {MAX_CONTROLS} controls, "
           f"got {len(d.get('controls', []))}")
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

