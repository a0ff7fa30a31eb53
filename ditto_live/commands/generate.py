"""`ditto-live generate`: one clip under controls, written as OUT.wav, OUT.json (sidecar) and OUT.png.

Every control of the job language has flags, declared by its kind (``Kind.cli`` in ``ditto_live/controls/``,
read here from KINDS; docs/controls.md); ``--job FILE`` reads a whole job (the JSON the server takes) and any
flag given on top of it overrides or adds to it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from ditto_live.controls import KINDS, CliHelpers
from ditto_live.engine.backend_names import BACKEND_CHOICES
from ditto_live.errors import UsageError
from ditto_live.generation.methods import METHODS, STUDENTS

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model and method")
    g.add_argument("--model", help="bundled model name or bundle folder (default: settings; 'tiny-untrained' "
                   "builds random weights in memory to exercise the pipeline)")
    g.add_argument("--method", choices=tuple(METHODS),
                   help="; ".join(f"{name}: {m.summary}" for name, m in METHODS.items()))
    g.add_argument("--student", choices=STUDENTS, help="distilled student for ditto2")
    g.add_argument("--device", help="cpu, cuda or auto")
    g.add_argument("--job", metavar="JSON_FILE", help="a job file (the server's job language); flags override it")
    c = p.add_argument_group("controls")
    for kind in KINDS.values():
        for flag, kwargs in kind.cli.flags if kind.cli else ():
            c.add_argument(flag, **kwargs)
    c.add_argument("--unit", choices=("beats", "seconds", "bars"), default="beats",
                   help="time unit of --notes and --intensity-points (default beats)")
    c.add_argument("--weight", action="append", default=[], metavar="CONTROL=W",
                   help="weight of one control's loss, e.g. --weight melody=2 (repeatable)")
    t = p.add_argument_group("clip")
    t.add_argument("--genre")
    t.add_argument("--mood")
    t.add_argument("--instrument")
    t.add_argument("--bpm", type=float, help="tempo: beats in notes and curves, and the tempo tag (default 120)")
    t.add_argument("--bars", type=float, help="clip length in bars of 4 beats")
    t.add_argument("--seconds", type=float, help="clip length in seconds (default: one model window, 5.94 s)")
    t.add_argument("--seed", type=int)
    o = p.add_argument_group("optimisation and decoding")
    o.add_argument("--steps", type=int, help="K optimisation steps (default: 70 intensity/painting, 150 melody/structure)")
    o.add_argument("--lr", type=float, help="Adam learning rate on x_T (default: the controls', the smallest of theirs)")
    o.add_argument("--surrogate", help="M steps of the student per optimisation step: 1, 2, ... or adaptive")
    o.add_argument("--decode-steps", type=int, help="T decoding steps (1-8; 0 = the controls' default: "
                                                                "1 with a melody, else 2)")
    o.add_argument("--gamma", type=float, help="CTM gamma-sampling stochasticity")
    o.add_argument("--cfg", dest="cfg_weight", type=float, metavar="W", help="classifier-free guidance weight w")
    o.add_argument("--seeds", type=int, help="B seeds optimised together; the best is kept")
    o.add_argument("--tolerance", type=float, help="stop early when the control loss falls below this")
    o.add_argument("--backend", choices=BACKEND_CHOICES,
                   help="execution backend (engine.backend; auto = fastest measured for the device)")
    o.add_argument("--autocast", action=argparse.BooleanOptionalAction, default=None,
                   help="bf16 autocast of model calls while optimising (default: on a CPU with native bf16)")
    w = p.add_argument_group("output")
    w.add_argument("--sample-rate", type=int, help="resample the WAV to 44100 or 48000")
    w.add_argument("--out", metavar="PREFIX", help="write PREFIX.wav, PREFIX.json, PREFIX.png "
                   "(default: a unique name in the output folder)")
    w.add_argument("--no-plot", action="store_true", help="skip the PNG")
    w.add_argument("--no-baseline", action="store_true", help="skip measuring the unoptimised output")
    w.add_argument("--no-measure", action="store_true", help="skip measuring adherence on the audio")


def _json_arg(text: str, flag: str) -> Any:
    try:
        return json.loads(Path(text).read_text() if os.path.isfile(text) else text)
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"{flag}: expected JSON or a JSON file ({exc})") from exc


def _path(text: str) -> str:
    return str(Path(text).expanduser().absolute())


def job_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The job dict the flags describe (on top of --job), with the settings' defaults filled in."""
    g = args.cfg.generate
    job: dict[str, Any] = {}
    if args.job:
        job = _json_arg(_path(args.job), "--job")
        if not isinstance(job, dict):
            raise UsageError("--job: expected a JSON object")
    defaults = {"model": g.model, "method": g.method, "student": g.student, "steps": g.steps, "lr": g.lr,
                "surrogate": g.surrogate, "decode_steps": g.decode_steps, "gamma": g.gamma, "cfg": g.cfg,
                "seeds": g.seeds, "tolerance": g.tolerance, "sample_rate_out": g.sample_rate_out}
    for key, value in defaults.items():
        job.setdefault(key, value)
    flags = {"model": args.model, "method": args.method, "student": args.student, "bpm": args.bpm,
             "bars": args.bars, "seconds": args.seconds, "seed": args.seed, "steps": args.steps, "lr": args.lr,
             "surrogate": args.surrogate, "decode_steps": args.decode_steps, "gamma": args.gamma, "cfg": args.cfg_weight,
             "seeds": args.seeds, "tolerance": args.tolerance, "sample_rate_out": args.sample_rate}
    job.update({k: v for k, v in flags.items() if v is not None})
    tags = dict(job.get("tags", {}))
    tags.update({k: v for k, v in (("genre", args.genre), ("mood", args.mood), ("instrument", args.instrument)) if v})
    if tags:
        job["tags"] = tags
    controls = list(job.get("controls", []))
    helpers = CliHelpers(json=_json_arg, path=_path)
    for kind in KINDS.values():  # in the table's order
        if kind.cli:
            controls += kind.cli.controls(args, helpers)
    for item in args.weight:
        name, _, value = item.partition("=")
        try:
            weight = float(value)
        except ValueError as exc:
            raise UsageError(f"--weight {item!r}: expected CONTROL=NUMBER") from exc
        hits = [c for c in controls if c.get("type") == name]
        if not hits:
            raise UsageError(f"--weight {item!r}: no {name} control in this job")
        for c in hits:
            c["weight"] = weight
    job["controls"] = controls
    return job


