"""Differentiable controls: a feature f(x0) on the normalised mel, a target builder, a loss.

Each loss maps x0 ``[B, 1, F, N]`` to ``[B]``; :func:`combined_loss` sums them with weights.
"""

from ditto_live.engine.controls.combine import Control, combined_loss, loss_function, unique_names
from ditto_live.engine.controls.intensity import intensity_control, intensity_from_points, intensity_shape
from ditto_live.engine.controls.masked import inpaint_target, loop_control, masked_control, outpaint_target
from ditto_live.engine.controls.melody import melody_control, melody_target
from ditto_live.engine.controls.structure import form_target, structure_control
from ditto_live.engine.controls.text import text_control

DEFAULT_STEPS = {  # K per control (DESIGN §4): the largest among a job's controls is used
    "intensity": 70, "inpaint": 70, "outpaint": 70, "loop": 70, "text": 70, "melody": 150, "structure": 150,
}
DEFAULT_DECODE_STEPS = {  # T per control: the smallest among a job's controls is used. Melody decodes the
    # one-step output it was optimised through (T = 1: +7 points pYIN raw chroma over T = 2, docs/results.md);
    # intensity's mel error is lowest at T = 2 (Figure 5), and the other controls keep it
    "intensity": 2, "inpaint": 2, "outpaint": 2, "loop": 2, "text": 2, "melody": 1, "structure": 2,
}

__all__ = [
    "DEFAULT_DECODE_STEPS", "DEFAULT_STEPS", "Control", "combined_loss", "form_target", "inpaint_target", "intensity_control",
    "intensity_from_points", "intensity_shape", "loop_control", "loss_function", "masked_control",
    "melody_control", "melody_target", "outpaint_target", "structure_control", "text_control", "unique_names",
]
