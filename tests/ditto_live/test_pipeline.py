"""The one pipeline (ditto_live/generation/pipeline.py): both methods really optimise, the backend the product chooses,
its fallback, the window chain in memory, and the whole pipeline on the tiny untrained model."""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from ditto_live.commands import generate as generate_command
from ditto_live.engine import backends
from ditto_live.engine.audio import MelFrontEnd
from ditto_live.engine.backends import EagerStepper
from ditto_live.errors import UsageError
from ditto_live.generation import jobspec, methods, pipeline
from ditto_live.generation.jobspec import JobSpecError, parse_job
from ditto_live.generation.pipeline import Backends, Engine, generate, plan_job, resolve_backend, window_noise

from .test_jobs import MEL, narrow_bundle

INTENSITY = [{"type": "intensity", "shape": "crescendo"}]


def _plan(tmp_path, bundle=None, **job):
    spec = parse_job({"model": "narrow", "seconds": 0.7, "controls": INTENSITY, **job})
    return plan_job(spec, bundle or narrow_bundle(), "cpu", [str(tmp_path)], MelFrontEnd(MEL))


@pytest.mark.parametrize("method", ["ditto", "ditto2"])
def test_each_method_moves_x_T_and_lowers_its_objective(method, tmp_path):
    """A learning rate of 0 (or any optimisation that does not run) fails here, for DITTO as for DITTO-2."""
    plan = _plan(tmp_path, method=method, steps=2, lr=0.05)
    engine = Engine("cpu")
    gen = generate(plan, engine)
    (window,) = gen.windows
    assert window["steps_run"] == 2
    x_T, _ = window_noise(plan.spec.seed, 0, 1, plan.mel, "cpu")
    (x_star,) = engine.last_x.values()
    assert (x_star - x_T).abs().max() > 1e-3  # x_T moved
    assert window["surrogate_loss_after"]["intensity"] < window["surrogate_loss_before"]["intensity"]
    assert gen.unoptimised is not None and not torch.equal(gen.mel, gen.unoptimised)


def test_the_methods_table_is_the_one_place_that_tells_them_apart(tmp_path):
    assert set(pipeline.METHODS) == {"ditto", "ditto2"}
    assert pipeline.METHODS is methods.METHODS and jobspec.METHODS is methods.METHODS  # one home, read
    ditto = _plan(tmp_path, method="ditto")
    assert ditto.model is ditto.bundle.base
    ditto2 = _plan(tmp_path, method="ditto2", student="cm")
    assert ditto2.model is ditto2.bundle.cm


def test_auto_is_the_cuda_graph_on_cuda_and_eager_on_a_cpu():
    assert resolve_backend("auto", "cuda:0") == "cudagraph"
    assert resolve_backend("auto", "cpu") == "eager"
    assert resolve_backend("exported", "cpu") == "exported"
    with pytest.raises(UsageError, match="cudagraph.*needs a CUDA device"):
        resolve_backend("cudagraph", "cpu")
    with pytest.raises(UsageError, match="choose from"):
        resolve_backend("fastest", "cpu")


def test_the_cli_backend_choices_are_the_one_table():
    import argparse

    from ditto_live.cli import build_parser
    from ditto_live.engine.backend_names import BACKEND_CHOICES

    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for command in ("generate", "serve"):
        backend = next(a for a in subparsers.choices[command]._actions if "--backend" in a.option_strings)
        assert tuple(backend.choices) == BACKEND_CHOICES


def test_the_exported_backend_is_checked_once_per_shape_and_then_reused(tmp_path):
    engine, bundle = Engine("cpu", backends=Backends("exported", "cpu")), narrow_bundle()  # one model, as served
    first = generate(_plan(tmp_path, bundle, steps=2), engine).windows[0]
    swell = [{"type": "intensity", "shape": "swell"}]
    second = generate(_plan(tmp_path, bundle, steps=2, seed=1, controls=swell), engine).windows[0]
    assert first["backend"] == second["backend"] == "exported" and first["backend_fallback"] is None
    assert first["parity_checked"] and not second["parity_checked"]  # the check runs for the first job only
    # another job's targets are the graph's inputs: the second job traces nothing (issue 27.4)
    assert not first["graph_reused"] and second["graph_reused"]
    assert first["decoder_prepare_s"] > 0 and second["decoder_prepare_s"] == 0  # the decoder is kept
    assert second["steps_run"] == 2


def test_a_refused_backend_falls_back_to_eager_and_says_why(tmp_path, monkeypatch):
    wrong = lambda x: ((x**2).mean(dim=(1, 2, 3)), {})  # noqa: E731 - not the job's objective
    monkeypatch.setattr(backends, "make_stepper", lambda name, obj, x_T, lr, *a, **k: EagerStepper(wrong, x_T, lr))
    engine = Engine("cpu", backends=Backends("exported", "cpu"))
    window = generate(_plan(tmp_path, steps=2), engine).windows[0]
    assert window["backend"] == "eager" and "disagrees with eager" in window["backend_fallback"]
    assert window["steps_run"] == 2
    again = generate(_plan(tmp_path, steps=2), engine).windows[0]  # refused once: eager from then on
    assert again["backend"] == "eager" and "disagrees" in again["backend_fallback"]


