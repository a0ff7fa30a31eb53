"""`ditto-live bench` runs the whole job path on the tiny preset and reports every field; summaries,
speed-ups and issue 10's target checks are computed from the runs; a backend that disagrees with eager
is refused and reported, not timed.

The tiny preset runs on 32 frames with K=1 (and DITTO's full 20-step chain): every stage is real,
only shorter than the 512 frames the benchmark uses by default.
"""

from __future__ import annotations

import json

import pytest

from ditto_live.bench import stages as bench
from ditto_live.bench.report import STAGES, check_targets, cpu_record, machine_info, summarise
from ditto_live.bench.stages import BenchConfig, parse_setting
from ditto_live.cli import main
from ditto_live.controls import KINDS
from ditto_live.engine import backends
from ditto_live.engine.backends import EagerStepper

MACHINE_FIELDS = {"cpu", "cpu_cores", "torch_threads", "torch", "python", "platform", "load_average",
                  "kernel_env"}
RUN_FIELDS = {"task", "method", "setting", "M", "T", "seeds", "K", "steps_run", "backend", "run", "cold",
              "process_first", "stages_ms", "total_ms", "backend_prepare_ms", "parity_checked",
              "decode_prepare_ms", "rtf", "peak_memory_mb", "loss_before", "loss_after"}
ROW_FIELDS = {"task", "method", "setting", "M", "T", "seeds", "K", "backend", "basis", "stages_ms", "total_ms",
              "cold_total_ms", "cold_backend_prepare_ms", "cold_decode_prepare_ms", "rtf", "peak_memory_mb",
              "speedup_vs_ditto", "speedup_basis", "optimise_speedup_vs_ditto", "batch_over_single"}
SHORT = ["--preset", "tiny", "--frames", "32", "--steps", "1", "--threads", "1", "--tasks", "intensity"]


def test_bench_on_the_tiny_preset_writes_every_field(tmp_path):
    out = tmp_path / "b.json"
    rc = main(["bench", *SHORT, "--seeds", "1,2", "--repeats", "1", "--baseline-repeats", "0",
               "--out-dir", str(tmp_path / "wav"), "--json", str(out), "--markdown", str(tmp_path / "b.md")])
    assert rc == 0
    report = json.loads(out.read_text())
    assert report["schema"] == bench.SCHEMA and MACHINE_FIELDS <= report["machine"].keys()
    assert report["model"]["weights"] == "random" and report["model"]["parameters"]["base"] > 1_000_000
    assert report["config"]["steps"] == 1 and report["frames"] == 32 and report["setup_ms"] > 0
    assert report["audio_seconds"] == pytest.approx(32 * 256 / 22050, abs=1e-3)
    assert report["peak_memory_kind"].startswith("process peak RSS") and report["errors"] == []
    runs = report["runs"]
    # each DITTO-2 student cold + 1 warm for B = 1 and 2, then DITTO once (cold only) at B = 1
    assert len(runs) == 2 * 2 * 2 + 1
    assert [r["method"] for r in runs][-1] == "ditto" and runs[-1]["seeds"] == 1
    for r in runs:
        assert RUN_FIELDS <= r.keys() and r["K"] == 1 and r["steps_run"] == 1 and r["backend"] == "eager"
        assert set(r["stages_ms"]) == set(STAGES) and all(v >= 0 for v in r["stages_ms"].values())
        assert r["total_ms"] == pytest.approx(sum(r["stages_ms"].values()), abs=0.1)
        assert r["rtf"] == pytest.approx(r["total_ms"] / 1000 / report["audio_seconds"], rel=1e-2)
        assert r["peak_memory_mb"] > 50
    assert runs[0]["process_first"] and not runs[1]["process_first"]
    rows = report["rows"]
    assert {r["method"] for r in rows} == {"ditto", "ditto2-ctm", "ditto2-cm"} and len(rows) == 5
    for r in rows:
        assert ROW_FIELDS <= r.keys()
    ditto = next(r for r in rows if r["method"] == "ditto" and r["seeds"] == 1)
    ctm = next(r for r in rows if r["method"] == "ditto2-ctm" and r["seeds"] == 1)
    assert ditto["basis"] == "cold run only" and ctm["basis"] == "median of 1 warm runs"
    # DITTO ran cold only: DITTO-2 is compared cold against cold, never its warm median against a cold run
    assert ctm["speedup_basis"] == "cold vs cold"
    assert ctm["speedup_vs_ditto"] == pytest.approx(ditto["total_ms"] / ctm["cold_total_ms"], rel=1e-2)
    assert ctm["speedup_vs_ditto"] > 1  # one surrogate call per step against DITTO's 20-step chain
    assert ctm["speedup_baseline_backend"] == "eager"
    ctm2 = next(r for r in rows if r["method"] == "ditto2-ctm" and r["seeds"] == 2)
    assert ctm2["batch_over_single"] == pytest.approx(ctm2["total_ms"] / ctm["total_ms"], rel=1e-2)
    assert report["targets"]["applies"] is False  # tiny preset on a CPU
    wavs = sorted(p.name for p in (tmp_path / "wav").glob("*.wav"))
    assert "intensity_ditto2-ctm_M1T2_b2.wav" in wavs and "reference.wav" in wavs
    table = (tmp_path / "b.md").read_text()
    assert "| intensity | ditto2-ctm | 1,2 | 1 | 1 | eager |" in table and "AMD" in table or "cores" in table


