"""The loop control: the clip's end runs seamlessly into its start. The clip is generated with a seam (frames
past its end that must equal its first ones), which is then dropped; measured as the spectral jump across
the wrap against the clip's typical frame-to-frame step."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ditto_live.controls.base import (
    DEFAULT_OVERLAP_S,
    CliFlags,
    CliHelpers,
    ClipTarget,
    EvalTask,
    EvalWindow,
    Kind,
    Measuring,
    TargetContext,
    WindowSlice,
    check,
    frames_of,
    unit_of,
)
from ditto_live.generation.spec import ControlSpec

if TYPE_CHECKING:  # the engine and torch load when a target is built, not on import (controls/base.py)
    from ditto_live.engine.controls import Control

SEAM_S = DEFAULT_OVERLAP_S / 2  # the seam when the job gives none: half a second (a quarter of a short clip)
SKETCH_SHARE = 0.7  # DITTO-2 starts this share of its variance from the output with its start copied onto its end
STEPS, LR = 20, 1e-2  # K and Adam's step, chosen with the share on val (docs/bench.md figure loop-sketch)


@dataclass(frozen=True)
class LoopTarget:
    """The loop control's target: the seam, frames generated past the clip's end that must equal its first."""

    overlap: int  # seam length in frames

    @property
    def seam(self) -> int:
        return self.overlap

    def wrapped(self, seam: int) -> LoopTarget:
        return self


def validate(params: dict[str, Any], key: str) -> None:
    if "reference" in params:
        check(isinstance(params["reference"], str), f"{key}.reference: expected a WAV path")


def target(c: ControlSpec, key: str, ctx: TargetContext) -> ClipTarget[LoopTarget]:
    if "overlap" in c.params:
        overlap = frames_of(c.params["overlap"], unit_of(c, "seconds", key), ctx.spec.bpm, ctx.mel.frame_rate,
                            f"{key}.overlap")
    else:  # half a second, or a quarter of a short clip
        overlap = min(int(round(SEAM_S * ctx.mel.frame_rate)), ctx.frames // 4)
    check(0 < overlap <= ctx.frames // 2, f"{key}.overlap: must be > 0 and at most half the clip")
    return ClipTarget(c.type, c.weight, LoopTarget(overlap), {"overlap_frames": overlap}, c.params)


def window(t: ClipTarget[LoopTarget], w: WindowSlice) -> Control | None:
    import torch

    from ditto_live.engine.controls.masked import loop_control, masked_control

    if w.start == 0 and w.is_last:  # one window: its end continues into its own start
        return loop_control(t.payload.overlap, t.weight, SKETCH_SHARE)
    if w.is_last and w.head is not None:  # the last of several: it ends on the clip's first frames
        head = w.head[..., :t.payload.overlap].to(w.device)
        ref = torch.zeros(head.shape[0], head.shape[1], w.length, device=w.device)
        ref[..., -t.payload.overlap:] = head
        mask = torch.zeros(w.length, device=w.device)
        mask[-t.payload.overlap:] = 1
        return masked_control("loop", ref, mask, t.weight, SKETCH_SHARE)
    return None


def measure(t: ClipTarget[LoopTarget], m: Measuring) -> dict[str, float]:
    db = m.remel_db
    seam, median = float((db[:, -1] - db[:, 0]).abs().mean()), float((db[:, 1:] - db[:, :-1]).abs().mean(0).median())
    return {"loop_seam_jump_db": seam, "loop_median_jump_db": median, "loop_seam_ratio": seam / max(median, 1e-6)}


def loop_case(w: EvalWindow) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A clip under the held-out window's tags that loops over the default seam."""
    return [{"type": "loop"}], {"work": w.meta["work"]}


EVALUATION = EvalTask("Looping", loop_case, metric=("loop_seam_ratio", "seam jump ÷ median frame step", 1.0))


def from_flags(args: argparse.Namespace, cli: CliHelpers) -> list[dict[str, Any]]:
    return [{"type": "loop"}] if args.loop else []


CLI = CliFlags((("--loop", dict(action="store_true", help="make the clip loop seamlessly")),), from_flags)

KIND = Kind("loop", validate, target, window, measure,
            "a seamless loop: the end runs into the start (overlap: the seam, seconds unless unit says)",
            default_unit="seconds", cli=CLI, once=True, seam_s=SEAM_S, yields_to_chain=True,
            keys=("reference", "overlap"), evaluation=EVALUATION, steps=STEPS, lr=LR)