def test_a_stream_window_opens_with_the_frames_it_is_given(tmp_path):
    plan = _plan(tmp_path, steps=4, lr=0.2, decode_steps=1, controls=[])
    opening = torch.full((1, MEL.n_mels, 16), 0.5)
    gen = generate(plan, Engine("cpu"), previous=opening)
    (window,) = gen.windows
    assert set(window["surrogate_loss_after"]) == {"continuation"}
    assert window["surrogate_loss_after"]["continuation"] < window["surrogate_loss_before"]["continuation"]
    assert gen.tail(16).shape == (1, MEL.n_mels, 16)


def test_the_tiny_untrained_model_runs_the_whole_pipeline(tmp_path):
    """Every stage on the real tiny preset (80 x 512 mels, the shipped default's shapes): targets, ITO, decode,
    vocode (Griffin-Lim), write, measure."""
    from ditto_live.runner.jobs import JobRunner

    runner = JobRunner(output_dir=str(tmp_path), allowed_roots=[str(tmp_path)], device="cpu", measure_baseline=True)
    result = runner.run(parse_job({"model": "tiny-untrained", "steps": 2, "controls": INTENSITY}))
    summary = result.wait()
    assert summary["frames"] == 512 and summary["ito"][0]["steps_run"] == 2 and summary["measurement"] == "done"
    assert set(summary["metrics"]) == {"output", "unoptimised"} and result.wav_path.stat().st_size > 100_000


MELODY = {"type": "melody", "notes": [[60, 0, 0.5]], "unit": "seconds"}
STRUCTURE = {"type": "structure", "form": "AB"}


@pytest.mark.parametrize(("controls", "asked", "runs"), [
    ([MELODY], 0, 1),  # a melody decodes the one-step output it was optimised through
    (INTENSITY, 0, 1),  # so does an intensity curve (issue 33)
    ([STRUCTURE], 0, 2),
    ([MELODY, STRUCTURE], 0, 1),  # the smallest of the job's controls'
    ([], 0, pipeline.UNCONTROLLED_DECODE_STEPS),
    ([MELODY], 3, 3),  # a job's own T wins
])
def test_decode_steps_default_to_the_smallest_of_the_controls_and_reach_the_decoder(tmp_path, monkeypatch,
                                                                                     controls, asked, runs):
    seen = []

    def spy(model, x_T, cond, steps, *args, **kwargs):
        seen.append(steps)
        return x_T

    monkeypatch.setattr("ditto_live.engine.ito.ditto2_decode", spy)  # what methods.METHODS decodes with
    plan = _plan(tmp_path, controls=controls, decode_steps=asked, steps=1)
    assert plan.decode_steps == pipeline.decode_steps_of(plan.spec) == runs
    generate(plan, Engine("cpu"))
    assert seen and set(seen) == {runs}  # the optimised and the unoptimised output alike


@pytest.mark.parametrize(("controls", "asked"), [
    ([MELODY], 0.0),
    ([STRUCTURE], 0.0),
    ([MELODY, STRUCTURE], 0.0),  # the smallest of the job's controls': the most cautious
    ([STRUCTURE], 0.05),  # a job's own lr wins
])
def test_the_learning_rate_defaults_to_the_smallest_of_the_controls_and_reaches_the_optimiser(
        tmp_path, monkeypatch, controls, asked):
    from ditto_live.controls import KINDS

    seen = []

    def spy(model, x_T, cond, loss_fn, steps, lr, *args, **kwargs):
        seen.append(lr)
        raise RuntimeError("stop after the call")

    monkeypatch.setattr("ditto_live.engine.ito.ditto2_optimise", spy)  # what methods.METHODS optimises with
    plan = _plan(tmp_path, controls=controls, lr=asked, steps=1)
    expected = asked or min(KINDS[c["type"]].lr for c in controls)
    assert plan.lr == expected
    with pytest.raises(RuntimeError, match="stop after the call"):
        generate(plan, Engine("cpu"))
    assert seen == [expected]


@pytest.mark.parametrize("register", [True, False])
def test_a_melody_in_its_register_also_reads_the_spectrum_the_plan_s_vocoder_will_render(tmp_path, register):
    from ditto_live.engine.vocoder import Vocoder, VocoderConfig
    from ditto_live.generation.targets import window_controls

    plan = _plan(tmp_path, controls=[{**MELODY, "register": register}])
    assert plan.vocoder is None  # the narrow bundle vocodes by Griffin-Lim: no spectrum to read
    torch.manual_seed(0)
    plan.bundle.vocoder = Vocoder(VocoderConfig(n_mels=MEL.n_mels)).eval().requires_grad_(False)
    assert plan.vocoder is plan.bundle.vocoder
    x0 = torch.rand(1, 1, MEL.n_mels, plan.total) * 2 - 1
    (without,) = window_controls(plan.targets, MEL, 0, plan.total)
    (with_vocoder,) = window_controls(plan.targets, MEL, 0, plan.total, vocoder=plan.vocoder)
    differs = not torch.allclose(without.loss(x0), with_vocoder.loss(x0))
    assert differs == register  # octave-free chroma ("register": false) has no written pitch to hear