def run(args: argparse.Namespace) -> int:
    from ditto_live.engine.ito import JobCancelled
    from ditto_live.generation.jobspec import parse_job
    from ditto_live.runner.jobs import JobRunner

    spec = parse_job(job_from_args(args))
    prefix = None
    if args.out:
        prefix = _path(args.out)
        Path(prefix).parent.mkdir(parents=True, exist_ok=True)
    engine = args.cfg.engine
    runner = JobRunner(output_dir=args.cfg.server.output_dir, allowed_roots=("/",),
                       device=args.device or args.cfg.generate.device, plot=not args.no_plot,
                       measure_baseline=not args.no_baseline, autocast=args.autocast,  # None: the runner's default
                       laion_clap=args.cfg.generate.laion_clap, backend=args.backend or engine.backend,
                       measure=engine.measure and not args.no_measure)
    last = [0.0]

    def progress(stage: str, step: int, total: int, loss: float) -> None:
        now = time.monotonic()
        if stage != "optimise":
            log.info("%s", stage)
        elif now - last[0] > 2.0 or step == total:
            last[0] = now
            log.info("optimise %d/%d  loss %.4g", step, total, loss)

    try:
        result = runner.run(spec, progress, out_prefix=prefix)
    except JobCancelled as exc:
        raise UsageError(f"cancelled: {exc}") from exc
    s = result.wait()  # the measurement follows the delivered WAV
    log.info("wrote %s (%.2f s) in %.1f s; timings ms: %s", result.wav_path, s["seconds"],
             sum(s["timings_ms"].values()) / 1000, s["timings_ms"])
    for name, values in s["metrics"].get("output", {}).items():
        before = s["metrics"].get("unoptimised", {}).get(name)
        log.info("  %s: %.4g%s", name, values, "" if before is None else f" (unoptimised {before:.4g})")
    return 0
