"""One OpenMP team in the process (issue 27). libgomp stops spin-waiting in every team once the process's OpenMP
threads outnumber the cores, so a second team (any long-lived thread that ran torch in parallel) slows the
engine's. Two cases, each mode in a fresh process; run it at two commits to compare:

- ``stream``: a live stream's windows on a server whose long-lived job worker has run a job before (after_job)
  or none (fresh). The engine's work on the caller's thread left the worker its team (``EngineLock.run``: a
  thread per hold that ends with it).
- ``concurrent``: priority stream windows alone, or while a long plain job started after the first window steps
  aside for each (such a job runs one thread: ``ThreadGovernor.apply(streaming=True)``).
- ``job_first``: the same, the job started before the stream (no window in the last ``STREAM_GAP_S``), so with
  both threads: its paused thread's team lived on beside the window's until it ended its team when stepping
  aside (``release_openmp_team``).
- ``measured``: jobs submitted one after another, each once the last one's measurement (baseline and plot on,
  as ``demo`` runs them) is done: the measurement thread's team (``background_thread``: one torch thread).

Usage: python scripts/experiments/openmp_teams.py --case stream --out docs/results/cpu_xeon_avx512/openmp_teams/stream_after.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported in the child, after its torch threads are set
    from ditto_live.generation.jobspec import JobSpec
    from ditto_live.runner.jobs import JobRunner

WINDOWS = 6  # stream windows per mode; the first (a fresh thread's warm-up) is dropped


def windows(after_job: bool) -> list[float]:
    """Seconds of each stream window (intensity, two threads) in this process, after one job on a long-lived
    worker thread when ``after_job``."""
    import torch

    torch.set_num_threads(1)  # as the server's main thread: it runs no team of its own
    from thread_scaling import served_job  # this folder's: the runner as the server builds it

    runner, spec = served_job("intensity", 2, Path(tempfile.mkdtemp()))
    jobs: queue.Queue[Callable[[], object]] = queue.Queue()

    def worker() -> None:  # the server's job worker: it lives on after its job
        while True:
            jobs.get()()
            jobs.task_done()

    threading.Thread(target=worker, daemon=True).start()
    if after_job:
        jobs.put(lambda: runner.run(spec))
        jobs.join()
    took: list[float] = []

    def stream() -> None:  # the stream's producer
        for _ in range(WINDOWS):
            took.append(timed_window(runner, spec))

    producer = threading.Thread(target=stream)
    producer.start()
    producer.join()
    return took


def windows_beside_a_job(during_job: bool, job_first: bool = False) -> list[float]:
    """Seconds of each stream window (intensity, a deadline far enough never to stop it early, so the window has
    priority; threads as the server chooses them) alone, or while a long plain job, started after the first
    window, steps aside for each: a paused job thread with an OpenMP team slows the window's. ``job_first``: the
    job starts once the warm-up window is ``STREAM_GAP_S`` old, as a job started before the stream."""
    import dataclasses

    import torch

    torch.set_num_threads(1)  # as the server's main thread
    from thread_scaling import served_job

    runner, spec = served_job("intensity", 0, Path(tempfile.mkdtemp()))  # threads chosen by the server's rules
    window = dataclasses.replace(spec, deadline_s=60.0)
    runner.window(window, None, 0.5, lambda: False)  # warm, before the job
    if job_first:
        from ditto_live.runner.jobs import STREAM_GAP_S

        time.sleep(STREAM_GAP_S + 0.5)
    stop = threading.Event()
    job = threading.Thread(target=lambda: runner.run(dataclasses.replace(spec, steps=10_000), is_cancelled=stop.is_set))
    if during_job:
        job.start()
        time.sleep(2.0)
    took = [timed_window(runner, window) for _ in range(WINDOWS)]
    stop.set()
    if during_job:
        job.join()
    return took


def timed_window(runner: JobRunner, window: JobSpec) -> float:
    """Seconds of one stream window (no opening, never cancelled)."""
    start = time.perf_counter()
    runner.window(window, None, 0.5, lambda: False)
    return time.perf_counter() - start


def measured_jobs() -> list[float]:
    """Seconds of each intensity job (two threads) run on a long-lived worker, each submitted once the last one's
    measurement (with the unoptimised baseline and the plot) is done."""
    import torch

    torch.set_num_threads(1)  # as the server's main thread
    from ditto_live.bench.stages import task_job, write_reference
    from ditto_live.engine.audio import PRESETS
    from ditto_live.generation.jobspec import parse_job
    from ditto_live.runner.cpu import ThreadGovernor
    from ditto_live.runner.jobs import JobRunner

    folder = Path(tempfile.mkdtemp())
    runner = JobRunner(output_dir=str(folder / "out"), allowed_roots=[str(folder)], measure=True,
                       measure_baseline=True, plot=True, governor=ThreadGovernor(fixed=2))
    spec = parse_job(task_job("intensity", 5.9443, str(write_reference(folder, PRESETS["tiny"], 5.9443)))
                     | {"name": "experiment"})
    jobs: queue.Queue[Callable[[], object]] = queue.Queue()

    def worker() -> None:
        while True:
            jobs.get()()
            jobs.task_done()

    threading.Thread(target=worker, daemon=True).start()
    took: list[float] = []

    def job() -> None:
        start = time.perf_counter()
        result = runner.run(spec)
        took.append(time.perf_counter() - start)
        result.wait()  # its measurement, before the next job (a producer listens first)

    for _ in range(WINDOWS):
        jobs.put(job)
        jobs.join()
    return took


MODES = {"stream": {"fresh": lambda: windows(False), "after_job": lambda: windows(True)},
         "concurrent": {"alone": lambda: windows_beside_a_job(False), "during_job": lambda: windows_beside_a_job(True)},
         "job_first": {"alone": lambda: windows_beside_a_job(False, True),
                       "during_job": lambda: windows_beside_a_job(True, True)},
         "measured": {"jobs": measured_jobs}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="the JSON to write")
    parser.add_argument("--case", choices=list(MODES), default="stream")
    parser.add_argument("--runner-of", default="", help="the commit whose ditto_live/runner/ was checked out for "
                        "this run (a before run), recorded")
    parser.add_argument("--mode", help=argparse.SUPPRESS)  # one mode, in a child process
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(MODES[args.case][args.mode]()))
        return
    seconds: dict[str, list[float]] = {mode: [] for mode in MODES[args.case]}
    for _ in range(2):
        for mode in seconds:
            got = subprocess.run([sys.executable, __file__, "--case", args.case, "--mode", mode], capture_output=True,
                                 text=True, check=True)
            seconds[mode] += json.loads(got.stdout.strip().splitlines()[-1])[1:]
    from ditto_live.bench.report import cpu_record  # after the children: this process ran no engine work

    record = {
        "what": {"stream": "seconds of a live stream's intensity windows (5.94 s, two threads, measurement off) in "
                           "a process whose long-lived job worker ran one job before the stream (after_job) or none "
                           "(fresh)",
                 "concurrent": "seconds of a live stream's intensity windows (5.94 s, threads as the server "
                               "chooses, priority: a 60 s deadline) alone or while a long plain job started after "
                               "the first window steps aside for each",
                 "job_first": "seconds of a live stream's intensity windows (5.94 s, threads as the server "
                              "chooses, priority: a 60 s deadline) alone or while a long plain job started before "
                              "the stream (no window in the last 10 s: two threads) steps aside for each",
                 "measured": "seconds of intensity jobs (5.94 s, two threads) on a long-lived worker, each with its "
                             "measurement (baseline and plot on), one after another"}[args.case]
                + f"; {WINDOWS - 1} a run after the first, two runs a mode",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
        "dirty": bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                     text=True).stdout.strip()),
        "runner_code_of": args.runner_of or "commit",
        **cpu_record(),
        "window_s": {mode: [round(s, 3) for s in v] for mode, v in seconds.items()},
        "median_s": {mode: round(statistics.median(v), 3) for mode, v in seconds.items()},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record["median_s"]))


if __name__ == "__main__":
    main()
