"""The suites run end to end on two cases: a narrow random bundle at the tiny mel preset, K = 2,
the synthetic corpus of conftest, and the CLI on top."""

from __future__ import annotations

import json

import pytest

from ditto_live.cli import main
from ditto_live.evaluation import evaluate
from ditto_live.evaluation.suites import EvalConfig, suite_settings
from tests.fakes import FakeSentenceEncoder

from .conftest import narrow_bundle

CHAIN = 2  # DITTO's DDIM chain is shortened from 20 here: the engine tests the chain, these the plumbing


@pytest.fixture(autouse=True)
def short_ditto_chain(monkeypatch):
    monkeypatch.setattr("ditto_live.generation.methods.DITTO_STEPS", CHAIN)


def run(suite: str, corpus, out, **kw):
    cfg = EvalConfig(suite=suite, model="narrow", data=str(corpus), out=str(out), cases=2, steps=2, **kw)
    return evaluate(cfg, bundle=narrow_bundle(), sentence_encoder=FakeSentenceEncoder())


def test_table1_runs_every_task_and_method_and_writes_the_report(corpus, tmp_path):
    result, paths = run("table1", corpus, tmp_path / "t1")
    tasks = ("intensity", "melody", "structure", "outpaint", "inpaint", "loop")
    labels = ["DITTO", "DITTO-2 (CM)", "DITTO-2 (CTM)", "DITTO-2 (CTM), unoptimised"]
    assert [(r.task, r.label) for r in result.rows] == [(t, m) for t in tasks for m in labels]
    assert len(result.generations) == 2 * len(tasks) * len(labels)
    for r in result.rows:
        assert r.n == 2 and r.seconds > 0 and 0 <= r.fad < float("inf") and -1 <= r.clap <= 1
    metric = {r.task: r.metrics for r in result.rows}
    # the loss-shaped metric beside the independent judge (BS.1770 loudness)
    assert set(metric["intensity"]) == {"intensity_mse_db2", "intensity_loudness_mae_db", "intensity_loudness_corr"}
    assert 0 <= metric["melody"]["melody_accuracy"] <= 1 and "melody_raw_pitch_accuracy" in metric["melody"]
    assert "structure_mse" in metric["structure"] and "inpaint_mse_db2" in metric["inpaint"]
    assert metric["loop"]["loop_seam_ratio"] >= 0  # the jump across the wrap against a typical frame step
    assert [(r.M, r.T) for r in result.rows if r.task == "intensity"] == [(str(CHAIN), CHAIN), ("1", 1), ("1", 1),
                                                                             ("1", 1)]
    # T unsaid: each control's default, as a job's (a melody decodes its one-step output)
    assert [(r.M, r.T) for r in result.rows if r.task == "melody"] == [(str(CHAIN), CHAIN), ("1", 1), ("1", 1),
                                                                          ("1", 1)]
    # every method started from the same noise and ran K = 2 steps; the unoptimised row decodes that noise as it is
    assert {g.steps for g in result.generations if not g.setting.endswith("unoptimised")} == {2}
    assert {g.steps for g in result.generations if g.setting.endswith("unoptimised")} == {0}
    assert [r.label for r in result.references][-1].startswith("white noise") and len(result.references) == 4
    md = paths["md"].read_text()
    for title in ("### Intensity", "### Melody", "### Musical Structure", "### Outpainting", "### Inpainting", "### Looping",
                  "| Method | M | T | Time (s) | speed-up | FAD | KID×10³ | CLAP | MSE (dB²) | ÷ unoptimised |", "Acc. (%)", "Reference rows"):
        assert title in md
    data = json.loads(paths["json"].read_text())
    assert len(data["rows"]) == 24 and len(data["generations"]) == 48 and data["info"]["embedding_trained"]
    journal = [json.loads(line) for line in (tmp_path / "t1" / "generations.jsonl").read_text().splitlines()[1:]]
    assert journal == data["generations"]  # written clip by clip, so a run cut short keeps what it finished
    assert paths["fig4"].stat().st_size > 5000
    assert len(list((tmp_path / "t1" / "audio").glob("*.wav"))) == 24  # the first case of each row
    assert len(list((tmp_path / "t1" / "references").glob("*.wav"))) == 4  # 2 inpaint + 2 outpaint


