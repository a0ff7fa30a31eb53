"""Control kinds: one module each (job fields and their validation, target, window slice, measurement,
plot), listed in :data:`KINDS`, the one table that the job language (``jobspec.parse_control``), the
targets (``targets.py``), the measurement (``measure.py``), the plots, the bench's tasks and the docs
check read, and ``ditto-live generate``'s control flags (each kind's ``Kind.cli``). Adding a control: its
differentiable loss in ``engine/controls/``, its module here (job fields, target, window slice, measurement,
plot, and its ``generate`` flags with how they become its job controls), a row in KINDS, its default K in
``engine.controls.DEFAULT_STEPS``, and a section in docs/controls.md. A kind's module imports torch and the
engine inside its functions, not at the top: the CLI builds every subcommand's parser from this table, and
``--help`` must not wait for torch (ditto_live/controls/base.py says more).
"""

from __future__ import annotations

from ditto_live.controls import intensity, loop, melody, painting, structure, text
from ditto_live.controls.base import (
    DEFAULT_OVERLAP_S,
    SSM_SIZE,
    CliFlags,
    CliHelpers,
    ClipTarget,
    Kind,
    Measuring,
    TargetContext,
    WindowSlice,
)

KINDS: dict[str, Kind] = {k.name: k for k in (
    intensity.KIND, melody.KIND, structure.KIND, painting.INPAINT, painting.OUTPAINT, loop.KIND, text.KIND)}
CONTROL_TYPES = tuple(KINDS)

__all__ = ["CONTROL_TYPES", "DEFAULT_OVERLAP_S", "KINDS", "SSM_SIZE", "CliFlags", "CliHelpers", "ClipTarget",
           "Kind", "Measuring", "TargetContext", "WindowSlice"]
