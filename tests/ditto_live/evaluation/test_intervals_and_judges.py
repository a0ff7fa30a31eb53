"""Rows carry a 95 % interval per figure, and the report puts the judges' figures beside the loss-shaped ones."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ditto_live.controls import KINDS
from ditto_live.evaluation.report import markdown
from ditto_live.evaluation.runner import Generation
from ditto_live.evaluation.scoring import JUDGE_METRIC_KEYS, aggregate, mean_interval
from ditto_live.evaluation.suites import EvalConfig, SuiteResult
from ditto_live.judges.independent import JUDGE_KEYS


def test_interval_holds_the_mean_is_deterministic_and_narrows_with_more_clips():
    rng = np.random.default_rng(1)
    few, many = rng.normal(0.8, 0.1, 8), rng.normal(0.8, 0.1, 128)
    lo, hi = mean_interval(few)
    assert lo < few.mean() < hi
    assert mean_interval(few) == (lo, hi)
    lo2, hi2 = mean_interval(many)
    assert hi2 - lo2 < hi - lo


def test_interval_needs_two_finite_values():
    assert all(math.isnan(v) for v in mean_interval([0.5]))
    assert all(math.isnan(v) for v in mean_interval([0.5, float("nan")]))


def generation(case: int, setting: str, metrics: dict[str, float], seconds: float = 1.0) -> Generation:
    return Generation("melody", case, setting, 2, seconds, 0.0, 0.0, 150, metrics, 0.3, np.full(4, case, float))


def test_aggregate_gives_means_and_intervals_of_metrics_time_and_clap_skipping_undefined_values():
    gens = [generation(i, "DITTO-2 (CTM)", {"melody_raw_pitch_accuracy": v, "intensity_loudness_corr": c},
                       seconds=1.0 + i)
            for i, (v, c) in enumerate([(0.6, 0.9), (0.8, float("nan")), (0.7, 0.7), (0.9, 0.8)])]
    row = aggregate(gens, np.random.default_rng(0).standard_normal((8, 4)), {"DITTO-2 (CTM)": "1"})[0]
    assert row.metrics["melody_raw_pitch_accuracy"] == pytest.approx(0.75)
    assert row.metrics["intensity_loudness_corr"] == pytest.approx(0.8)  # the nan clip left out
    for key in ("melody_raw_pitch_accuracy", "intensity_loudness_corr", "seconds", "clap"):
        lo, hi = row.intervals[key]
        assert lo <= hi
    lo, hi = row.intervals["seconds"]
    assert lo < 2.5 < hi
    assert row.to_dict()["intervals"]["melody_raw_pitch_accuracy"][0] == pytest.approx(row.intervals[
        "melody_raw_pitch_accuracy"][0], abs=1e-6)


def test_a_row_records_the_k_and_learning_rate_its_clips_ran_at():
    gens = [Generation("melody", i, "CTM", 1, 1.0, 0.0, 0.0, 20, {}, 0.3, np.zeros(4), lr=1e-2) for i in range(2)]
    gens += [Generation("melody", i, "unoptimised", 1, 0.0, 0.0, 0.0, 0, {}, 0.3, np.zeros(4)) for i in range(2)]
    rows = {r.label: r.to_dict() for r in aggregate(gens, np.random.default_rng(0).standard_normal((8, 4)), {})}
    assert (rows["CTM"]["steps"], rows["CTM"]["lr"]) == (20, 1e-2)
    assert (rows["unoptimised"]["steps"], rows["unoptimised"]["lr"]) == (0, 0.0)
    assert Generation.from_dict(gens[0].to_dict()).lr == 1e-2


def test_judge_keys_are_the_scoring_and_report_keys():
    assert set(JUDGE_METRIC_KEYS) == {k for keys in JUDGE_KEYS.values() for k in keys}
    reported = {key for kind in KINDS.values() if kind.evaluation for key, _, _ in kind.evaluation.judges}
    assert reported <= set(JUDGE_METRIC_KEYS)


def test_table1_report_shows_judges_beside_the_loss_metric_with_intervals(tmp_path):
    gens = [generation(i, label, {"melody_accuracy": a, "melody_raw_pitch_accuracy": p,
                                  "melody_raw_chroma_accuracy": c})
            for label, base in (("DITTO-2 (CTM)", 0.0), ("DITTO-2 (CTM), unoptimised", -0.5))
            for i, (a, p, c) in enumerate([(0.9 + base / 5, 0.7 + base, 0.9 + base / 2), (0.95 + base / 5,
                                                                                         0.8 + base, 0.92 + base / 2)])]
    rows = aggregate(gens, np.random.default_rng(0).standard_normal((8, 4)), {})
    cfg = EvalConfig("table1", "m", "d", str(tmp_path), cases=2)
    info = {"machine": {"processor": "AMD EPYC", "cpu_count": 2, "torch_threads": 2, "torch": "2", "device": "cpu"},
            "model": "m", "model_path": "p", "vocoder": "neural", "reference_clips": 8, "wall_s": 1.0,
            "load_avg_1m": [1.0, 1.0]}
    text = markdown(SuiteResult(cfg, rows, [], gens, [], {}, info))
    header = next(line for line in text.splitlines() if line.startswith("| Method"))
    assert "Acc. (%)" in header and "pYIN raw pitch (%)" in header and "pYIN raw chroma (%)" in header
    ctm = next(line for line in text.splitlines() if line.startswith("| DITTO-2 (CTM) |"))
    assert "75.0 [70.0, 80.0]" in ctm  # raw pitch: mean and interval of 0.7 and 0.8
    assert "Claims rest on the judges" in text
