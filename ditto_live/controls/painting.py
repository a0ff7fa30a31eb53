"""Inpainting and outpainting: a reference WAV's mel enforced where a mask says (a region kept around a gap
to fill, or the reference's end opening the new clip); measured on the re-analysed mel of the audio."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ditto_live.controls.base import (
    DEFAULT_OVERLAP_S,
    CliFlags,
    CliHelpers,
    ClipTarget,
    EvalCase,
    EvalTask,
    EvalWindow,
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
from ditto_live.generation.spec import ControlSpec, JobSpecError

if TYPE_CHECKING:  # the engine and torch load when a target is built, not on import (controls/base.py)
    from torch import Tensor

    from ditto_live.engine.controls import Control

EVAL_OVERLAP_S = 1.0  # evaluation: seconds of reference kept on each side (inpaint) or carried over (outpaint)
SKETCH_SHARE = 1.0  # DITTO-2 starts this share of its variance from the output with the reference pasted in
# (0.4 / 0.7 / 1.0 on val at K = 20: overlap MSE and CLAP best at 1.0; docs/bench.md figure painting-sketch)
STEPS, LR = 20, 1e-2  # K and Adam's step from the sketch, chosen on val (K = 10 / 20 / 30; lr 1e-2 / 2e-2)


@dataclass(frozen=True)
class MaskedTarget:
    """Inpaint's and outpaint's target: a reference mel enforced where the mask says."""

    reference: Tensor  # [1, F, L] the reference mel on the clip grid
    mask: Tensor  # [L] 1 where the reference is enforced
    seam = 0  # generates nothing past the clip's end

    def wrapped(self, seam: int) -> MaskedTarget:
        """Nothing enforced on the seam."""
        import torch

        return MaskedTarget(torch.cat([self.reference, torch.zeros(*self.reference.shape[:-1], seam)], -1),
                            torch.cat([self.mask, torch.zeros(seam)]))


def validate(params: dict[str, Any], key: str) -> None:
    check(isinstance(params.get("reference"), str), f"{key}.reference: expected a WAV path")


def inpaint_target(c: ControlSpec, key: str, ctx: TargetContext) -> ClipTarget[MaskedTarget]:
    import torch

    p, fr = c.params, ctx.mel.frame_rate
    unit = unit_of(c, "seconds", key)
    ref = reference_mel(p["reference"], ctx.allowed_roots, ctx.front)
    start = frames_of(p.get("start"), unit, ctx.spec.bpm, fr, f"{key}.start")
    end = frames_of(p.get("end"), unit, ctx.spec.bpm, fr, f"{key}.end")
    usable = min(ctx.frames, ref.shape[-1])
    if not start < end <= usable:
        raise JobSpecError(f"{key}: region {p.get('start')}-{p.get('end')} {unit} is outside the clip "
                           f"({usable / fr:.2f} s of reference within {ctx.frames / fr:.2f} s)")
    reference = torch.zeros(ref.shape[0], ref.shape[1], ctx.frames)
    reference[..., :usable] = ref[..., :usable]
    mask = torch.zeros(ctx.frames)
    mask[:usable] = 1
    mask[start:end] = 0
    info = {"reference": p["reference"], "region_frames": [start, end]}
    return ClipTarget(c.type, c.weight, MaskedTarget(reference, mask), info, c.params)


def outpaint_target(c: ControlSpec, key: str, ctx: TargetContext) -> ClipTarget[MaskedTarget]:
    import torch

    p = c.params
    ref = reference_mel(p["reference"], ctx.allowed_roots, ctx.front)
    o = frames_of(p.get("overlap", DEFAULT_OVERLAP_S), unit_of(c, "seconds", key), ctx.spec.bpm,
                  ctx.mel.frame_rate, f"{key}.overlap")
    if not 0 < o <= min(ref.shape[-1], ctx.frames // 2):
        raise JobSpecError(f"{key}.overlap: must be > 0 and at most half the clip and the reference length")
    reference = torch.zeros(ref.shape[0], ref.shape[1], ctx.frames)
    reference[..., :o] = ref[..., -o:]
    mask = torch.zeros(ctx.frames)
    mask[:o] = 1
    info = {"reference": p["reference"], "overlap_frames": o}
    return ClipTarget(c.type, c.weight, MaskedTarget(reference, mask), info, c.params)


def window(t: ClipTarget[MaskedTarget], w: WindowSlice) -> Control | None:
    from ditto_live.engine.controls.masked import masked_control

    mask = t.payload.mask[w.start:w.stop]
    if not mask.any():
        return None
    return masked_control(t.kind, t.payload.reference[..., w.start:w.stop].to(w.device), mask.to(w.device), t.weight,
                          SKETCH_SHARE)


def pinned(t: ClipTarget[MaskedTarget]) -> Tensor:
    """[L] 1 where the reference is enforced."""
    return t.payload.mask


def measure(t: ClipTarget[MaskedTarget], m: Measuring) -> dict[str, float]:
    """dB^2 error of the re-analysed mel against the reference, on the enforced frames."""
    from ditto_live.engine.audio import norm_to_db

    db = m.remel_db
    n = db.shape[-1]
    ref = norm_to_db(t.payload.reference[0, :, :n], m.mel.min_db, m.mel.max_db)
    keep = t.payload.mask[:n].bool()
    return {f"{t.kind}_mel_mse_db2": float(((db - ref)[:, keep] ** 2).mean())}


def inpaint_example(seconds: float, reference: str) -> dict[str, Any]:
    return {"type": "inpaint", "reference": reference, "unit": "seconds", "start": round(seconds / 3, 3),
            "end": round(2 * seconds / 3, 3)}


def outpaint_example(seconds: float, reference: str) -> dict[str, Any]:
    return {"type": "outpaint", "reference": reference, "unit": "seconds", "overlap": round(seconds / 4, 3)}


def _reference_wav(w: EvalWindow) -> str:
    """The held-out window's audio as a WAV: the reference goes in by path, as a user's does."""
    import soundfile as sf

    if w.audio is None:
        raise FileNotFoundError("inpainting and outpainting cases need the corpus's audio shards")
    w.reference_wav.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(w.reference_wav), w.audio.astype("float32"), w.sample_rate)
    return str(w.reference_wav.resolve())


def inpaint_case(w: EvalWindow) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Regenerate all but the window's first and last EVAL_OVERLAP_S seconds."""
    ctl = {"type": "inpaint", "reference": _reference_wav(w), "start": EVAL_OVERLAP_S,
           "end": round(w.window_s - EVAL_OVERLAP_S, 4), "unit": "seconds"}
    return [ctl], {"work": w.meta["work"], "overlap_s": EVAL_OVERLAP_S}


