"""Speed on the CPUs (README, docs/bench.md, the card): served jobs, the in-process engine bench, the exported
backend's reuse, and issue 27's producer runs beside a busy core."""

from __future__ import annotations

from collections.abc import Callable

from .formats import block, cpu_name, pace, seconds
from .raw import (
    BACKEND_REUSE,
    ENGINE_BENCH,
    PRODUCER,
    PRODUCER_EPYC,
    PRODUCER_XEON_AMX,
    SERVED_EPYC,
    SERVED_XEON,
    Raw,
    RawMissing,
)


def served_cpu(raw: Raw) -> str:
    """Submit-to-done of the default model through a fresh `serve` on the two CPUs (README)."""
    xeon, epyc = raw.json(SERVED_XEON), raw.json(SERVED_EPYC)
    x, e = xeon["rows"][0], epyc["rows"][0]
    return (f"a {x['audio_s']:.2f} s intensity-controlled clip (K = 70, T = 2), sent over OSC to a fresh "
            f"`ditto-live serve`, is done (submit to done) in {x['first_s']:.2f} s for the server's first job "
            f"and {x['warm_p50_s']:.2f} s for warm jobs (p50, RTF {x['warm_rtf_p50']:.2f}) on a "
            f"{xeon['machine']['cpu_cores']}-core {cpu_name(xeon['machine']['cpu'])} with native bf16 "
            f"({xeon['created'][:10]}); on a {epyc['machine']['cpu_cores']}-core {cpu_name(epyc['machine']['cpu'])} without "
            f"native bf16 (fp32) in {e['first_s']:.2f} s and {e['warm_p50_s']:.2f} s (RTF {e['warm_rtf_p50']:.2f}), "
            f"{pace(e['warm_rtf_p50'])} than real time ({epyc['created'][:10]})")


def served_table(rel: str) -> Callable[[Raw], str]:
    """The table of one `ditto-live bench --server` run: start-up, first job, warm jobs, stages."""

    def render(raw: Raw) -> str:
        bench = raw.json(rel)
        start, row = bench["server_start"], bench["rows"][0]
        stages = ", ".join(f"{k} {v:.0f}" for k, v in row["warm_stage_median_ms"].items() if k != "wait")
        lines = ["| | |", "|---|---|",
                 f"| fresh `serve` answers ping | {start['pong_s']:.1f} s after start |",
                 "| fresh `serve` ready (model, engine warm-up, measurement code compiled from an "
                 f"{'empty' if start['numba_cache'] == 'fresh' else 'existing'} numba cache) | {start['ready_s']:.1f} s |",
                 f"| **first job**, submit → done | **{row['first_s']:.2f} s** |",
                 f"| warm jobs ({row['warm_jobs']}), submit → done | p50 **{row['warm_p50_s']:.2f} s**, p95 "
                 f"{row['warm_p95_s']:.2f} s, max {row['warm_max_s']:.2f} s (**RTF {row['warm_rtf_p50']:.2f}**: "
                 f"{pace(row['warm_rtf_p50'])} than real time) |",
                 f"| first job / warm p50 | **{row['first_over_warm_p50']:.2f}** |",
                 f"| warm stages (median, ms) | {stages} |"]
        return block(lines)

    return render


def backend_reuse(raw: Raw) -> str:
    """Preparation against job seconds of two exported-backend jobs in one process (the second reuses the graph)."""
    data = raw.json(BACKEND_REUSE)
    lines = [f"{data['machine']['Model name']}, {data['threads']} threads, {data['precision']}, {data['date'][:10]}, "
             f"load average {data['load_average_1_5_15min']['end'][0]:.1f} at the end", "",
             "| job | targets | parity checked | graph reused | preparation s | job s | preparation share |",
             "|---|---|---|---|---|---|---|"]
    for i, job in enumerate(data["jobs"], 1):
        prepare = job["backend_prepare_s"] + job["decoder_prepare_s"]
        lines.append(f"| {i} | intensity {job['job']['controls'][0]['shape']}, seed {job['job']['seed']} | "
                     f"{'yes' if job['parity_checked'] else 'no'} | {'yes' if job['graph_reused'] else 'no'} | "
                     f"{prepare:.3f} | {job['job_s']:.1f} | {100 * prepare / job['job_s']:.3f} % |")
    return block(lines)


