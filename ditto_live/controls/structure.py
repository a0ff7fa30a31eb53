"""The structure control: a musical form ("ABA") as a self-similarity target, followed through the mel's
MFCC self-similarity (across windows, against what came before); judged by chroma-novelty boundaries and by
librosa's MFCC self-similarity."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ditto_live.controls.base import (
    SSM_SIZE,
    CliFlags,
    CliHelpers,
    ClipTarget,
    Kind,
    Measuring,
    TargetContext,
    WindowSlice,
    check,
)
from ditto_live.generation.jobspec import ControlSpec

if TYPE_CHECKING:  # the engine and torch load when a target is built, not on import (controls/base.py)
    from ditto_live.engine.controls import Control


def validate(params: dict[str, Any], key: str) -> None:
    form = params.get("form")
    check(isinstance(form, str) and form.isalpha() and form.isascii() and 1 < len(form) <= 16,
          f"{key}.form: expected letters such as 'ABA'")


def target(c: ControlSpec, key: str, ctx: TargetContext) -> ClipTarget:
    from ditto_live.engine.controls.structure import form_labels

    t = ClipTarget(c.type, c.weight, params=c.params)
    t.labels = form_labels(c.params["form"], ctx.frames)
    t.info = {"form": c.params["form"].upper()}
    return t


def window(t: ClipTarget, w: WindowSlice) -> Control:
    from ditto_live.engine.controls.structure import labels_to_target, structure_control

    if w.so_far is not None and w.start > 0:  # the form spans windows: score this one against what came before
        ssm = labels_to_target(t.labels[:w.stop], SSM_SIZE).to(w.device)
        return structure_control(ssm, w.mel.min_db, w.mel.max_db, t.weight, w.so_far[..., :w.start].to(w.device))
    ssm = labels_to_target(t.labels[w.start:w.stop], SSM_SIZE).to(w.device)
    return structure_control(ssm, w.mel.min_db, w.mel.max_db, weight=t.weight)


def measure(t: ClipTarget, m: Measuring) -> dict[str, float]:
    from ditto_live.engine.controls.structure import labels_to_target
    from ditto_live.judges import independent as judges
    from ditto_live.judges import metrics

    ssm = labels_to_target(t.labels, SSM_SIZE).numpy()
    return {"structure_mse": metrics.structure_mse(m.audio, m.sample_rate, ssm),
            **judges.judge_structure(m.audio, m.sample_rate, t.labels.numpy())}


def plot(ax, t: ClipTarget, m: Measuring) -> bool:
    import numpy as np

    from ditto_live.engine.controls.structure import labels_to_target
    from ditto_live.judges import metrics

    target_ssm = labels_to_target(t.labels, SSM_SIZE).numpy()
    achieved = metrics.mfcc_self_similarity(m.audio, m.sample_rate, size=SSM_SIZE)
    ax.imshow(np.concatenate([target_ssm, np.full((SSM_SIZE, 2), np.nan), achieved], 1), cmap="viridis",
              vmin=-1, vmax=1, aspect="auto")
    ax.set(title="structure: target | achieved (librosa MFCC self-similarity)", xticks=[], yticks=[])
    return False


def example(seconds: float, reference: str) -> dict[str, Any]:
    return {"type": "structure", "form": "ABA"}


def from_flags(args: argparse.Namespace, cli: CliHelpers) -> list[dict[str, Any]]:
    return [{"type": "structure", "form": args.structure}] if args.structure else []


CLI = CliFlags((("--structure", dict(metavar="FORM", help="musical form such as ABA or AABA")),), from_flags)

KIND = Kind("structure", validate, target, window, measure, "a musical form: form such as ABA or AABA",
            plot=plot, example=example, cli=CLI)
