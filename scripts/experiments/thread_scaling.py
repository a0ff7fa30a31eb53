"""Issue 27: where a second thread helps and where it does not. One served job's engine work (``JobRunner.run``
in a worker thread, measurement off) profiled at one and at two threads; per operator, its own time in each.
The profiler records the thread it runs in, so it runs inside the engine's own thread (``EngineLock.run``).

Usage: python scripts/experiments/thread_scaling.py --task intensity --out docs/results/cpu_xeon_amx/thread_scaling.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from torch.profiler import ProfilerActivity, profile

from ditto_live.bench.report import cpu_record
from ditto_live.bench.stages import task_job, write_reference
from ditto_live.engine.audio import PRESETS
from ditto_live.generation.jobspec import JobSpec, parse_job
from ditto_live.runner.cpu import ThreadGovernor
from ditto_live.runner.engine_lock import EngineLock
from ditto_live.runner.jobs import JobRunner

TOP = 25  # operators kept, by their one-thread time
T = TypeVar("T")


class ProfiledEngine(EngineLock):
    """The engine lock, with the engine's work profiled on its own thread while ``on`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.on = False
        self.own_ms: dict[str, float] = {}  # operator -> own ms, summed over the profiled holds

    def run(self, work: Callable[[Callable[[], bool]], T], priority: bool = False,
            is_cancelled: Callable[[], bool] | None = None, name: str = "ditto-engine") -> T:
        if not self.on:
            return super().run(work, priority, is_cancelled, name)

        def profiled(cancelled: Callable[[], bool]) -> T:
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                value = work(cancelled)
            for e in prof.key_averages():
                self.own_ms[e.key] = self.own_ms.get(e.key, 0.0) + e.self_cpu_time_total / 1000
            return value

        return super().run(profiled, priority, is_cancelled, name)


def served_job(task: str, threads: int, folder: Path) -> tuple[JobRunner, JobSpec]:
    """A runner as the server builds it (``threads`` pinned, measurement off) and the bench's job for ``task``."""
    runner = JobRunner(output_dir=str(folder / "out"), allowed_roots=[str(folder)], measure=False,
                       governor=ThreadGovernor(fixed=threads))
    reference = write_reference(folder, PRESETS["tiny"], 5.9443)
    return runner, parse_job(task_job(task, 5.9443, str(reference)) | {"name": "experiment"})


def in_worker(work: Callable[[], None]) -> None:
    """Run ``work`` in a worker thread, as the server runs its jobs (OpenMP's thread count is per thread)."""
    worker = threading.Thread(target=work)
    worker.start()
    worker.join()


def profiled_job(task: str, threads: int, folder: Path) -> tuple[dict[str, float], float]:
    """One warm job at ``threads`` in a worker thread, as the server runs it. -> ({operator: own ms}, job s)"""
    runner, spec = served_job(task, threads, folder)
    engine = runner.engine = ProfiledEngine()
    got: dict[str, Any] = {}

    def work() -> None:
        runner.run(spec)
        runner.run(spec)  # warm
        start = time.perf_counter()
        runner.run(spec)
        got["job_s"] = time.perf_counter() - start  # unprofiled
        engine.on = True
        runner.run(spec)

    in_worker(work)
    return engine.own_ms, got["job_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="intensity")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = {n: profiled_job(args.task, n, Path(tmp)) for n in (1, 2)}
    (one, one_s), (two, two_s) = runs[1], runs[2]
    top = sorted(one, key=lambda k: -one[k])[:TOP]
    record = {
        "what": "one warm served job's engine work profiled (torch.profiler, own time per operator) at 1 and 2 threads; "
                "job_s: the same job unprofiled, submit to return",
        "task": args.task, "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
        **cpu_record(),
        "job_s": {"1": round(one_s, 3), "2": round(two_s, 3)},
        "own_ms_total": {"1": round(sum(one.values()), 1), "2": round(sum(two.values()), 1)},
        "operators": [{"name": k, "ms_1_thread": round(one[k], 1), "ms_2_threads": round(two.get(k, 0.0), 1)}
                      for k in top],
    }
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
    for row in record["operators"][:10]:
        print(f"{row['name'][:45]:45s} {row['ms_1_thread']:8.1f} {row['ms_2_threads']:8.1f}")
    print("job s", record["job_s"])


if __name__ == "__main__":
    main()