def cpu_engine_bench(raw: Raw) -> str:
    """The card's in-process CPU bench of the default model (not a served job)."""
    first = raw.json(ENGINE_BENCH[(2, "bf16 autocast")])
    m = first["machine"]
    lines = [f"In-process engine bench (`ditto-live bench`, not a served job), {first['created'][:10]}, "
             f"{m['cpu_cores']}-core {m['cpu']} (the raw files record no CPU flags), torch {m['torch']}, load "
             f"average {m['load_average'][0]:.1f}-{m['load_average'][1]:.1f}; median of 3 warm runs:", "",
             "| threads | precision | optimise | total | real-time factor | cold run |", "|---|---|---|---|---|---|"]
    for (threads, precision), rel in ENGINE_BENCH.items():
        bench = raw.json(rel)
        if bench["config"]["autocast"] != (precision == "bf16 autocast") or bench["config"]["threads"] != threads:
            raise RawMissing(f"docs/results/{rel}: not a {threads}-thread {precision} run")
        row = bench["rows"][0]
        lines.append(f"| {threads} | {precision} | {seconds(row['stages_ms']['optimise'])} | "
                     f"{seconds(row['total_ms'])} | {row['rtf']:.2f} | {seconds(row['cold_total_ms'])} |")
    return block(lines)


def producer_phases(raw: Raw, folder: str = PRODUCER) -> tuple[dict, dict[str, tuple[dict, dict]]]:
    """The co-load bench's raw file and, per task in its order, its (idle, co-loaded) rows."""
    both = raw.json(f"{folder}/served_coload.json")
    rows = {(r["phase"], r["task"]): r for r in both["rows"]}
    loaded = next(p for p, _ in rows if p != "idle")
    return both, {task: (rows[("idle", task)], rows[(loaded, task)]) for task in dict.fromkeys(t for _, t in rows)}


def native_bf16(raw: Raw, folder: str) -> bool:
    """Whether the run's CPU computes bf16 natively (its lscpu), so the server ran under bf16 autocast."""
    flags = (raw.results / folder / "lscpu.txt").read_text()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def producer_served(folder: str) -> Callable[[Raw], str]:
    """Issue 27: served jobs on two cores, idle and beside one busy core, against an idle server pinned to
    one thread; and what the busy core kept of its speed (the run in ``folder``)."""

    def render(raw: Raw) -> str:
        both, by_task = producer_phases(raw, folder)
        pinned = {r["task"]: r for r in raw.json(f"{folder}/served_1thread.json")["rows"]}
        lines = ["| task (5.94 s clip) | idle: threads, first job, warm p50 / p95 | one busy core beside: threads, "
                 "first job, warm p50 / p95 | idle, pinned to 1 thread: warm p50 | idle / pinned | co-loaded / pinned |",
                 "|---|---|---|---|---|---|"]
        for task, (idle, busy) in by_task.items():
            pin = pinned[task]

            def cell(r: dict) -> str:
                threads = "/".join(str(n) for n in r["threads"])
                return (f"{threads}, {r['first_s']:.2f} s, **{r['warm_p50_s']:.2f}** / {r['warm_p95_s']:.2f} s "
                        f"(RTF {r['warm_rtf_p50']:.2f})")

            lines.append(f"| {task} | {cell(idle)} | {cell(busy)} | {pin['warm_p50_s']:.2f} s | "
                         f"{idle['warm_p50_s'] / pin['warm_p50_s']:.2f}x | {busy['warm_p50_s'] / pin['warm_p50_s']:.2f}x |")
        m, co = both["machine"], both["co_load"]
        precision = "bf16 autocast" if native_bf16(raw, folder) else "float32 (no native bf16)"
        lines += ["", f"The busy core (a process spinning on integer arithmetic, started by the bench) kept "
                  f"**{100 * co['keeps']:.1f} %** of its speed alone while the server ran jobs back to back. "
                  f"{m['cpu_cores']}-core {cpu_name(m['cpu'])}, torch {m['torch']}, {precision}, the server's "
                  f"default settings, shipped default model, {both['created'][:10]}, main at "
                  f"{(raw.results / folder / 'commit.txt').read_text().strip()[:7]} (raw: `docs/results/{folder}/`)."]
        return block(lines)

    return render


def omp_wait_policy(raw: Raw) -> str:
    """Issue 27: why the thread count, not the OpenMP wait policy, keeps a job off a busy core."""
    doc = raw.json(f"{PRODUCER}/omp_wait_policy.json")
    lines = ["| machine | OpenMP waiting | threads | one ITO step's network pass (ms) |", "|---|---|---|---|"]
    lines += [f"| {r['load']} | {r['policy']} | {r['threads']} | {r['wall_ms']:.0f} |" for r in doc["rows"]]
    lines += ["", f"UNet forward + backward of the default model's student, bf16 autocast, {doc['date'][:10]} "
              f"(raw: `docs/results/{PRODUCER}/omp_wait_policy.json`)."]
    return block(lines)


