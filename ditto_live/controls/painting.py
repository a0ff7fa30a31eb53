"""Inpainting and outpainting: a reference WAV's mel enforced where a mask says (a region kept around a gap
to fill, or the reference's end opening the new clip); measured on the re-analysed mel of the audio."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ditto_live.controls.base import (
    DEFAULT_OVERLAP_S,
    CliFlags,
    CliHelpers,
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
from ditto_live.errors import UsageError
from ditto_live.generation.jobspec import ControlSpec, JobSpecError

if TYPE_CHECKING:  # the engine and torch load when a target is built, not on import (controls/base.py)
    from ditto_live.engine.controls import Control


def validate(params: dict[str, Any], key: str) -> None:
    check(isinstance(params.get("reference"), str), f"{key}.reference: expected a WAV path")


def inpaint_target(c: ControlSpec, key: str, ctx: TargetContext) -> ClipTarget:
    import torch

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
    import torch

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
    from ditto_live.engine.controls.masked import masked_control

    mask = t.mask[w.start:w.stop]
    if not mask.any():
        return None
    return masked_control(t.kind, t.reference[..., w.start:w.stop].to(w.device), mask.to(w.device), t.weight)


def measure(t: ClipTarget, m: Measuring) -> dict[str, float]:
    """dB^2 error of the re-analysed mel against the reference, on the enforced frames."""
    from ditto_live.engine.audio import norm_to_db

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


def inpaint_from_flags(args: argparse.Namespace, cli: CliHelpers) -> list[dict[str, Any]]:
    if not args.inpaint:
        if args.region:
            raise UsageError("--region is for --inpaint")
        return []
    if not args.region or ":" not in args.region:
        raise UsageError("--inpaint needs --region START:END (seconds)")
    try:
        start, end = (float(v) for v in args.region.split(":", 1))
    except ValueError as exc:
        raise UsageError(f"--region {args.region!r}: expected START:END in seconds") from exc
    return [{"type": "inpaint", "reference": cli.path(args.inpaint), "start": start, "end": end, "unit": "seconds"}]


def outpaint_from_flags(args: argparse.Namespace, cli: CliHelpers) -> list[dict[str, Any]]:
    if not args.outpaint:
        return []
    return [{"type": "outpaint", "reference": cli.path(args.outpaint), "overlap": args.overlap or DEFAULT_OVERLAP_S,
             "unit": "seconds"}]


INPAINT = Kind("inpaint", validate, inpaint_target, window, measure,
               "fill a gap: reference (a WAV path) kept outside start..end (seconds unless unit says)",
               example=inpaint_example, default_unit="seconds",
               cli=CliFlags((
                   ("--inpaint", dict(metavar="WAV", help="reference audio to inpaint")),
                   ("--region", dict(metavar="START:END", help="seconds of --inpaint's reference to regenerate")),
               ), inpaint_from_flags))
OUTPAINT = Kind("outpaint", validate, outpaint_target, window, measure,
                "continue a clip: the last overlap seconds of reference (a WAV path) open the new one",
                example=outpaint_example, default_unit="seconds",
                cli=CliFlags((
                    ("--outpaint", dict(metavar="WAV", help="reference audio to continue")),
                    ("--overlap", dict(type=float, help="seconds of --outpaint's end that open the clip (default 1)")),
                ), outpaint_from_flags))