def outpaint_case(w: EvalWindow) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Continue the window from its last EVAL_OVERLAP_S seconds."""
    ctl = {"type": "outpaint", "reference": _reference_wav(w), "overlap": EVAL_OVERLAP_S, "unit": "seconds"}
    return [ctl], {"work": w.meta["work"], "overlap_s": EVAL_OVERLAP_S}


def _evaluation(kind: str, title: str, case: EvalCase) -> EvalTask:
    """The report names the dB^2 error on the enforced frames ``<kind>_mse_db2``."""
    return EvalTask(title, case, metric=(f"{kind}_mse_db2", "overlap MSE (dB²)", 1.0), needs_audio=True,
                    renamed=((f"{kind}_mel_mse_db2", f"{kind}_mse_db2"),))


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
               example=inpaint_example, default_unit="seconds", yields_to_chain=True, steps=STEPS, lr=LR,
               pinned=pinned, keys=("reference", "start", "end"),
               evaluation=_evaluation("inpaint", "Inpainting", inpaint_case),
               cli=CliFlags((
                   ("--inpaint", dict(metavar="WAV", help="reference audio to inpaint")),
                   ("--region", dict(metavar="START:END", help="seconds of --inpaint's reference to regenerate")),
               ), inpaint_from_flags))
OUTPAINT = Kind("outpaint", validate, outpaint_target, window, measure,
                "continue a clip: the last overlap seconds of reference (a WAV path) open the new one",
                example=outpaint_example, default_unit="seconds", yields_to_chain=True, steps=STEPS, lr=LR,
                pinned=pinned, keys=("reference", "overlap"),
                evaluation=_evaluation("outpaint", "Outpainting", outpaint_case),
                cli=CliFlags((
                    ("--outpaint", dict(metavar="WAV", help="reference audio to continue")),
                    ("--overlap", dict(type=float, help="seconds of --outpaint's end that open the clip (default 1)")),
                ), outpaint_from_flags))