def test_fig5_decodes_one_optimisation_with_every_t_and_plots(corpus, tmp_path):
    result, paths = run("fig5", corpus, tmp_path / "f5", skip_ditto=True)
    ctm = [r for r in result.rows if r.label == "CTM"]
    assert [r.T for r in ctm] == list(range(1, 9)) and [r.M for r in ctm] == ["1"] * 8
    gens = [g for g in result.generations if g.setting == "CTM" and g.case == 0]
    assert len({g.optimise_s for g in gens}) == 1  # one x_T* per case, decoded with T = 1..8
    assert paths["fig5"].stat().st_size > 5000 and "fig5.png" in paths["md"].read_text()


def test_text_suite_reports_text_loss_before_and_after(corpus, tmp_path):
    result, paths = run("text", corpus, tmp_path / "tx")
    rows = {r.label: r for r in result.rows}
    assert set(rows) == {s.label for s in suite_settings("text")}
    optimised = rows["DITTO-2 (CTM) + text control"]
    assert optimised.extra["loss_text_after"] <= optimised.extra["loss_text_before"]
    assert "loss_text_before" not in rows["DITTO-2 (CTM), unoptimised"].extra
    assert "| null tags |" in paths["md"].read_text()


def test_a_bundle_without_students_runs_with_the_undistilled_teacher_and_says_so(corpus, tmp_path):
    bundle = narrow_bundle()
    bundle.ctm = bundle.cm = None
    cfg = EvalConfig(suite="text", model="narrow", data=str(corpus), out=str(tmp_path / "u"), cases=2, steps=1)
    result, paths = evaluate(cfg, bundle=bundle, sentence_encoder=FakeSentenceEncoder())
    assert result.info["undistilled_students"] == ["ctm", "cm"] and bundle.ctm is not None
    assert "no distilled CTM / CM student" in paths["md"].read_text()


def test_cli_runs_table2_without_ditto_and_labels_a_stand_in_embedding(corpus, tmp_path, monkeypatch):
    monkeypatch.setattr("ditto_live.generation.models.default_loader", lambda name, device: narrow_bundle(name, device, clap=False))
    monkeypatch.setattr("ditto_live.generation.text_encoder.default_encoder", FakeSentenceEncoder)
    out = tmp_path / "t2"
    code = main(["eval", "--suite", "table2", "--model", "narrow", "--cases", "2", "--steps", "2", "--out", str(out),
                 "--data", str(corpus), "--device", "cpu", "--skip-ditto", "--save-audio", "0"])
    assert code == 0
    data = json.loads((out / "results.json").read_text())
    got = [(r["label"], r["M"], r["T"]) for r in data["rows"]]
    assert got == [("CTM M=1", "1", 1), ("CTM M=1", "1", 2), ("CTM M=1", "1", 4), ("CTM M=2", "2", 2),
                   ("CTM M=2", "2", 4), ("CTM adaptive", "adaptive", 4), ("CM M=1", "1", 1), ("CM M=1", "1", 2),
                   ("CM M=1", "1", 4)]
    assert not data["info"]["embedding_trained"]
    assert "random-weight stand-in" in (out / "results.md").read_text()
    assert (out / "fig4.png").is_file() and not (out / "audio").exists()


@pytest.mark.parametrize("argv, message", [(["--cases", "1"], "at least 2"), (["--data", "/nonexistent"], "corpus")])
def test_cli_refuses_bad_arguments(tmp_path, capfd, argv, message):
    base = ["eval", "--suite", "table1", "--out", str(tmp_path / "x"), "--data", str(tmp_path)]
    assert main(base + argv) == 2
    assert message in capfd.readouterr().err


