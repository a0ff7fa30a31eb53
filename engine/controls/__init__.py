"""Differentiable controls: a feature f(x0) on the normalised mel, a target builder, a loss.

Each loss maps x0 ``[B, 1, F, N]`` to ``[B]``; :func:`combined_loss` sums them with weights. A kind's
defaults (K, T) and its job fields live with its row in ``ditto_live/controls/`` (the engine knows no kinds
by name; the caller passes K and T in).
"""

from ditto_live.engine.controls.combine import (
    Control,
    Sketch,
    combined_loss,
    loss_function,
    sketch_of,
    unique_names,
)
from ditto_live.engine.controls.intensity import intensity_control, intensity_from_points, intensity_shape
from ditto_live.engine.controls.masked import inpaint_target, loop_control, masked_control, outpaint_target
from ditto_live.engine.controls.melody import melody_control, melody_target
from ditto_live.engine.controls.structure import form_target, structure_control
from ditto_live.engine.controls.text import text_control

__all__ = [
    "Control", "Sketch", "combined_loss", "form_target", "inpaint_target", "intensity_control",
    "intensity_from_points", "intensity_shape", "loop_control", "loss_function", "masked_control",
    "melody_control", "melody_target", "outpaint_target", "sketch_of", "structure_control", "text_control",
    "unique_names",
]
