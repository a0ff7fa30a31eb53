"""The structure control: a musical form ("ABA") as a self-similarity target, followed through the mel's
MFCC self-similarity (across windows, against what came before); judged by chroma-novelty boundaries and by
librosa's MFCC self-similarity."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ditto_live.controls.base import (
    SSM_SIZE,
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
    repeat_start,
)
from ditto_live.generation.spec import ControlSpec

if TYPE_CHECKING:  # the engine and torch load when a target is built, not on import (controls/base.py)
    from matplotlib.axes import Axes
    from torch import Tensor

    from ditto_live.engine.controls import Control

EVAL_FORMS = ("ABA", "AABA", "ABAB")  # the musical forms of the evaluation protocol


@dataclass(frozen=True)
class StructureTarget:
    """The structure control's target: a section per frame over the clip."""

    labels: Tensor  # [L] section index per frame
    seam = 0  # generates nothing past the clip's end

    def wrapped(self, seam: int) -> StructureTarget:
        return StructureTarget(repeat_start(self.labels, seam))


def validate(params: dict[str, Any], key: str) -> None:
    form = params.get("form")
    check(isinstance(form, str) and form.isalpha() and form.isascii() and 1 < len(form) <= 16,
          f"{key}.form: expected letters such as 'ABA'")


def target(c: ControlSpec, key: str, ctx: TargetContext) -> ClipTarget[StructureTarget]:
    from ditto_live.engine.controls.structure import form_labels

    labels = form_labels(c.params["form"], ctx.frames)
    return ClipTarget(c.type, c.weight, StructureTarget(labels), {"form": c.params["form"].upper()}, c.params)


def window(t: ClipTarget[StructureTarget], w: WindowSlice) -> Control:
    from ditto_live.engine.controls.structure import labels_to_target, structure_control

    if w.so_far is not None and w.start > 0:  # the form spans windows: score this one against what came before
        ssm = labels_to_target(t.payload.labels[:w.stop], SSM_SIZE).to(w.device)
        return structure_control(ssm, w.mel.min_db, w.mel.max_db, t.weight, w.so_far[..., :w.start].to(w.device))
    ssm = labels_to_target(t.payload.labels[w.start:w.stop], SSM_SIZE).to(w.device)
    return structure_control(ssm, w.mel.min_db, w.mel.max_db, weight=t.weight)


def measure(t: ClipTarget[StructureTarget], m: Measuring) -> dict[str, float]:
    from ditto_live.engine.controls.structure import labels_to_target
    from ditto_live.judges import independent as judges
    from ditto_live.judges import metrics

    ssm = labels_to_target(t.payload.labels, SSM_SIZE).numpy()
    return {"structure_mse": metrics.structure_mse(m.audio, m.sample_rate, ssm),
            **judges.judge_structure(m.audio, m.sample_rate, t.payload.labels.numpy())}


def plot(ax: Axes, t: ClipTarget[StructureTarget], m: Measuring) -> bool:
    import numpy as np

    from ditto_live.engine.controls.structure import labels_to_target
    from ditto_live.judges import metrics

    target_ssm = labels_to_target(t.payload.labels, SSM_SIZE).numpy()
    achieved = metrics.mfcc_self_similarity(m.audio, m.sample_rate, size=SSM_SIZE)
    ax.imshow(np.concatenate([target_ssm, np.full((SSM_SIZE, 2), np.nan), achieved], 1), cmap="viridis",
              vmin=-1, vmax=1, aspect="auto")
    ax.set(title="structure: target | achieved (librosa MFCC self-similarity)", xticks=[], yticks=[])
    return False


def example(seconds: float, reference: str) -> dict[str, Any]:
    return {"type": "structure", "form": "ABA"}


def eval_case(w: EvalWindow) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The protocol's forms in turn."""
    form = EVAL_FORMS[w.index % len(EVAL_FORMS)]
    return [{"type": "structure", "form": form}], {"form": form}


EVALUATION = EvalTask("Musical Structure", eval_case, metric=("structure_mse", "MSE", 1.0),
                      judges=(("structure_boundary_f", "novelty boundary F", 1.0),))


def from_flags(args: argparse.Namespace, cli: CliHelpers) -> list[dict[str, Any]]:
    return [{"type": "structure", "form": args.structure}] if args.structure else []


CLI = CliFlags((("--structure", dict(metavar="FORM", help="musical form such as ABA or AABA")),), from_flags)

KIND = Kind("structure", validate, target, window, measure, "a musical form: form such as ABA or AABA",
            plot=plot, example=example, cli=CLI, steps=20, lr=2e-2, decode_steps=2, evaluation=EVALUATION, keys=("form",))