def producer_headline(raw: Raw) -> str:
    """Issue 27 in one sentence (README): warm served jobs idle and beside a busy core, per task, on a CPU with
    native bf16 and on one without."""
    def machine(folder: str) -> str:
        both, by_task = producer_phases(raw, folder)
        parts = [f"{task} {idle['warm_p50_s']:.1f} s idle / {busy['warm_p50_s']:.1f} s beside a busy core"
                 for task, (idle, busy) in by_task.items()]
        m = both["machine"]
        bf16 = "with" if native_bf16(raw, folder) else "without"
        return (f"on a {m['cpu_cores']}-core {cpu_name(m['cpu'])} {bf16} native bf16 ({both['created'][:10]}): "
                f"{', '.join(parts)}, and the busy core keeps {100 * both['co_load']['keeps']:.0f} % of its own speed")

    return (f"warm served jobs of a 5.94 s clip (p50, submit to done) take {machine(PRODUCER_XEON_AMX)}; "
            f"{machine(PRODUCER_EPYC)}")


MEASURE_GIL = "cpu_epyc/measure_gil"  # issue 27: served jobs with the server measuring beside them, and without


def measure_gil(raw: Raw) -> str:
    """What measuring beside a job cost it (before the measurement waited for the engine): co-loaded warm jobs
    with the server's measurement on and off, the same bench otherwise."""
    runs = {name: {(r["phase"], r["task"]): r for r in raw.json(f"{MEASURE_GIL}/served_{name}.json")["rows"]}
            for name in ("measure", "no_measure")}
    loaded = {name: {task: r for (phase, task), r in rows.items() if phase != "idle"} for name, rows in runs.items()}
    parts = [f"{task} {on['warm_p50_s']:.2f} s (max {on['warm_max_s']:.2f} s) while measuring, "
             f"{loaded['no_measure'][task]['warm_p50_s']:.2f} s (max {loaded['no_measure'][task]['warm_max_s']:.2f} s) "
             "with measurement off" for task, on in loaded["measure"].items()]
    keeps = [raw.json(f"{MEASURE_GIL}/served_{name}.json")["co_load"]["keeps"] for name in ("measure", "no_measure")]
    return (f"beside a busy core, warm p50 {'; '.join(parts)}; the busy core kept {100 * keeps[0]:.1f} % and "
            f"{100 * keeps[1]:.1f} % of its speed")


OPENMP_TEAMS = "cpu_xeon_avx512/openmp_teams"  # issue 27: one OpenMP team in the process, before and after


def openmp_teams(raw: Raw) -> str:
    """What a second OpenMP team in the server cost the engine (libgomp's throttled spin-waiting), and what one
    team per process gives: a stream after a job, jobs measured between them, a stream beside a job that steps
    aside for its windows (started after the stream, or before it). Each case's before ran the runner code of the
    commit it names."""
    lines = ["| case | before | after | before: the runner of |", "|---|---|---|---|"]
    rows = [("stream", "fresh", "stream windows, no job run before"),
            ("stream", "after_job", "stream windows after one job on the worker"),
            ("measured", "jobs", "jobs, each after the last one's measurement (baseline and plot)"),
            ("concurrent", "alone", "stream windows with priority, alone"),
            ("concurrent", "during_job", "stream windows with priority, while a job started after the first "
                                         "steps aside for each"),
            ("job_first", "alone", "stream windows with priority, alone (the run of the row below)"),
            ("job_first", "during_job", "stream windows with priority, while a job started before the stream "
                                        "(two threads) steps aside for each")]
    docs = {(case, when): raw.json(f"{OPENMP_TEAMS}/{case}_{when}.json")
            for case in ("stream", "measured", "concurrent", "job_first") for when in ("before", "after")}
    for case, mode, name in rows:
        before, after = docs[(case, "before")], docs[(case, "after")]
        lines.append(f"| {name} | {before['median_s'][mode]:.2f} s | **{after['median_s'][mode]:.2f} s** | "
                     f"{before['runner_code_of'][:7]} |")
    first = docs[("stream", "before")]
    lines += ["", f"Median seconds of a 5.94 s intensity window or job, {len(first['window_s']['fresh'])} a mode "
              f"(two fresh processes); the after runs at {', '.join(sorted({d['commit'][:7] for (_, w), d in docs.items() if w == 'after'}))}; "
              f"{cpu_name(first['lscpu_model'])} {'with' if first['native_bf16'] else 'without'} native bf16 "
              f"(float32), 2 cores, {first['date'][:10]} (raw: `docs/results/{OPENMP_TEAMS}/`, "
              "`scripts/experiments/openmp_teams.py`)."]
    return block(lines)