def test_the_machine_record_names_the_environment_that_changes_the_cpu_kernels(monkeypatch):
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    env = machine_info("cpu")["kernel_env"]
    assert env["ONEDNN_MAX_CPU_ISA"] == "AVX512_CORE_BF16" and "OMP_WAIT_POLICY" not in env
    assert cpu_record()["kernel_env"] == env  # what the experiments' raw records carry


def test_a_backend_that_disagrees_is_refused_and_reported(tmp_path, monkeypatch):
    wrong = lambda x: ((x**2).mean(dim=(1, 2, 3)), {})  # noqa: E731 - not the job's objective
    monkeypatch.setattr(backends, "make_stepper", lambda name, obj, x_T, lr, *a, **k: EagerStepper(wrong, x_T, lr))
    out = tmp_path / "b.json"
    rc = main(["bench", *SHORT, "--methods", "ditto2-ctm", "--backend", "exported", "--repeats", "0",
               "--out-dir", str(tmp_path / "wav"), "--json", str(out)])
    assert rc == 1
    report = json.loads(out.read_text())
    assert report["runs"] == [] and report["rows"] == []
    (err,) = report["errors"]
    assert err["backend"] == "exported" and "disagrees with eager" in err["error"]


def test_exported_backend_is_checked_on_the_cold_run_only(tmp_path):
    """(Structure: since the intensity loss reads the vocoder's waveform (issue 33) it does not export and runs eager.)"""
    cfg = BenchConfig(frames=32, steps=2, tasks=("structure",), methods=("ditto2-ctm",), backends=("exported",),
                      repeats=1, threads=1, out_dir=str(tmp_path))
    report = bench.Bench(cfg).run()
    cold, warm = report["runs"]
    assert cold["parity_checked"] and cold["backend_prepare_ms"] > 0 and not warm["parity_checked"]
    assert cold["backend"] == warm["backend"] == "exported" and cold["steps_run"] == 2
    assert cold["decode_prepare_ms"] > 0 and warm["decode_prepare_ms"] == 0


@pytest.mark.parametrize(("text", "parsed"), [("M1T2", (1, 2)), ("M2T4", (2, 4)), ("MaT4", ("adaptive", 4))])
def test_settings_parse_like_the_papers_table(text, parsed):
    assert parse_setting(text) == parsed


def test_a_bad_setting_is_a_usage_error(tmp_path):
    assert main(["bench", *SHORT, "--settings", "M1X2", "--out-dir", str(tmp_path)]) == 2


