"""The evaluation runner decodes with the noise its optimisation used: DITTO-2 at M = T decodes the very x0
whose loss the optimisation reported, and every setting of a case (the unoptimised row included) decodes
with the same sampling-noise seed."""

from __future__ import annotations

import pytest
import torch

from ditto_live.controls import KINDS
from ditto_live.engine import ito
from ditto_live.engine.audio import MelFrontEnd
from ditto_live.evaluation.cases import load_test_split, make_cases
from ditto_live.evaluation.runner import Embedder, Setting, run_case
from ditto_live.evaluation.suites import unoptimised
from ditto_live.generation import jobspec, methods, pipeline
from tests.fakes import FakeSentenceEncoder

from .conftest import MEL, narrow_bundle


class Spy:
    """Records the runner's loss functions, every DITTO-2 optimisation's drawn x_T (before the sketch moves it
    towards the controls, by each student) and every DITTO-2 decode (its x_T, T, noise seed and raw output)."""

    def __init__(self, monkeypatch):
        self.losses, self.decodes, self.starts = [], [], []
        real_loss, real_decode, real_sketch = pipeline.loss_function, ito.ditto2_decode, pipeline.start_near_sketch

        def loss_function(controls):
            fn = real_loss(controls)
            self.losses.append(fn)
            return fn

        def ditto2_decode(*args, **kwargs):
            x0 = real_decode(*args, **kwargs)
            self.decodes.append({"x_T": args[1].clone(), "T": args[3], "noise_seed": kwargs.get("noise_seed"),
                                 "x0": x0.clone()})
            return x0

        def start_near_sketch(plan, engine, x_T, *args):
            self.starts.append(x_T.clone())
            return real_sketch(plan, engine, x_T, *args)

        monkeypatch.setattr(pipeline, "loss_function", loss_function)  # the one optimise builds it
        monkeypatch.setattr(ito, "ditto2_decode", ditto2_decode)  # methods.METHODS calls it
        monkeypatch.setattr(pipeline, "start_near_sketch", start_near_sketch)


@pytest.fixture
def intensity_case(corpus, tmp_path):
    bundle = narrow_bundle()
    front = MelFrontEnd(MEL)
    embedder = Embedder(bundle.clap, FakeSentenceEncoder(), front)
    split = load_test_split(corpus, "tiny", front)
    case = make_cases("intensity", split, 1, bundle.tags, MEL.frame_rate, MEL.sample_rate, MEL.window_seconds,
                      tmp_path / "references")[0]
    return bundle, case, embedder, (str(tmp_path),)


def test_m_equals_t_decodes_the_x0_whose_loss_the_optimisation_reported(intensity_case, monkeypatch):
    bundle, case, embedder, roots = intensity_case
    spy = Spy(monkeypatch)
    gens = run_case(bundle, case, Setting("CTM M=2", "ditto2", "ctm", "2", (2, 4)), embedder, "cpu", roots, steps=3)
    assert [g.T for g in gens] == [2, 4] and gens[0].steps == 3
    (loss_fn,) = spy.losses
    decoded = spy.decodes[0]
    assert decoded["T"] == 2
    with torch.no_grad():
        _, parts = loss_fn(decoded["x0"].float())
    assert set(parts) == set(gens[0].loss_after)
    for name, value in gens[0].loss_after.items():
        assert float(parts[name][0]) == pytest.approx(value, rel=1e-5, abs=1e-7), name
    assert gens[0].loss_after != gens[0].loss_before  # the optimisation moved: the match is not trivial


def test_every_setting_of_a_case_decodes_with_one_noise_seed_and_the_unoptimised_row_decodes_its_x_T(
        intensity_case, monkeypatch):
    bundle, case, embedder, roots = intensity_case
    spy = Spy(monkeypatch)
    for setting in (Setting("CTM M=1", "ditto2", "ctm", "1", (2,)), Setting("CTM M=2", "ditto2", "ctm", "2", (2,)),
                    Setting("CM M=1", "ditto2", "cm", "1", (2,)), unoptimised(2)):
        run_case(bundle, case, setting, embedder, "cpu", roots, steps=2)
    seeds = [d["noise_seed"] for d in spy.decodes]
    assert len(seeds) == 4 and seeds[0] is not None and len(set(seeds)) == 1, seeds
    assert len(spy.starts) == 3 and all(torch.equal(x, spy.starts[0]) for x in spy.starts)  # one x_T per case
    assert torch.equal(spy.decodes[-1]["x_T"], spy.starts[0])  # the unoptimised row decodes that same x_T
    assert not torch.equal(spy.decodes[0]["x_T"], spy.starts[0])  # (an optimised row decodes x_T*)


def test_a_settings_m_and_t_come_from_the_methods_table():
    """DITTO's row optimises through and decodes with its fixed chain whatever the setting says; DITTO-2's with
    the setting's own M and T."""
    assert Setting("DITTO", "ditto", surrogate="1", decode_steps=(2,)).m_label == str(methods.DITTO_STEPS)
    assert Setting("DITTO", "ditto", decode_steps=(2,)).decodes() == (methods.DITTO_STEPS,)
    assert Setting("CTM", "ditto2", surrogate="2", decode_steps=(2, 4)).m_label == "2"
    assert Setting("CTM", "ditto2", decode_steps=(2, 4)).decodes() == (2, 4)


def test_the_evaluation_s_window_is_the_one_a_job_generates(intensity_case):
    """The evaluation runs no inner loop of its own: its window (controls, x_T, noise seed, optimisation:
    ``pipeline.optimise_window``) decoded with the job's T is the audio ``pipeline.generate`` makes of the
    same job."""
    bundle, case, embedder, roots = intensity_case
    setting = Setting("CTM M=2", "ditto2", "ctm", "2", (0,))
    (gen,) = run_case(bundle, case, setting, embedder, "cpu", roots, steps=3, keep_audio=True)
    spec = jobspec.parse_job({**case.job, "model": bundle.name, "method": "ditto2", "student": "ctm",
                              "surrogate": "2", "steps": 3})  # lr: the control's, as the evaluation's
    plan = pipeline.plan_job(spec, bundle, "cpu", roots, embedder.front, lambda: embedder.text_model)
    engine = pipeline.Engine("cpu", backends=pipeline.Backends("eager", "cpu"))
    made = pipeline.generate(plan, engine, unoptimised=False)
    (record,) = made.windows
    assert gen.T == plan.decode_steps and gen.steps == record["steps_run"] == 3
    assert gen.lr == plan.lr == KINDS["intensity"].lr
    assert gen.loss_after == record["surrogate_loss_after"]
    assert gen.audio is not None and torch.equal(torch.as_tensor(gen.audio),
                                                 torch.as_tensor(pipeline.vocode(bundle, made.mel)))
