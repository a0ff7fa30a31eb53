"""Control kinds: one module each (job fields and their validation, target payload, window slice,
measurement, plot, default K and T, evaluation cases), listed in :data:`KINDS`, the one table that the job
language (``jobspec.parse_control``), the targets and the pipeline (``generation/``), the runner, the
measurement (``judges/measure.py``), the plots, the evaluation, the bench's tasks and the docs check read, and
``ditto-live generate``'s control flags (each kind's ``Kind.cli``). Adding a control: its differentiable loss
in ``engine/controls/<kind>.py``, its module here (job fields, payload, target, window slice, measurement,
plot, its ``generate`` flags, its K and T, its evaluation cases), a row in KINDS, and a section in
docs/controls.md; no other file names it (``tests/ditto_live/test_kind_extension.py`` proves it). A kind's
module imports torch and the engine inside its functions, not at the top: the CLI builds every subcommand's
parser from this table, and ``--help`` must not wait for torch (ditto_live/controls/base.py says more).
"""

from __future__ import annotations

from ditto_live.controls import intensity, loop, melody, painting, structure, text
from ditto_live.controls.base import (
    DEFAULT_LR,
    DEFAULT_OVERLAP_S,
    SSM_SIZE,
    CliFlags,
    CliHelpers,
    ClipTarget,
    EvalTask,
    EvalWindow,
    Kind,
    Measuring,
    Payload,
    TargetContext,
    TextAudio,
    WindowSlice,
)

KINDS: dict[str, Kind] = {k.name: k for k in (
    intensity.KIND, melody.KIND, structure.KIND, painting.INPAINT, painting.OUTPAINT, loop.KIND, text.KIND)}
CONTROL_TYPES = tuple(KINDS)
CHAIN = painting.OUTPAINT  # what opening a window with the last one's frames is: its K counts when windows chain

__all__ = ["CHAIN", "CONTROL_TYPES", "DEFAULT_LR", "DEFAULT_OVERLAP_S", "KINDS", "SSM_SIZE", "CliFlags", "CliHelpers", "ClipTarget",
           "EvalTask", "EvalWindow", "Kind", "Measuring", "Payload", "TargetContext", "TextAudio", "WindowSlice"]
