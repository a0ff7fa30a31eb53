"""Inpainting and outpainting: a reference WAV's mel enforced where a mask says (a region kept around a gap
to fill, or the reference's end opening the new clip); measured on the re-analysed mel of the audio."""

from __future__ import annotations

from typing import Any

import torch

from ditto_live.controls.base import (
    DEFAULT_OVERLAP_S,
    ClipTarget,
    Kind,
    Measuring,
    TargetContext,
    WindowSlice,
    check,
    frames_of,
    reference_mel,
    unit_of,
)
from ditto_live.engine.audio import norm_to_db
from ditto_live.engine.controls import Control
from ditto_live.engine.controls.masked import masked_control
from ditto_live.jobspec import ControlSpec, JobSpecError


def validate(params: dict[str, Any], key: str) -> None:
    check(isinstance(params.get("reference"), str), f"{key}.reference: expected a WAV path")


def inpaint_target(c: ControlSpec, key: str, ctx: TargetContext) -> ClipTarget:
    p, t, fr = c.params, ClipTarget(c.type, c.weight, params=c.params), ctx.mel.frame_rate
    unit = unit_of(c, "seconds", key)
    ref = reference_mel(p["reference"], ctx.allowed_roots, ctx.front)
    start = frames_of(p.get("start"), unit, ctx.spec.bpm, fr, f"{key}.start")
    end = frames_of(p.get("end"), unit, ctx.spec.bpm, fr, f"{key}.end")
    usable = min(ctx.frames, ref.shape[-1])
    if not start < end <= usable:
        raise JobSpecError(f"{key}: region {p.get('start')}-{p.get('end')} {unit} is outside the clip "
                           f"({usable / fr:.2f} s of reference within {ctx.frames / fr:.2f} s)")
    t.reference = torch.zeros(ref.shape[0], ref.shape[1], ctx.frames)
    t.reference[..., :usable] = ref[..., :usable]
    t.mask = torch.zeros(ctx.frames)
    t.mask[:usable] = 1
    t.mask[start:end] = 0
    t.info = {"reference": p["reference"], "region_frames": [start, end]}
    return t


def outpaint_target(c: ControlSpec, key: str, ctx: TargetContext) -> ClipTarget:
    p, t = c.params, ClipTarget(c.type, c.weight, params=c.params)
    ref = reference_mel(p["reference"], ctx.allowed_roots, ctx.front)
    o = frames_of(p.get("overlap", DEFAULT_OVERLAP_S), unit_of(c, "seconds", key), ctx.spec.bpm,
                  ctx.mel.frame_rate, f"{key}.overlap")
    if not 0 < o <= min(ref.shape[-1], ctx.frames // 2):
        raise JobSpecError(f"{key}.overlap: must be > 0 and at most half the clip and the reference length")
    t.reference = torch.zeros(ref.shape[0], ref.shape[1], ctx.frames)
    t.reference[..., :o] = ref[..., -o:]
    t.mask = torch.zeros(ctx.frames)
    t.mask[:o] = 1
    t.info = {"reference": p["reference"], "overlap_frames": o}
    return t


def window(t: ClipTarget, w: WindowSlice) -> Control | None:
    mask = t.mask[w.start:w.stop]
    if not mask.any():
        return None
    return masked_control(t.kind, t.reference[..., w.start:w.stop].to(w.device), mask.to(w.device), t.weight)


def measure(t: ClipTarget, m: Measuring) -> dict[str, float]:
    """dB^2 error of the re-analysed mel against the reference, on the enforced frames."""
    db = m.remel_db
    n = db.shape[-1]
    ref = norm_to_db(t.reference[0, :, :n], m.mel.min_db, m.mel.max_db)
    keep = t.mask[:n].bool()
    return {f"{t.kind}_mel_mse_db2": float(((db - ref)[:, keep] ** 2).mean())}


def inpaint_example(seconds: float, reference: str) -> dict[str, Any]:
    return {"type": "inpaint", "reference": reference, "unit": "seconds", "start": round(seconds / 3, 3),
            "end": round(2 * seconds / 3, 3)}


def outpaint_example(seconds: float, reference: str) -> dict[str, Any]:
    return {"type": "outpaint", "reference": reference, "unit": "seconds", "overlap": round(seconds / 4, 3)}


INPAINT = Kind("inpaint", validate, inpaint_target, window, measure,
               "fill a gap: reference (a WAV path) kept outside start..end (seconds unless unit says)",
               example=inpaint_example, default_unit="seconds")
OUTPAINT = Kind("outpaint", validate, outpaint_target, window, measure,
                "continue a clip: the last overlap seconds of reference (a WAV path) open the new one",
                example=outpaint_example, default_unit="seconds")