def test_the_job_language_the_cli_and_the_bench_read_their_method_names_from_the_one_table(monkeypatch):
    row = dataclasses.replace(methods.METHODS["ditto2"], name="ditto3")
    monkeypatch.setitem(methods.METHODS, "ditto3", row)  # a third method: only the table changes
    assert parse_job({"method": "ditto3"}).method == "ditto3"
    with pytest.raises(JobSpecError, match="ditto3"):  # the error lists the table's names
        parse_job({"method": "nope"})
    assert {"ditto3-ctm", "ditto3-cm", "ditto"} <= set(methods.bench_names())
    assert methods.split_bench_name("ditto3-cm") == ("ditto3", "cm") and methods.split_bench_name("ditto") == (
        "ditto", None)
    parser = argparse.ArgumentParser()
    generate_command.add_arguments(parser)
    assert parser.parse_args(["--method", "ditto3"]).method == "ditto3"


def test_the_methods_table_imports_no_torch():
    code = "import sys, ditto_live.generation.methods, ditto_live.generation.jobspec; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(("method", "controls", "moved"), [
    ("ditto2", [MELODY], True),  # a melody brings its sketch: DITTO-2 starts near the notes
    ("ditto2", INTENSITY, True),  # an intensity's sketch: the output gained to the curve
    ("ditto2", [STRUCTURE], False),  # a form has none (laying the output out as the form did not help on val)
    ("ditto", [MELODY], False),  # the DITTO baseline keeps the paper's plain noise
    ("ditto2", [{"type": "inpaint", "start": 0.1, "end": 0.4, "reference": "ref.wav"}], True),  # pasted in
])
def test_ditto2_starts_from_a_controls_sketch_and_nothing_else_does(tmp_path, method, controls, moved):
    sf.write(tmp_path / "ref.wav", 0.3 * np.sin(np.arange(MEL.sample_rate) * 0.05), MEL.sample_rate)
    controls = [{**c, "reference": str(tmp_path / c["reference"])} if "reference" in c else c for c in controls]
    plan = _plan(tmp_path, method=method, controls=controls)
    targets = pipeline.window_controls(plan.targets, plan.mel, 0, plan.total, None, device="cpu", front=plan.front)
    assert (targets[0].sketch is not None) == (controls[0]["type"] in ("melody", "intensity", "inpaint"))
    x_T, _ = window_noise(0, 0, 1, plan.mel, "cpu", plan.window)
    cond = pipeline.Cond(plan.tags[None], w=plan.spec.cfg)
    start = pipeline.start_near_sketch(plan, Engine("cpu"), x_T, cond, targets)
    assert (not torch.equal(start, x_T)) == moved and start.shape == x_T.shape


def test_under_autocast_ditto2_optimises_the_bf16_weight_copy_to_the_same_x_T(tmp_path, monkeypatch):
    """Under autocast DITTO-2's eager ITO (and its sketch) call the model's copy with bf16 weights, made once
    per model and kept; the clip is the one the float32-weight model gives under autocast, bit for bit."""
    plan = _plan(tmp_path, controls=INTENSITY, steps=3)
    engine = Engine("cpu", autocast=True)
    made: list[bool] = []
    real = pipeline.autocast_weights
    monkeypatch.setattr(pipeline, "autocast_weights", lambda m: made.append(True) or real(m))
    first = generate(plan, engine, unoptimised=False)
    again = generate(plan, engine, unoptimised=False)
    assert made == [True] and engine.ito_model(plan.model) is not plan.model  # one copy, kept
    monkeypatch.setattr(Engine, "ito_model", lambda self, model: model)  # the float32 weights, autocast casting
    plain = generate(plan, Engine("cpu", autocast=True), unoptimised=False)
    assert torch.equal(first.full, plain.full) and torch.equal(again.full, plain.full)  # decoded from the same x_T*
    assert next(plan.model.parameters()).dtype == torch.float32  # decoding keeps the float32 model


def test_a_warm_started_job_does_not_sketch_again(tmp_path, monkeypatch):
    """The second job of a warm-start engine resumes from its previous optimum, not from the sketch."""
    sketched: list[bool] = []
    real = pipeline.start_near_sketch
    monkeypatch.setattr(pipeline, "start_near_sketch", lambda *a: sketched.append(True) or real(*a))
    engine = Engine("cpu", warm_start=True)
    plan = _plan(tmp_path, controls=[MELODY], steps=1)
    generate(plan, engine, unoptimised=False)
    generate(plan, engine, unoptimised=False)
    assert sketched == [True]
