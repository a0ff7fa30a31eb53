"""Issue 27: two gradients at once on two cores, each step applying the gradient one iterate late
(``engine/pipelined.py``), against today's one gradient on two threads. An experiment, not a product setting.

  eval -- ARGS      `ditto-live eval ARGS` with DITTO-2's eager ITO steps run by the late-gradient stepper (the
                    iterates do not depend on how many gradients run at once, so a one-thread evaluation gives
                    the same numbers as two; judge on val before anything else)
  time --out FILE   one warm served job per control, its ITO timed three ways: today's stepper on two threads
                    and on one, and the late gradient two at a time (each on one thread), with the seconds of
                    each gradient; the raw JSON for docs/bench.md

Usage: python scripts/experiments/late_gradient.py eval -- eval --suite table1 --tasks melody --split val ...
       python scripts/experiments/late_gradient.py time --out docs/results/<machine>/late_gradient/timing.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from ditto_live.engine import backends, pipelined
from ditto_live.generation import execution, pipeline

TASKS = ("intensity", "melody", "structure")
JOBS = 5  # timed warm jobs per way and control


def use(maker: backends.StepperMaker) -> None:
    """DITTO-2's eager ITO steps run by ``maker`` (the pipeline's and the backends' eager maker)."""
    execution.eager_stepper = pipeline.eager_stepper = maker  # type: ignore[assignment]


def timed_gradients() -> list[float]:
    """Wrap the late-gradient stepper's gradient so that each call's seconds are kept. -> the list it fills"""
    seconds: list[float] = []
    real = pipelined.gradient

    def gradient(objective: backends.Objective, x: torch.Tensor) -> pipelined.Gradient:
        start = time.perf_counter()
        got = real(objective, x)
        seconds.append(time.perf_counter() - start)
        return got

    pipelined.gradient = gradient  # type: ignore[assignment]
    return seconds


def time_ways(out: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from thread_scaling import served_job

    torch.set_num_threads(1)  # the main thread keeps no OpenMP team (the jobs run on their own threads)
    gradients = timed_gradients()
    late = pipelined.pipelined_stepper(lambda: 2)
    record: dict[str, Any] = {"tasks": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for task in TASKS:
            ways = {"today, 2 threads": (backends.eager_stepper, 2), "today, 1 thread": (backends.eager_stepper, 1),
                    "late gradient, two at once": (late, 2)}
            runners = {name: served_job(task, threads, Path(tmp)) for name, (_, threads) in ways.items()}
            ito: dict[str, list[float]] = {name: [] for name in ways}
            per_gradient: list[float] = []
            for r in range(JOBS + 1):  # the first round warms
                for name, (maker, _) in ways.items():
                    use(maker)
                    gradients.clear()
                    runner, spec = runners[name]
                    result = runner.run(spec)
                    if r:
                        ito[name].append(sum(w["seconds"] for w in result.summary["ito"]))
                        if maker is late:
                            per_gradient += gradients
            record["tasks"][task] = {
                "ito_s_median": {name: round(statistics.median(v), 3) for name, v in ito.items()},
                "late_gradient_ms_median": round(1000 * statistics.median(per_gradient), 1),
                "steps": result.summary["steps"]}
            print(task, json.dumps(record["tasks"][task]), flush=True)
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    record |= {
        "what": "one warm served job's ITO seconds (JobRunner, measurement off), median of "
                f"{JOBS}: today's stepper at 2 and 1 threads, the late gradient two at a time (each on one thread), "
                "and the late gradient's seconds per gradient (two running side by side)",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
        "torch": torch.__version__,
        "lscpu_model": next((line.split(":", 1)[1].strip() for line in lscpu.splitlines()
                             if line.startswith("Model name")), ""),
        "native_bf16": "avx512_bf16" in lscpu or "amx_bf16" in lscpu}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("eval", "time"))
    ap.add_argument("--out", type=Path, help="time: the JSON to write")
    args, rest = ap.parse_known_args()
    if args.mode == "time":
        if args.out is None:
            ap.error("time needs --out FILE")
        time_ways(args.out)
        return 0
    rest = rest[1:] if rest and rest[0] == "--" else rest
    use(pipelined.pipelined_stepper(lambda: 1))
    print("late-gradient ITO (one gradient at a time: the same iterates as two)", file=sys.stderr)
    from ditto_live.cli import main as cli

    return cli(rest)


if __name__ == "__main__":
    sys.exit(main())
