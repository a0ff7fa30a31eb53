"""The text control: a caption, followed through the text-audio model's embedding (the bundle's own, or
LAION-CLAP when a user has its checkpoint); measured as the cosine of the audio's embedding to the caption's."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ditto_live.controls.base import (
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
)
from ditto_live.generation.spec import ControlSpec, JobSpecError

if TYPE_CHECKING:  # the engine and torch load when a target is built, not on import (controls/base.py)
    from ditto_live.engine.controls import Control


@dataclass(frozen=True)
class TextTarget:
    """The text control's target: a caption (no time axis)."""

    caption: str  # what the clip should sound like
    seam = 0  # generates nothing past the clip's end

    def wrapped(self, seam: int) -> TextTarget:
        return self


def validate(params: dict[str, Any], key: str) -> None:
    check(isinstance(params.get("caption"), str) and params["caption"].strip() != "",
          f"{key}.caption: expected a non-empty string")


def target(c: ControlSpec, key: str, ctx: TargetContext) -> ClipTarget[TextTarget]:
    caption = c.params["caption"]
    return ClipTarget(c.type, c.weight, TextTarget(caption), {"caption": caption}, c.params)


def window(t: ClipTarget[TextTarget], w: WindowSlice) -> Control:
    from ditto_live.engine.controls.text import text_control

    if w.text_model is None:
        raise JobSpecError("the text control needs a text-audio model; this model bundle has none")
    return text_control(w.text_model, t.payload.caption, t.weight)


def measure(t: ClipTarget[TextTarget], m: Measuring) -> dict[str, float]:
    import torch

    if m.text_model is None:
        return {}
    with torch.no_grad():
        emb = m.text_model.encode_audio(m.remel.to(m.text_model.device))
        txt = m.text_model.encode_text([t.payload.caption])
    return {"text_cosine": float(torch.nn.functional.cosine_similarity(emb, txt).item())}


def eval_case(w: EvalWindow) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The held-out window's own caption."""
    return [{"type": "text", "caption": w.meta["caption"]}], {}


def from_flags(args: argparse.Namespace, cli: CliHelpers) -> list[dict[str, Any]]:
    return [{"type": "text", "caption": args.text}] if args.text else []


CLI = CliFlags((("--text", dict(metavar="CAPTION", help="text control through the bundle's text-audio model")),),
               from_flags)

KIND = Kind("text", validate, target, window, measure, "a caption, through the text-audio model", cli=CLI,
            text_model=True, evaluation=EvalTask("Text", eval_case, suite="text"), keys=("caption",))