@pytest.mark.slow
def test_cli_table1_with_the_real_tiny_untrained_model(corpus, tmp_path, monkeypatch):
    """The real tiny UNet, Griffin-Lim and DITTO's full 20-step chain (minutes on a CPU)."""
    monkeypatch.setattr("ditto_live.generation.methods.DITTO_STEPS", 20)
    monkeypatch.setattr("ditto_live.generation.text_encoder.default_encoder", FakeSentenceEncoder)
    out = tmp_path / "t1"
    code = main(["eval", "--suite", "table1", "--model", "tiny-untrained", "--cases", "2", "--steps", "1",
                 "--out", str(out), "--data", str(corpus), "--device", "cpu", "--tasks", "intensity,inpaint"])
    assert code == 0
    data = json.loads((out / "results.json").read_text())
    from ditto_live.controls import KINDS

    assert [(r["task"], r["label"], r["T"]) for r in data["rows"]] == [  # students decode with each kind's T
        (t, m, T) for t in ("intensity", "inpaint")
        for m, T in (("DITTO", 20), ("DITTO-2 (CM)", KINDS[t].decode_steps), ("DITTO-2 (CTM)", KINDS[t].decode_steps),
                     ("DITTO-2 (CTM), unoptimised", KINDS[t].decode_steps))]
    assert data["info"]["untrained"] and not data["info"]["embedding_trained"]
    assert "random, untrained weights" in (out / "results.md").read_text()


def test_a_run_cut_short_is_reported_from_its_journal_and_resumed_without_rerunning_its_clips(corpus, tmp_path,
                                                                                                monkeypatch):
    out = tmp_path / "cut"
    full, _ = run("table2", corpus, out, skip_ditto=True, tasks=("intensity",))
    lines = (out / "generations.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["machine"]["device"] == "cpu"  # the header says where the clips were made
    first_case = [line for line in lines[1:] if json.loads(line)["case"] == 0]
    (out / "generations.jsonl").write_text("\n".join(lines[:1] + first_case) + "\n")  # as if killed after case 0

    report, _ = run("table2", corpus, out, skip_ditto=True, tasks=("intensity",), report_only=True)
    assert {r.n for r in report.rows} == {1} and report.info["clips_from_journal"] == len(first_case)

    ran = []
    real = __import__("ditto_live.evaluation.suites", fromlist=["run_case"]).run_case
    monkeypatch.setattr("ditto_live.evaluation.suites.run_case",
                        lambda bundle, case, setting, *a, **k: ran.append((case.index, setting.label)) or
                        real(bundle, case, setting, *a, **k))
    resumed, _ = run("table2", corpus, out, skip_ditto=True, tasks=("intensity",), resume=True)
    assert ran and {i for i, _ in ran} == {1}  # only the case the journal lacked
    assert [(r.label, r.T, r.n) for r in resumed.rows] == [(r.label, r.T, r.n) for r in full.rows]
    kept = [g for g in resumed.generations if g.case == 0]
    assert [g.metrics for g in kept] == [g.metrics for g in full.generations if g.case == 0]


@pytest.mark.parametrize("argv, autocast, split", [([], None, "test"), (["--autocast", "--split", "val"], True, "val"),
                                                   (["--no-autocast"], False, "test")])
def test_cli_passes_autocast_and_split_to_the_run(corpus, tmp_path, monkeypatch, argv, autocast, split):
    from ditto_live.engine.backends import default_autocast

    seen = []

    def fake_evaluate(cfg):
        seen.append(cfg)
        raise ValueError("stopped here")

    monkeypatch.setattr("ditto_live.evaluation.evaluate", fake_evaluate)
    code = main(["eval", "--suite", "table1", "--out", str(tmp_path / "x"), "--data", str(corpus), "--device", "cpu"]
                + argv)
    assert code == 2 and len(seen) == 1
    assert seen[0].autocast == (default_autocast("cpu") if autocast is None else autocast)  # unsaid: a job's default
    assert seen[0].split == split


def test_a_split_the_corpus_lacks_is_refused(corpus, tmp_path):
    with pytest.raises(FileNotFoundError, match="'val'"):
        run("table1", corpus, tmp_path / "v", tasks=("melody",), skip_ditto=True, split="val")


def test_autocast_reaches_the_optimisation_and_the_report_says_so(corpus, tmp_path, monkeypatch):
    from ditto_live.evaluation import runner

    engines = []
    real = runner.Engine

    def spy(*args, **kwargs):
        engines.append(kwargs.get("autocast"))
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "Engine", spy)
    result, paths = run("table1", corpus, tmp_path / "a", tasks=("melody",), skip_ditto=True, autocast=True)
    assert engines and all(a is True for a in engines)
    assert "optimisation in bf16 autocast" in paths["md"].read_text()
    assert result.info["config"]["autocast"] is True
