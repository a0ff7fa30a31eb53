"""A live stream's windows on a server that has or has not run a job before (the server's threads as they are:
a long-lived job worker, the stream's producer). With the engine's work on the caller's thread, the worker kept
its OpenMP team after its job and the stream's team then no longer spin-waited (libgomp throttles every team
once the process's OpenMP threads outnumber the cores); ``EngineLock.run`` gives each hold a thread that ends
with it. Run it at two commits to compare; each mode in a fresh process.

Usage: python scripts/experiments/openmp_teams.py --out docs/results/cpu_xeon_avx512/openmp_teams_after.json
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
            start = time.perf_counter()
            runner.window(spec, None, 0.5, lambda: False)
            took.append(time.perf_counter() - start)

    producer = threading.Thread(target=stream)
    producer.start()
    producer.join()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="the JSON to write")
    parser.add_argument("--mode", choices=["fresh", "after_job"], help=argparse.SUPPRESS)  # one mode, in a child
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(windows(args.mode == "after_job")))
        return
    seconds: dict[str, list[float]] = {"fresh": [], "after_job": []}
    for _ in range(2):
        for mode in seconds:
            got = subprocess.run([sys.executable, __file__, "--mode", mode], capture_output=True, text=True, check=True)
            seconds[mode] += json.loads(got.stdout.strip().splitlines()[-1])[1:]
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    record = {
        "what": "seconds of a live stream's intensity windows (5.94 s, two threads, measurement off) in a process "
                "whose long-lived job worker ran one job before the stream (after_job) or none (fresh); "
                f"{WINDOWS - 1} windows a run after the first, two runs a mode",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
        "dirty": bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                     text=True).stdout.strip()),
        "lscpu_model": next((line.split(":", 1)[1].strip() for line in lscpu.splitlines()
                             if line.startswith("Model name")), ""),
        "native_bf16": "avx512_bf16" in lscpu or "amx_bf16" in lscpu,
        "window_s": {mode: [round(s, 3) for s in v] for mode, v in seconds.items()},
        "median_s": {mode: round(statistics.median(v), 3) for mode, v in seconds.items()},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record["median_s"]))


if __name__ == "__main__":
    main()
