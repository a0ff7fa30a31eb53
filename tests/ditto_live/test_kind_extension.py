"""A new control kind touches its two modules and the KINDS table, nothing else (issue 26).

A toy kind, "level" (the clip's mean normalised mel, held at a target), is written here as its two modules
would be -- the engine's differentiable loss (``engine/controls/<kind>.py``) and its row
(``ditto_live/controls/<kind>.py``) -- and registered in KINDS by monkeypatch; a job, a plan, the targets,
the measurement and the evaluation's cases and report then run through it, reading its K, T, payload and
evaluation from its row. An AST scan proves that no module outside a kind's own two branches on its name.
"""

from __future__ import annotations

import ast
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor

from ditto_live import controls
from ditto_live.controls import (
    KINDS,
    ClipTarget,
    EvalTask,
    EvalWindow,
    Kind,
    Measuring,
    TargetContext,
    WindowSlice,
)
from ditto_live.controls.base import check, repeat_start
from ditto_live.engine.audio import MelFrontEnd
from ditto_live.engine.controls import Control
from ditto_live.generation import jobspec
from ditto_live.generation.jobspec import ControlSpec, JobSpecError, parse_job
from ditto_live.generation.pipeline import plan_job

from .test_jobs import MEL, narrow_bundle, runner

ROOT = Path(__file__).resolve().parents[2]
TOY_STEPS, TOY_DECODE_STEPS = 3, 3  # unlike every real kind's, so the plan can only have them from the row


# --- engine/controls/level.py: the differentiable loss -----------------------------------------------

def level_feature(x0: Tensor) -> Tensor:
    """x0 [B, 1, F, N] -> [B, N] the mean normalised mel per frame."""
    return x0.mean(dim=(1, 2))


def level_control(target: Tensor, weight: float = 1.0) -> Control:
    """target [N] the level per frame -> a Control whose loss is the MSE to it, [B]."""
    return Control("level", lambda x0: (level_feature(x0) - target).pow(2).mean(-1), weight, level_feature, target)


# --- ditto_live/controls/level.py: the kind's row ----------------------------------------------------

@dataclass(frozen=True)
class LevelTarget:
    level: Tensor  # [L] the target level per frame, in the normalised mel's [-1, 1]
    seam = 0

    def wrapped(self, seam: int) -> LevelTarget:
        return LevelTarget(repeat_start(self.level, seam))


def validate(params: dict[str, Any], key: str) -> None:
    value = params.get("level")
    check(isinstance(value, (int, float)) and -1 <= value <= 1, f"{key}.level: expected a number in [-1, 1]")


def target(c: ControlSpec, key: str, ctx: TargetContext) -> ClipTarget:
    level = float(c.params["level"])
    return ClipTarget(c.type, c.weight, LevelTarget(torch.full((ctx.frames,), level)), {"level": level}, c.params)


def window(t: ClipTarget[LevelTarget], w: WindowSlice) -> Control:
    return level_control(t.payload.level[w.start:w.stop].to(w.device), t.weight)


def measure(t: ClipTarget[LevelTarget], m: Measuring) -> dict[str, float]:
    n = m.remel.shape[-1]
    return {"level_error": float((m.remel[0, 0].mean(0) - t.payload.level[:n]).abs().mean())}


def eval_case(w: EvalWindow) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    level = -0.5 + 0.1 * (w.index % 3)
    return [{"type": "level", "level": level}], {"level": level}


KIND = Kind("level", validate, target, window, measure, "a mean mel level",
            example=lambda seconds, reference: {"type": "level", "level": -0.5},
            steps=TOY_STEPS, decode_steps=TOY_DECODE_STEPS, once=True,
            evaluation=EvalTask("Level", eval_case, metric=("level_error", "level error", 1.0)))


# --- the table -----------------------------------------------------------------------------------------

@pytest.fixture
def level_kind(monkeypatch):
    """The toy kind in KINDS, as a row in controls/__init__.py puts it (CONTROL_TYPES, the table's keys, is
    computed once on import: patched where it is bound)."""
    monkeypatch.setitem(KINDS, "level", KIND)
    for module in (controls, jobspec):
        monkeypatch.setattr(module, "CONTROL_TYPES", tuple(KINDS))
    return KIND


def test_a_job_with_the_new_kind_runs_with_its_own_K_and_is_measured_by_it(tmp_path, level_kind):
    spec = parse_job({"model": "narrow", "seconds": 0.7, "seed": 1, "controls": [{"type": "level", "level": -0.5}]})
    result = runner(tmp_path).run(spec)
    result.wait()
    side = json.loads(result.wav_path.with_suffix(".json").read_text())
    assert side["ito"][0]["steps_run"] == TOY_STEPS  # the job named no K: the kind's
    assert set(side["loss"]) == {"level"} and side["loss"]["level"]["after"] < side["loss"]["level"]["before"]
    assert np.isfinite(side["metrics"]["output"]["level_error"])  # its own measure on the delivered audio


