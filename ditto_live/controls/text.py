"""The text control: a caption, followed through the text-audio model's embedding (the bundle's own, or
LAION-CLAP when a user has its checkpoint); measured as the cosine of the audio's embedding to the caption's."""

from __future__ import annotations

from typing import Any

import torch

from ditto_live.controls.base import ClipTarget, Kind, Measuring, TargetContext, WindowSlice, check
from ditto_live.engine.controls import Control
from ditto_live.engine.controls.text import text_control
from ditto_live.jobspec import ControlSpec, JobSpecError


def validate(params: dict[str, Any], key: str) -> None:
    check(isinstance(params.get("caption"), str) and params["caption"].strip() != "",
          f"{key}.caption: expected a non-empty string")


def target(c: ControlSpec, key: str, ctx: TargetContext) -> ClipTarget:
    t = ClipTarget(c.type, c.weight, caption=c.params["caption"], params=c.params)
    t.info = {"caption": t.caption}
    return t


def window(t: ClipTarget, w: WindowSlice) -> Control:
    if w.text_model is None:
        raise JobSpecError("the text control needs a text-audio model; this model bundle has none")
    return text_control(w.text_model, t.caption, t.weight)


def measure(t: ClipTarget, m: Measuring) -> dict[str, float]:
    if m.text_model is None:
        return {}
    with torch.no_grad():
        emb = m.text_model.encode_audio(m.remel.to(next(m.text_model.clap.parameters()).device))
        txt = m.text_model.encode_text([t.caption])
    return {"text_cosine": float(torch.nn.functional.cosine_similarity(emb, txt).item())}


KIND = Kind("text", validate, target, window, measure, "a caption, through the text-audio model")
