"""The control registry (ditto_live/controls/) is the one table: the job language, the bench, the CLI flags
and the docs all cover exactly its kinds, and each kind validates its own keys naming them."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ditto_live import bench
from ditto_live.commands import generate
from ditto_live.controls import KINDS
from ditto_live.engine.controls import DEFAULT_STEPS
from ditto_live.jobspec import CONTROL_TYPES, JobSpecError, parse_job

DOCS = Path(__file__).resolve().parents[2] / "docs" / "controls.md"


def test_the_job_language_takes_exactly_the_registered_kinds():
    assert CONTROL_TYPES == tuple(KINDS)
    assert set(DEFAULT_STEPS) == set(KINDS) and all(KINDS[k].steps == DEFAULT_STEPS[k] for k in KINDS)
    with pytest.raises(JobSpecError, match="controls\\[0\\].type"):
        parse_job({"controls": [{"type": "tempo"}]})


@pytest.mark.parametrize(("control", "key"), [
    ({"type": "intensity"}, "controls[0]: intensity needs"),
    ({"type": "intensity", "shape": "boom"}, "controls[0].shape"),
    ({"type": "melody", "notes": [[60, 0, 0]]}, "controls[0].notes[0]"),
    ({"type": "melody", "notes": [[60, 0, 1]], "register": "yes"}, "controls[0].register"),
    ({"type": "structure", "form": "A"}, "controls[0].form"),
    ({"type": "inpaint"}, "controls[0].reference"),
    ({"type": "outpaint", "reference": 3}, "controls[0].reference"),
    ({"type": "text", "caption": " "}, "controls[0].caption"),
])
def test_each_kind_validates_its_own_keys_and_names_the_bad_one(control, key):
    with pytest.raises(JobSpecError) as err:
        parse_job({"controls": [control]})
    assert str(err.value).startswith(key)


def test_the_bench_times_every_kind_with_an_example_and_the_example_is_a_valid_job():
    assert set(bench.TASKS) == {k for k, kind in KINDS.items() if kind.example is not None}
    for task in bench.TASKS:
        (control,) = parse_job(bench.task_job(task, 5.94, "/tmp/ref.wav")).controls
        assert control.type == task


def test_every_kind_has_a_generate_flag_and_a_row_in_the_docs():
    parser = argparse.ArgumentParser()
    generate.add_arguments(parser)
    flags = {opt for action in parser._actions for opt in action.option_strings}
    docs = DOCS.read_text()
    for name in KINDS:
        assert f"--{name}" in flags or name == "melody" and "--notes" in flags, name
        assert f"\n| {name} |" in docs, f"docs/controls.md has no row for {name}"
