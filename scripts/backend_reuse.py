"""Issue 27.4's measurement: two intensity jobs in one process on ``--backend exported``, the second with
other targets and another seed; prints (and writes with --json) each job's preparation and job seconds.

    python scripts/backend_reuse.py --json docs/results/cpu_xeon/backend_reuse.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import torch

from ditto_live.engine.audio import MelFrontEnd
from ditto_live.engine.backends import default_autocast
from ditto_live.generation.execution import Backends
from ditto_live.generation.jobspec import parse_job
from ditto_live.generation.models import load_bundle
from ditto_live.generation.pipeline import Engine, generate, plan_job

JOBS = [  # the second job: another curve and another seed, same model, shape and batch
    {"model": "default", "seed": 0, "controls": [{"type": "intensity", "shape": "crescendo"}]},
    {"model": "default", "seed": 1, "controls": [{"type": "intensity", "shape": "swell"}]},
]


def lscpu() -> dict[str, str]:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    rows = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return {k.strip(): v.strip() for k, v in rows.items() if k.strip() in ("Model name", "CPU(s)", "Flags")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="exported")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    load_before = os.getloadavg()  # the machine is shared: its load is part of the figures
    bundle = load_bundle("default", "cpu")
    autocast = default_autocast("cpu")
    engine = Engine("cpu", autocast=autocast, backends=Backends(args.backend, "cpu"))
    jobs = []
    for raw in JOBS:
        spec = parse_job(raw)
        plan = plan_job(spec, bundle, "cpu", [], MelFrontEnd(bundle.mel_config))
        start = time.perf_counter()
        gen = generate(plan, engine, unoptimised=False)
        job_s = time.perf_counter() - start
        (window,) = gen.windows
        jobs.append({"job": raw, "K": plan.steps, "steps_run": window["steps_run"], "job_s": round(job_s, 3),
                     "optimise_s": window["seconds"], "backend": window["backend"],
                     "backend_fallback": window["backend_fallback"],
                     "backend_prepare_s": window["backend_prepare_s"], "parity_checked": window["parity_checked"],
                     "graph_reused": window["graph_reused"], "decoder_prepare_s": window["decoder_prepare_s"],
                     "prepare_share": round((window["backend_prepare_s"] + window["decoder_prepare_s"]) / job_s, 4),
                     "surrogate_loss_after": window["surrogate_loss_after"]})
        print(json.dumps(jobs[-1]))
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    record = {"command": f"python scripts/backend_reuse.py --backend {args.backend}"
                         + (f" --json {args.json}" if args.json else ""),
              "commit": commit, "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
              "machine": {**lscpu(), "python": platform.python_version(), "torch": torch.__version__},
              "precision": "bf16 autocast" if autocast else "fp32", "threads": torch.get_num_threads(),
              "load_average_1_5_15min": {"start": load_before, "end": os.getloadavg()},
              "model": "default", "jobs": jobs}
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
