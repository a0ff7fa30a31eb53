"""The control registry (ditto_live/controls/) is the one table: the job language, the bench, the CLI flags
and the docs all cover exactly its kinds, each kind validates its own keys naming them, and a kind's
``generate`` flags come from its row (a new row needs no edit of generate.py)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from ditto_live.bench import stages as bench
from ditto_live.commands import generate
from ditto_live.config import Config
from ditto_live.controls import KINDS, CliFlags, Kind
from ditto_live.errors import UsageError
from ditto_live.generation.jobspec import CONTROL_TYPES, JobSpecError, parse_job

DOCS = Path(__file__).resolve().parents[2] / "docs" / "controls.md"


def test_the_job_language_takes_exactly_the_registered_kinds():
    assert CONTROL_TYPES == tuple(KINDS)
    # K and lr as chosen on val for real time (issue 27, docs/bench.md, the paintings from their pasted sketch);
    # T 1 for melody and intensity (issue 33)
    defaults = {k: (kind.steps, kind.lr, kind.decode_steps) for k, kind in KINDS.items()}
    assert defaults == {"intensity": (20, 1e-2, 1), "melody": (20, 1e-2, 1), "structure": (20, 2e-2, 2),
                        "inpaint": (20, 1e-2, 2), "outpaint": (20, 1e-2, 2), "loop": (20, 1e-2, 2),
                        "text": (70, 5e-3, 2)}
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


def test_every_kind_has_a_row_in_the_docs():
    docs = DOCS.read_text()
    for name in KINDS:
        assert f"\n| {name} |" in docs, f"docs/controls.md has no row for {name}"


def _generate_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    generate.add_arguments(parser)
    args = parser.parse_args(argv)
    args.cfg = Config()
    return args


def test_every_kind_declares_its_generate_flags_and_each_flag_has_one_home():
    flags = [flag for kind in KINDS.values() for flag, _ in kind.cli.flags]
    assert all(kind.cli is not None for kind in KINDS.values())
    assert len(flags) == len(set(flags))
    parser = argparse.ArgumentParser()
    generate.add_arguments(parser)  # a flag both a kind and generate.py add would be an argparse conflict
    assert set(flags) <= {opt for action in parser._actions for opt in action.option_strings}


def test_a_kind_added_to_the_table_gets_its_flag_and_its_control_without_touching_generate(monkeypatch):
    tempo = Kind("tempo", lambda params, key: None, None, None, lambda t, m: {}, "a tempo curve",
                 cli=CliFlags((("--tempo", dict(type=float, help="beats per minute to drift to")),),
                              lambda args, cli: [{"type": "tempo", "bpm": args.tempo}] if args.tempo else []))
    monkeypatch.setitem(KINDS, "tempo", tempo)
    job = generate.job_from_args(_generate_args(["--intensity", "swell", "--loop", "--tempo", "90",
                                                 "--weight", "tempo=2"]))
    assert job["controls"] == [{"type": "intensity", "shape": "swell"}, {"type": "loop"},
                               {"type": "tempo", "bpm": 90.0, "weight": 2.0}]
    assert generate.job_from_args(_generate_args([]))["controls"] == []


def test_the_generate_flags_make_the_controls_in_the_tables_order(tmp_path):
    args = _generate_args(["--text", "a harp", "--loop", "--outpaint", "b.wav", "--inpaint", "a.wav",
                           "--region", "1:2", "--structure", "ABA", "--notes", "[[60, 0, 1]]", "--melody", "m.mid",
                           "--intensity-points", "[[0, -30]]", "--unit", "seconds", "--no-register"])
    types = [c["type"] for c in generate.job_from_args(args)["controls"]]
    assert types == ["intensity", "melody", "melody", "structure", "inpaint", "outpaint", "loop", "text"]
    melody = generate.job_from_args(args)["controls"][1:3]
    assert "midi" in melody[0] and melody[1]["notes"] == [[60, 0, 1]]
    assert all(m["register"] is False for m in melody)


@pytest.mark.parametrize(("argv", "message"), [
    (["--inpaint", "a.wav"], "--inpaint needs --region START:END (seconds)"),
    (["--inpaint", "a.wav", "--region", "1:x"], "--region '1:x': expected START:END in seconds"),
    (["--region", "1:2"], "--region is for --inpaint"),
    (["--notes", "[[60, 0"], "--notes: expected JSON or a JSON file"),
])
def test_a_kind_s_flags_fail_as_one_usage_error(argv, message):
    with pytest.raises(UsageError) as err:
        generate.job_from_args(_generate_args(argv))
    assert str(err.value).startswith(message)


def test_the_cli_and_the_control_table_import_no_torch():
    """Every subcommand's --help builds the generate parser from KINDS: it must not wait for torch. Of the
    engine it reads only the torch-free table of backend names (the --backend choices)."""
    code = ("import sys, ditto_live.cli as c, ditto_live.controls; c.build_parser(); "
            "print(sorted(m for m in sys.modules if m in ('torch', 'numpy') or m.startswith('ditto_live.engine')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['ditto_live.engine', 'ditto_live.engine.backend_names']"