def test_the_plan_reads_the_kind_s_T_payload_and_once_from_its_row(tmp_path, level_kind):
    def plan(controls_: list[dict], **job):
        spec = parse_job({"model": "narrow", "seconds": 0.7, "controls": controls_, **job})
        return plan_job(spec, narrow_bundle(), "cpu", [str(tmp_path)], MelFrontEnd(MEL))

    p = plan([{"type": "level", "level": 0.2}])
    assert (p.steps, p.decode_steps) == (TOY_STEPS, TOY_DECODE_STEPS)
    assert isinstance(p.targets[0].payload, LevelTarget) and p.targets[0].payload.level.shape == (p.total,)
    melody = {"type": "melody", "notes": [[60, 0, 1]]}
    mixed = plan([{"type": "level", "level": 0.2}, melody])
    assert (mixed.steps, mixed.decode_steps) == (KINDS["melody"].steps, 1)  # the largest K, smallest T of the kinds
    looped = plan([{"type": "level", "level": 0.2}, {"type": "loop"}])
    assert looped.seam > 0 and looped.targets[0].payload.level.shape == (looped.total,)  # wrapped by its payload
    with pytest.raises(JobSpecError, match="at most one level control"):
        plan([{"type": "level", "level": 0.2}, {"type": "level", "level": 0.3}])


def test_the_evaluation_draws_and_reports_the_new_kind_from_its_row(tmp_path, level_kind):
    from ditto_live.evaluation.cases import load_test_split, make_cases
    from ditto_live.evaluation.report import markdown
    from ditto_live.evaluation.scoring import aggregate
    from ditto_live.evaluation.suites import EvalConfig, SuiteResult, suite_tasks

    from .evaluation.conftest import MEL as EVAL_MEL
    from .evaluation.conftest import write_corpus
    from .evaluation.test_intervals_and_judges import generation

    assert suite_tasks("table1")[-1] == "level"  # after the paper's tasks
    split = load_test_split(write_corpus(tmp_path / "corpus"), "tiny")
    cases = make_cases("level", split, 3, {}, EVAL_MEL.frame_rate, EVAL_MEL.sample_rate, EVAL_MEL.window_seconds,
                       tmp_path / "refs")
    assert [c.target["level"] for c in cases] == pytest.approx([-0.5, -0.4, -0.3])
    assert all(parse_job(c.job).controls[0].type == "level" for c in cases)
    gens = [dataclasses.replace(generation(i, "DITTO-2 (CTM)", {"level_error": 0.1 * (i + 1)}), task="level")
            for i in range(2)]
    rows = aggregate(gens, np.random.default_rng(0).standard_normal((8, 4)), {})
    info = {"machine": {"processor": "x", "cpu_count": 2, "torch_threads": 2, "torch": "2", "device": "cpu"},
            "model": "m", "model_path": "p", "vocoder": "neural", "reference_clips": 8, "wall_s": 1.0,
            "load_avg_1m": [1.0, 1.0]}
    text = markdown(SuiteResult(EvalConfig("table1", "m", "d", str(tmp_path), cases=2), rows, [], gens, [], {}, info))
    assert "### Level" in text and "level error" in text


# --- nothing else names a kind ----------------------------------------------------------------------------

KIND_MODULES = {"ditto_live/controls/intensity.py", "ditto_live/controls/melody.py",
                "ditto_live/controls/structure.py", "ditto_live/controls/painting.py", "ditto_live/controls/loop.py",
                "ditto_live/controls/text.py", "engine/controls/intensity.py", "engine/controls/melody.py",
                "engine/controls/structure.py", "engine/controls/masked.py", "engine/controls/text.py"}
GESTURES = {  # front ends that turn a performer's gesture into one kind's control, by design (DESIGN §8)
    "ditto_live/server/midi_control.py": "held MIDI notes are a melody, a CC is an intensity curve",
    "ditto_live/server/stream.py": "the stream's live knob is a flat intensity",
}
KIND_FIELDS = {"kind", "type", "task"}  # what holds a kind's name: ClipTarget.kind, ControlSpec.type, a task


def _names_a_kind(node: ast.AST) -> bool:
    """``t.kind``, ``c.type``, ``task``, ``c["type"]``, ``c.get("type")``."""
    if isinstance(node, ast.Attribute):
        return node.attr in KIND_FIELDS
    if isinstance(node, ast.Name):
        return node.id in KIND_FIELDS
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value in KIND_FIELDS
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        return bool(node.args) and isinstance(node.args[0], ast.Constant) and node.args[0].value in KIND_FIELDS
    return False


def _kind_literals(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value} & set(KINDS)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return set().union(*(_kind_literals(e) for e in node.elts))
    return set()


def kind_branches(source: str) -> list[tuple[int, set[str]]]:
    """(line, kind names) of every comparison of a kind-holding expression with a kind's name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            names = set().union(*(_kind_literals(o) for o in operands))
            if names and any(_names_a_kind(o) for o in operands):
                found.append((node.lineno, names))
    return found


def test_the_scan_finds_a_branch_on_a_kind_s_name():
    assert kind_branches('seam = next((t.overlap for t in targets if t.kind == "loop"), 0)') == [(1, {"loop"})]
    assert kind_branches('keep = [c for c in cs if c.type not in ("outpaint", "inpaint")]')[0][1] == {
        "outpaint", "inpaint"}
    assert kind_branches('if task == "melody": pass') and kind_branches('x = c.get("type") == "text"')
    assert not kind_branches('if suite == "text": pass') and not kind_branches('if KINDS[t.kind].once: pass')


def test_no_module_outside_a_kind_s_own_two_branches_on_its_name():
    files = sorted([*ROOT.glob("ditto_live/**/*.py"), *ROOT.glob("engine/**/*.py")])
    assert len(files) > 50
    found = {}
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        if rel in KIND_MODULES or rel in GESTURES:
            continue
        if hits := kind_branches(path.read_text()):
            found[rel] = hits
    assert not found, f"branches on a kind's name outside its modules (give its row a field instead): {found}"
