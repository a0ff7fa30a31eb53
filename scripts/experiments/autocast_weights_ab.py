"""Issue 27: what the bf16-weight copy of the student (``Engine.ito_model``) saves a served job under autocast.
The same warm intensity job in a worker thread (measurement off), with the copy and with the float32 weights
(autocast casting them at every call), at two threads and one, interleaved over two rounds; median job seconds.

Usage: python scripts/experiments/autocast_weights_ab.py --task intensity --out docs/results/cpu_xeon_amx/autocast_weights.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from thread_scaling import in_worker, served_job  # this folder's: the runner as the server builds it

from ditto_live.bench.report import cpu_record
from ditto_live.engine.backends import default_autocast
from ditto_live.generation.pipeline import Engine

JOBS = 4  # per (variant, threads, round); the first is dropped as a warm-up


def timed_jobs(task: str, threads: int, folder: Path) -> list[float]:
    """Seconds of ``JOBS`` jobs in a worker thread, the first (warm-up) dropped."""
    runner, spec = served_job(task, threads, folder)
    took: list[float] = []

    def work() -> None:
        for _ in range(JOBS):
            start = time.perf_counter()
            runner.run(spec)
            took.append(time.perf_counter() - start)

    in_worker(work)
    return took[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="intensity")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if not default_autocast("cpu"):
        raise SystemExit("this CPU does not compute bf16 natively: the server runs float32 and makes no copy")
    copy_on = Engine.ito_model
    variants = {"bf16 weight copy": copy_on, "float32 weights": lambda self, model: model}
    seconds: dict[str, dict[int, list[float]]] = {name: {2: [], 1: []} for name in variants}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(2):
            for name, ito_model in variants.items():
                Engine.ito_model = ito_model  # type: ignore[method-assign]
                for threads in (2, 1):
                    seconds[name][threads] += timed_jobs(args.task, threads, Path(tmp))
    Engine.ito_model = copy_on  # type: ignore[method-assign]
    record = {
        "what": "median seconds of a warm served job's engine work (JobRunner.run in a worker thread, measurement "
                "off), with and without the bf16-weight copy, bf16 autocast",
        "task": args.task, "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
        **cpu_record(),
        "jobs_per_cell": 2 * (JOBS - 1),
        "median_s": {name: {str(n): round(statistics.median(v), 3) for n, v in by.items()}
                     for name, by in seconds.items()},
    }
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record["median_s"]))


if __name__ == "__main__":
    main()
