"""CPU time per ITO step of the intensity objectives, one torch thread, as a served job runs them (issue 33).

An experiment kept in scripts/experiments/: docs/results/intensity_objective/step_cost.json is its output.
For each objective (the mel term alone, the audible term with the vocoder's backward, the audible term straight
through the mel's power, the mix of the mel term and the latter) it optimises one crescendo window of the
default bundle with DITTO-2 (CTM, M = 1) for K steps, eager, bf16 autocast as a job on this CPU, and reads
``time.thread_time`` around the optimisation: the CPU seconds of this process's one thread, so other work on
a shared machine costs it little. Objectives are interleaved over ``--reps`` rounds; the minimum per step is
reported with every round's figure.

Usage: OMP_NUM_THREADS=1 python scripts/experiments/intensity_step_cost.py --steps 20 --reps 3 --out FILE.json
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import inspect
import json
import subprocess
import time
from pathlib import Path

import torch

OBJECTIVES = {  # name -> (mel_weight, audible_weight, straight_through)
    "mel (before issue 33)": (1.0, 0.0, False),
    "audible, vocoder backward": (0.0, 1.0, False),
    "audible, straight through": (0.0, 1.0, True),
    "mel + audible straight through": (1.0, 1.0, True),
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--model", default="default")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)

    import ditto_live.controls.intensity as kind
    from ditto_live.bench.report import cpu_record
    from ditto_live.engine.audio import MelFrontEnd
    from ditto_live.engine.backends import default_autocast
    from ditto_live.engine.conditioning import Cond
    from ditto_live.engine.controls import loss_function
    from ditto_live.evaluation.suites import machine_info
    from ditto_live.generation.jobspec import parse_job
    from ditto_live.generation.models import load_bundle
    from ditto_live.generation.pipeline import Backends, Engine, optimise, plan_job, window_noise
    from ditto_live.generation.targets import window_controls

    bundle = load_bundle(args.model)
    front = MelFrontEnd(bundle.mel_config)
    autocast = default_autocast("cpu")
    per_step: dict[str, list[float]] = {name: [] for name in OBJECTIVES}
    for _ in range(args.reps):
        for name, (mel_w, audible_w, through) in OBJECTIVES.items():
            kind.OBJECTIVE = dataclasses.replace(kind.OBJECTIVE, mel_weight=mel_w, audible_weight=audible_w,
                                                 straight_through=through)
            spec = parse_job({"model": args.model, "seed": 0, "steps": args.steps,
                              "controls": [{"type": "intensity", "shape": "crescendo"}]})
            plan = plan_job(spec, bundle, "cpu", (), front)
            controls = window_controls(plan.targets, bundle.mel_config, 0, plan.frames, device="cpu",
                                       vocoder=plan.vocoder)
            x_T, noise_seed = window_noise(0, 0, 1, bundle.mel_config, "cpu")
            engine = Engine("cpu", autocast=autocast, backends=Backends("eager", "cpu"))
            takes_controls = "from_sketch" in inspect.signature(optimise).parameters  # the pipeline's newer API
            objective = controls if takes_controls else loss_function(controls)
            start = time.thread_time()
            res, _ = optimise(plan, engine, x_T, Cond(plan.tags[None], w=spec.cfg), objective, noise_seed)
            per_step[name].append((time.thread_time() - start) / res.steps_run)
    base = min(per_step["mel (before issue 33)"])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    record = {
        "command": "OMP_NUM_THREADS=1 python scripts/experiments/intensity_step_cost.py "
                   f"--steps {args.steps} --reps {args.reps} --model {args.model} --out {args.out}",
        "commit": commit, "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine_info("cpu"), **cpu_record(),
        "threads": 1, "precision": "bf16 autocast (model calls), losses float32" if autocast else "float32",
        "backend": "eager", "weights": f"trained ({args.model})", "steps": args.steps,
        "clock": "time.thread_time around the optimisation, per step",
        "ms_per_step": {name: [round(v * 1000, 1) for v in vals] for name, vals in per_step.items()},
        "min_ms_per_step": {name: round(min(vals) * 1000, 1) for name, vals in per_step.items()},
        "ratio_to_mel": {name: round(min(vals) / base, 3) for name, vals in per_step.items()},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
