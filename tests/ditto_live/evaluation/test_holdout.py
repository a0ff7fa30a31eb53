"""An untouched hold-out: the works of an excluded corpus never supply a case or a reference window, and
the metric intervals resample works (a cluster bootstrap), not clips."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from ditto_live.evaluation.cases import corpus_works, load_test_split, make_cases, untouched_rows
from ditto_live.evaluation.runner import Generation
from ditto_live.evaluation.scoring import BY_CLIPS, BY_WORKS, aggregate, mean_interval, work_interval

from .conftest import MEL, write_corpus


def per_work_data(works: int = 8, clips: int = 4, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Clips whose values are mostly their work's level (spread 0.2) plus a little clip noise (0.02)."""
    rng = np.random.default_rng(seed)
    level = rng.normal(0.7, 0.2, works)
    values = np.repeat(level, clips) + rng.normal(0.0, 0.02, works * clips)
    return values, [f"w{w}" for w in range(works) for _ in range(clips)]


def test_a_work_resampling_interval_is_wider_than_the_clip_one_when_works_differ():
    values, works = per_work_data()
    lo_w, hi_w = work_interval(values, works)
    lo_c, hi_c = mean_interval(values)
    assert lo_w < values.mean() < hi_w
    assert hi_w - lo_w > 1.5 * (hi_c - lo_c)  # 4 nearly identical clips a work count about once, not four times


def test_with_one_clip_per_work_the_two_resamplings_agree_in_width():
    values, works = per_work_data(works=32, clips=1)
    lo_w, hi_w = work_interval(values, works)
    lo_c, hi_c = mean_interval(values)
    assert (hi_w - lo_w) == pytest.approx(hi_c - lo_c, rel=0.15)


def test_the_work_interval_is_deterministic_in_its_seed():
    values, works = per_work_data()
    assert work_interval(values, works, seed=3) == work_interval(values, works, seed=3)
    assert work_interval(values, works, seed=3) != work_interval(values, works, seed=4)


def test_the_work_interval_drops_undefined_values_and_needs_two_works():
    values, works = per_work_data(works=2, clips=2)
    assert all(math.isnan(v) for v in work_interval(values[:2], works[:2]))  # one work
    with_nan = np.append(values, np.nan)
    lo, hi = work_interval(with_nan, [*works, "w9"])  # the nan clip's work is left out with it
    assert (lo, hi) == work_interval(values, works)
    with pytest.raises(ValueError, match="work ids"):
        work_interval(values, works[:-1])


def clip(case: int, value: float) -> Generation:
    return Generation("melody", case, "DITTO-2 (CTM)", 1, 1.0, 0.0, 0.0, 150, {"melody_raw_pitch_accuracy": value},
                      0.3, np.full(4, float(case)))


def test_aggregate_resamples_works_when_every_case_has_one_and_says_so():
    values, works = per_work_data()
    gens = [clip(i, float(v)) for i, v in enumerate(values)]
    reference = np.random.default_rng(0).standard_normal((8, 4))
    by_work = aggregate(gens, reference, {}, {("melody", i): w for i, w in enumerate(works)})[0]
    assert by_work.resampled == BY_WORKS and by_work.works == 8
    assert by_work.intervals["melody_raw_pitch_accuracy"] == work_interval(values, works)
    assert by_work.to_dict()["metric_intervals_resample"] == BY_WORKS
    without = aggregate(gens, reference, {})[0]
    partial = aggregate(gens, reference, {}, {("melody", 0): "w0"})[0]  # a case without a work: over clips
    for row in (without, partial):
        assert row.resampled == BY_CLIPS and row.works == 0
        assert row.intervals["melody_raw_pitch_accuracy"] == mean_interval(values)


