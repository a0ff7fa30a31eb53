"""``ditto-live bench --server``: a real ``ditto-live serve`` process, jobs over real OSC on loopback, the
submit-to-done latency of the first and the warm jobs (the model-free runner keeps it quick)."""

from __future__ import annotations

import pytest

from ditto_live.bench.served import (
    ServerBenchConfig,
    job_line,
    markdown,
    percentile,
    run_server_bench,
    summarise,
)


def test_percentiles_interpolate_between_ranks():
    assert percentile([3.0], 95) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert percentile([1.0, 2.0, 3.0, 4.0], 100) == 4.0


def test_the_first_job_is_reported_apart_from_the_warm_ones():
    jobs = [{"task": "intensity", "first": i == 0, "latency_s": s, "audio_s": 5.94,
             "summary": {"timings_ms": {"optimise": 1000.0 * s}}} for i, s in enumerate([9.0, 3.0, 4.0, 5.0])]
    (row,) = summarise(jobs)
    assert row["first_s"] == 9.0 and row["warm_jobs"] == 3 and row["warm_p50_s"] == 4.0
    assert row["warm_max_s"] == 5.0 and row["first_over_warm_p50"] == pytest.approx(2.25)
    assert row["warm_stage_median_ms"] == {"optimise": 4000.0}  # the warm jobs' own records only


def test_a_served_process_is_timed_from_submit_to_done_over_osc(tmp_path):
    cfg = ServerBenchConfig(tasks=("intensity", "melody"), jobs=2, fake_runner=True, out_dir=str(tmp_path),
                            fresh_numba_cache=False, timeout_s=60)
    seen: list[int] = []  # jobs in the report at each update: a run cut short keeps what it timed
    report = run_server_bench(cfg, on_update=lambda r: seen.append(len(r["jobs"])))
    assert seen == [0, 1, 2, 3, 3, 4, 5, 6]  # a fresh server per task, then its jobs one by one
    assert [j["job_id"] for j in report["jobs"]] == ["idle-intensity-0", "idle-intensity-1", "idle-intensity-2",
                                                      "idle-melody-0", "idle-melody-1", "idle-melody-2"]
    assert all(j["latency_s"] > 0 and j["wav"].endswith(".wav") for j in report["jobs"])
    assert all(s["ready_s"] >= s["pong_s"] > 0 for s in report["servers"]) and len(report["servers"]) == 2
    intensity, melody = report["rows"]
    assert intensity["first_s"] is not None and intensity["warm_jobs"] == 2
    assert melody["first_s"] is not None and melody["warm_jobs"] == 2  # each task's fresh server's first job
    assert "co_load" not in report
    assert "| idle | intensity | 5.94 |" in markdown(report)
    assert sorted(p.name for p in tmp_path.glob("server-*.log")) == ["server-idle-intensity.log",
                                                                      "server-idle-melody.log"]  # one per server
    assert [s["log"] for s in report["servers"]] == [str(tmp_path / "server-idle-intensity.log"),
                                                     str(tmp_path / "server-idle-melody.log")]


def test_a_co_load_pass_times_every_task_again_and_reports_what_the_co_load_kept(tmp_path):
    cfg = ServerBenchConfig(tasks=("intensity",), jobs=1, fake_runner=True, out_dir=str(tmp_path),
                            fresh_numba_cache=False, timeout_s=60, co_load=1, co_load_solo_s=0.5)
    report = run_server_bench(cfg)
    assert [(r["phase"], r["task"]) for r in report["rows"]] == [("idle", "intensity"), ("co-load 1", "intensity")]
    co = report["co_load"]
    assert co["processes"] == 1 and co["solo_rounds_per_s"] > 0 and 0 < co["keeps"] < 2
    assert "The co-load (1 busy process(es)" in markdown(report)


def test_the_co_load_counts_its_work_and_stops():
    import time

    from ditto_live.bench.coload import CoLoad

    with CoLoad(1) as load:
        assert load.solo_rate(0.5) > 0
        load.mark()
        time.sleep(0.3)
        assert load.rate() > 0
        procs = list(load._procs)
    assert not any(p.is_alive() for p in procs)


def test_the_log_line_of_a_job_names_its_stages_and_the_backend_that_ran_it():
    record = {"job_id": "intensity-1", "latency_s": 5.52, "first": False,
              "summary": {"timings_ms": {"optimise": 5100.4, "decode": 80.0},
                          "ito": [{"backend": "eager", "backend_fallback": "cudagraph disagrees with eager"}]}}
    line = job_line(record)
    assert line.startswith("intensity-1: 5.52 s submit -> done;")
    assert "optimise 5100" in line and "backend eager (fell back: cudagraph disagrees with eager)" in line
