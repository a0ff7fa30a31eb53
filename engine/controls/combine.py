"""A control is a named, weighted loss on the clean mel; several combine as a weighted sum.

Every loss maps x0 ``[B, 1, F, N]`` to one value per batch row ``[B]``, so a batch of seeds is
optimised together and the best seed can be picked afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

LossFn = Callable[[Tensor], Tensor]  # x0 [B, 1, F, N] -> loss [B]
FeatureFn = Callable[[Tensor], Tensor]  # x0 [B, 1, F, N] -> feature (for plots and metrics)
SketchFn = Callable[[Tensor], Tensor]  # x0 [1, 1, F, N] the unoptimised output -> a mel [1, 1, F, N] near the target


@dataclass(frozen=True)
class Sketch:
    """Where DITTO-2 may start for a control (issue 27): a move of the model's own output towards what meets it,
    and how much of the start's variance the move's inversion holds beside the job's noise."""

    move: SketchFn  # x0 [1, 1, F, N] the unoptimised output -> a mel [1, 1, F, N] near the target
    share: float  # of the start's variance, in (0, 1] (each kind's, chosen on val)


@dataclass(frozen=True)
class Control:
    """One differentiable control: its loss, and (optionally) what to plot for it."""

    name: str  # unique name in a combination ("intensity", "melody", ...)
    loss: LossFn  # x0 -> [B]; lower is better
    weight: float = 1.0  # weight of this loss in the sum
    feature: FeatureFn | None = None  # x0 -> per-frame feature [B, ...] (curve, chroma, matrix), for plots
    target: Tensor | None = None  # the target the feature is compared with, for plots
    sketch: Sketch | None = None  # where DITTO-2 may start: the output moved towards the control


def unique_names(controls: Sequence[Control]) -> list[str]:
    """Control names, with ``_2``, ``_3``... appended where a name repeats."""
    seen: dict[str, int] = {}
    out = []
    for c in controls:
        seen[c.name] = seen.get(c.name, 0) + 1
        out.append(c.name if seen[c.name] == 1 else f"{c.name}_{seen[c.name]}")
    return out


def combined_loss(controls: Sequence[Control], x0: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """Weighted sum of the controls' losses. x0: [B, 1, F, N] -> (total [B], {name: [B]})."""
    if not controls:
        raise ValueError("combined_loss needs at least one control")
    parts: dict[str, Tensor] = {}
    total = torch.zeros(x0.shape[0], device=x0.device, dtype=torch.float32)
    for name, c in zip(unique_names(controls), controls):
        value = c.loss(x0).float()
        parts[name] = value
        total = total + c.weight * value
    return total, parts


def sketch_of(controls: Sequence[Control], x0: Tensor) -> tuple[Tensor, float] | None:
    """The controls' sketches applied in turn to the unoptimised output x0 [1, 1, F, N] (a melody's notes, then
    an intensity's gain, ...): a mel near what meets them all, and the smallest of their shares (the most
    cautious control's); None when no control has one."""
    sketches = [c.sketch for c in controls if c.sketch is not None]
    if not sketches:
        return None
    for sketch in sketches:
        x0 = sketch.move(x0)
    return x0, min(s.share for s in sketches)


def loss_function(controls: Sequence[Control]) -> Callable[[Tensor], tuple[Tensor, dict[str, Tensor]]]:
    """The callable ITO takes: x0 -> (total [B], per-control [B])."""
    controls = list(controls)
    return lambda x0: combined_loss(controls, x0)