def fake_run(method, total, seeds=1, task="intensity", k=None, cold=False):
    k = KINDS[task].steps if k is None else k  # the task's default K, where the targets are checked
    stages = dict.fromkeys(STAGES, 0.0) | {"optimise": total}
    return {"task": task, "method": method, "setting": "M20T20" if method == "ditto" else "M1T2",
            "M": 20 if method == "ditto" else 1, "T": 20 if method == "ditto" else 2, "seeds": seeds, "K": k,
            "backend": "eager", "cold": cold, "stages_ms": stages, "total_ms": total, "rtf": total / 5940,
            "backend_prepare_ms": 0.0, "decode_prepare_ms": 0.0, "peak_memory_mb": 100.0}


def test_summary_uses_warm_medians_and_issue_targets_are_checked():
    runs = [fake_run("ditto", 9000.0, cold=True), fake_run("ditto", 8000.0),
            fake_run("ditto2-ctm", 300.0, cold=True) | {"backend": "cudagraph"},  # cold only: its basis
            fake_run("ditto2-ctm", 3000.0, seeds=4, cold=True) | {"backend": "cudagraph"},
            fake_run("ditto2-ctm", 2000.0, cold=True), fake_run("ditto2-ctm", 400.0), fake_run("ditto2-ctm", 600.0),
            fake_run("ditto2-ctm", 3000.0, seeds=4, cold=True), fake_run("ditto2-ctm", 700.0, seeds=4)]
    rows = summarise(runs)
    ctm = next(r for r in rows if r["method"] == "ditto2-ctm" and r["seeds"] == 1 and r["backend"] == "eager")
    assert ctm["total_ms"] == 500.0 and ctm["cold_total_ms"] == 2000.0 and ctm["speedup_vs_ditto"] == 16.0
    assert ctm["speedup_basis"] == "warm vs warm"  # 8000 / 500
    ctm4 = next(r for r in rows if r["seeds"] == 4 and r["backend"] == "eager")
    assert ctm4["batch_over_single"] == 1.4 and ctm4["speedup_vs_ditto"] is None  # no DITTO run at B=4
    targets = check_targets(rows, BenchConfig(preset="paper", device="cuda"), full_window=True)
    assert targets["applies"]
    # the fastest backend's row is checked (cudagraph, 300 ms), its batch ratio from the same backend (10x: fails)
    assert targets["intensity_end_to_end_ms"] == {"value": 300.0, "limit": 500.0, "backend": "cudagraph", "pass": True}
    # the cudagraph row has only a cold run: it is set against DITTO's cold run (9000 / 300), not its warm median
    assert targets["intensity_speedup_vs_ditto"]["value"] == pytest.approx(30.0, abs=0.01)
    assert targets["intensity_speedup_vs_ditto"]["baseline_backend"] == "eager"
    big = targets["intensity_batch4_over_single"]
    assert big["value"] == 10.0 and big["backend"] == "cudagraph" and not big["pass"]
    slow = summarise([fake_run("ditto", 5000.0), fake_run("ditto2-ctm", 600.0)])
    failed = check_targets(slow, BenchConfig(preset="paper", device="cuda"), True)
    assert not failed["intensity_end_to_end_ms"]["pass"] and not failed["intensity_speedup_vs_ditto"]["pass"]


def test_a_refused_baseline_backend_falls_back_to_the_next_one_named(tmp_path, monkeypatch):
    real = backends.make_stepper

    def exported_disagrees(name, obj, x_T, lr, *a, **k):
        if name == "exported":  # a wrong objective: refused by the parity check
            return EagerStepper(lambda x: ((x**2).mean(dim=(1, 2, 3)), {}), x_T, lr)
        return real(name, obj, x_T, lr, *a, **k)

    monkeypatch.setattr(backends, "make_stepper", exported_disagrees)
    cfg = BenchConfig(frames=32, steps=1, tasks=("intensity",), methods=("ditto",), baseline_backend="exported,eager",
                      repeats=0, threads=1, out_dir=str(tmp_path))
    report = bench.Bench(cfg).run()
    assert [e["backend"] for e in report["errors"]] == ["exported"]
    assert [(r["method"], r["backend"]) for r in report["runs"]] == [("ditto", "eager")]