def excluded_corpus(root: Path, works: list[str]) -> Path:
    """A corpus folder holding only a windows.jsonl naming ``works`` (in train, val and test)."""
    root.mkdir(parents=True)
    splits = ("train", "val", "test")
    root.joinpath("windows.jsonl").write_text("".join(
        json.dumps({"work": w, "split": splits[i % 3], "row": i}) + "\n" for i, w in enumerate(works)))
    return root


def test_the_excluded_corpus_never_yields_a_case_or_reference_work(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", works=8, per_work=2)
    gone = corpus_works(excluded_corpus(tmp_path / "tuned", ["synth/work1", "synth/work4", "synth/work6",
                                                            "synth/elsewhere"]))
    split = load_test_split(corpus, "tiny", exclude_works=gone)
    assert split.left_out == ["synth/work1", "synth/work4", "synth/work6"]
    assert not set(split.works()) & gone and len(split.works()) == 5
    assert len(split.meta) == 10 and split.mels.shape[0] == split.truth.shape[0] == 10
    assert sorted(split.reference_rows + split.case_rows) == list(range(10))
    full = load_test_split(corpus, "tiny")
    kept = untouched_rows(full.meta, gone)
    assert np.array_equal(split.truth.numpy(), full.truth[kept].numpy())  # each window keeps its own data
    vocab = {"genre": ["<null>", "folk"], "mood": ["<null>", "major"]}
    for task in ("melody", "intensity", "structure"):
        cases = make_cases(task, split, 16, vocab, MEL.frame_rate, MEL.sample_rate, MEL.window_seconds,
                           tmp_path / "refs")
        assert cases and all(c.work and c.work not in gone for c in cases)
        assert all(c.work == split.meta[c.row]["work"] for c in cases)


def test_excluding_every_work_is_refused(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", works=2, per_work=1)
    with pytest.raises(ValueError, match="excluded"):
        load_test_split(corpus, "tiny", exclude_works=corpus_works(corpus))


def test_the_cli_hands_the_excluded_corpus_to_the_run_and_the_json_names_the_works(corpus, tmp_path, monkeypatch):
    from ditto_live.cli import main
    from ditto_live.evaluation import evaluate
    from ditto_live.evaluation.suites import EvalConfig
    from tests.fakes import FakeSentenceEncoder

    from .conftest import narrow_bundle

    seen: list[EvalConfig] = []

    def stop(cfg: EvalConfig):
        seen.append(cfg)
        raise ValueError("stopped here")

    tuned = excluded_corpus(tmp_path / "tuned", ["synth/work0"])
    monkeypatch.setattr("ditto_live.evaluation.evaluate", stop)
    argv = ["eval", "--suite", "table1", "--out", str(tmp_path / "x"), "--data", str(corpus), "--device", "cpu"]
    assert main([*argv, "--exclude-works", str(tmp_path / "none")]) == 2 and not seen  # not a corpus: refused
    assert main([*argv, "--exclude-works", str(tuned)]) == 2 and seen[0].exclude_works == str(tuned)
    monkeypatch.undo()
    monkeypatch.setattr("ditto_live.generation.methods.DITTO_STEPS", 2)
    cfg = EvalConfig(suite="table1", model="narrow", data=str(corpus), out=str(tmp_path / "run"), cases=2, steps=1,
                     tasks=("melody",), skip_ditto=True, exclude_works=str(tuned))
    _, paths = evaluate(cfg, bundle=narrow_bundle(), sentence_encoder=FakeSentenceEncoder())
    raw = json.loads(paths["json"].read_text())
    holdout = raw["info"]["holdout"]
    assert holdout["excluded_corpus"] == str(tuned) and holdout["left_out_works"] == ["synth/work0"]
    assert "synth/work0" not in holdout["split_works"] and holdout["case_works"]["melody"]
    assert "synth/work0" not in holdout["case_works"]["melody"]
    assert {c["work"] for c in raw["cases"]["melody"]} == set(holdout["case_works"]["melody"])  # each case's work
    assert {row["metric_intervals_resample"] for row in raw["rows"]} == {BY_WORKS}
