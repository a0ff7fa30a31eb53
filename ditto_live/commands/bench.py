"""`ditto-live bench`: time every stage of DITTO and DITTO-2 and report real-time factors (docs/bench.md)."""

from __future__ import annotations

import argparse
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ditto_live.engine.backend_names import BACKENDS
from ditto_live.errors import UsageError
from ditto_live.generation.methods import bench_names

if TYPE_CHECKING:
    from ditto_live.bench.stages import BenchConfig

log = logging.getLogger(__name__)


def _list(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def add_arguments(p: argparse.ArgumentParser) -> None:
    s = p.add_argument_group("through the server (--server): submit-to-done latency over OSC, what users wait for")
    s.add_argument("--server", action="store_true",
                   help="start `ditto-live serve` as its own process (or --connect to one), send jobs over OSC on "
                   "loopback one at a time, report the fresh server's first job and warm p50/p95/max per task")
    s.add_argument("--connect", metavar="HOST:PORT", default="", help="time a running server instead of starting one")
    s.add_argument("--jobs", type=int, default=6, help="warm jobs per task with --server (default 6)")
    s.add_argument("--keep-numba-cache", action="store_true",
                   help="with --server: start the server with the numba cache as found (default: a new, empty one)")
    s.add_argument("--no-measure", action="store_true", help="with --server: the server does not measure adherence")
    s.add_argument("--co-load", type=int, default=0, metavar="N",
                   help="with --server or --stream: run again beside N busy processes (a stand-in for the DAW) "
                   "and report how much of its speed alone the co-load keeps (default 0: idle only)")
    t = p.add_argument_group("the live stream (--stream): what a performer hears, window by window")
    t.add_argument("--stream", action="store_true",
                   help="start `ditto-live serve --stream` as its own process, stream over OSC into its [audio] output "
                   "and report each window's generation time against its audio, the ITO steps its deadline left, and "
                   "the underruns; --co-load N streams again beside N busy processes")
    t.add_argument("--windows", type=int, default=8, help="with --stream: windows followed after the first (default 8)")
    t.add_argument("--stream-control", choices=("intensity", "none"), default="intensity",
                   help="with --stream: the windows follow an intensity swell, or only continue (default intensity)")
    p.add_argument("--preset", choices=("tiny", "paper"), default="tiny", help="mel + UNet preset (default tiny)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--model", default="random",
                   help="'random' (random weights of the preset; fine for timing) or a bundle name/folder")
    p.add_argument("--tasks", default="intensity,melody",
                   help="comma list of intensity, melody, structure, inpaint, outpaint (default intensity,melody)")
    names = bench_names()
    p.add_argument("--methods", default=",".join(names), help=f"comma list of {', '.join(names)} (default all)")
    p.add_argument("--settings", default="M1T2",
                   help="DITTO-2 (M, T) settings, e.g. M1T1,M1T2,M1T4,M2T2,M2T4,MaT4 (Ma = adaptive M); "
                   "'paper' = all of the paper's Table 2")
    p.add_argument("--backend", default="eager",
                   help="comma list of execution backends for DITTO-2's ITO steps and decoding, each timed: "
                   f"{', '.join(BACKENDS)} (default eager)")
    p.add_argument("--baseline-backend", default="eager",
                   help="backend of the DITTO baseline (default eager); 'cudagraph,eager' falls back to eager "
                   "when cudagraph is refused (the refusal is reported, the row names the backend used)")
    p.add_argument("--seeds", default="1", help="comma list of batch sizes B, e.g. 1,4 (default 1)")
    p.add_argument("--repeats", type=int, default=2, help="warm runs after each cold run (default 2)")
    p.add_argument("--baseline-repeats", type=int, help="warm runs of DITTO (default: --repeats; 0 = cold only)")
    p.add_argument("--steps", type=int, default=0, help="K for every task (default: 70 intensity/painting, "
                   "150 melody/structure); the JSON records the K used")
    p.add_argument("--frames", type=int, default=0, help="mel frames per clip (default: the preset's 512 = 5.94 s)")
    p.add_argument("--bf16", action="store_true", help="bf16 weights + channels-last (GPU), under bf16 autocast")
    p.add_argument("--autocast", action=argparse.BooleanOptionalAction, default=None,
                   help="bf16 autocast of the model calls (default: as generate, on a CPU with native bf16)")
    p.add_argument("--vocoder", choices=("neural", "griffin-lim"), default="neural",
                   help="neural (the bundle's, else random weights of the preset's size) or griffin-lim")
    p.add_argument("--compiler", default="inductor", help="torch.compile backend for --backend compiled")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's)")
    p.add_argument("--out-dir", default="bench_out", help="folder for the WAVs and sidecars (default bench_out)")
    p.add_argument("--json", metavar="FILE", help="write the full results as JSON (rewritten after each configuration)")
    p.add_argument("--markdown", metavar="FILE", help="write the table as markdown")


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    from ditto_live.bench.stages import BENCH_METHODS, PAPER_SETTINGS, TASKS, BenchConfig, parse_setting
    from ditto_live.engine.backends import default_autocast

    tasks, methods = _list(args.tasks), _list(args.methods)
    settings = PAPER_SETTINGS if args.settings == "paper" else _list(args.settings)
    for t in tasks:
        if t not in TASKS:
            raise UsageError(f"--tasks: {t!r} is not one of {', '.join(TASKS)}")
    backends = _list(args.backend)
    for b in (*backends, *_list(args.baseline_backend)):
        if b not in BACKENDS:
            raise UsageError(f"--backend: {b!r} is not one of {', '.join(BACKENDS)}")
    for m in methods:
        if m not in BENCH_METHODS:
            raise UsageError(f"--methods: {m!r} is not one of {', '.join(BENCH_METHODS)}")
    for s in settings:
        try:
            parse_setting(s)
        except ValueError as exc:
            raise UsageError(f"--settings: {exc}") from exc
    try:
        seeds = tuple(int(b) for b in _list(args.seeds))
    except ValueError as exc:
        raise UsageError(f"--seeds: expected a comma list of integers, got {args.seeds!r}") from exc
    if not seeds or min(seeds) < 1 or args.repeats < 0 or args.steps < 0:
        raise UsageError("--seeds must be >= 1, --repeats and --steps >= 0")
    device = args.device
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda: CUDA is not available here")
    if args.frames and args.frames % 16:
        raise UsageError("--frames must be a multiple of 16 (the UNet's downsampling)")
    return BenchConfig(preset=args.preset, device=device, tasks=tasks, methods=methods, settings=settings,
                       backends=backends, baseline_backend=args.baseline_backend, seeds=seeds,
                       repeats=args.repeats, baseline_repeats=args.baseline_repeats, steps=args.steps,
                       frames=args.frames, model=args.model, bf16=args.bf16,
                       autocast=default_autocast(device) if args.autocast is None else args.autocast,
                       vocoder=args.vocoder, compiler=args.compiler, out_dir=args.out_dir, threads=args.threads)


def run_server(args: argparse.Namespace) -> int:
    from ditto_live.bench.served import ServerBenchConfig, markdown, run_server_bench
    from ditto_live.bench.stages import TASKS

    tasks = _list(args.tasks)
    bad = [t for t in tasks if t not in TASKS]
    if bad or args.jobs < 1:
        raise UsageError(f"--tasks: {bad} not in {', '.join(TASKS)}" if bad else "--jobs: expected at least 1")
    if args.co_load < 0:
        raise UsageError("--co-load: expected 0 or more busy processes")
    backend = _list(args.backend)
    if len(backend) != 1:
        raise UsageError("--server times one backend: give --backend once")
    model = "default" if args.model == "random" else args.model
    cfg = ServerBenchConfig(tasks=tasks, jobs=args.jobs, model=model, backend=backend[0], measure=not args.no_measure,
                            threads=args.threads, connect=args.connect, fresh_numba_cache=not args.keep_numba_cache,
                            co_load=args.co_load, out_dir=args.out_dir)
    return _reported(args, lambda update: run_server_bench(cfg, on_update=update), markdown)  # rewritten per job


def run_stream(args: argparse.Namespace) -> int:
    from ditto_live.bench.streamed import StreamBenchConfig, markdown, run_stream_bench

    if args.windows < 1 or args.co_load < 0:
        raise UsageError("--windows: expected at least 1" if args.windows < 1 else
                         "--co-load: expected 0 or more busy processes")
    cfg = StreamBenchConfig(windows=args.windows, control=args.stream_control,
                            model="default" if args.model == "random" else args.model, threads=args.threads,
                            co_load=args.co_load, out_dir=args.out_dir, settings=args.config or "")
    return _reported(args, lambda update: run_stream_bench(cfg, on_update=update), markdown)  # rewritten per phase


def _reported(args: argparse.Namespace, bench: Callable[[Callable[[dict[str, Any]], None] | None], dict[str, Any]],
              markdown: Callable[[dict[str, Any]], str]) -> int:
    """Run a bench that reports as it goes: ``--json`` rewritten at each update (a run cut short keeps what it
    measured), the table printed and written to ``--markdown`` at the end."""
    from ditto_live.results import write_json

    def keep(report: dict[str, Any]) -> None:
        write_json(Path(args.json), report)

    text = markdown(bench(keep if args.json else None))
    if args.markdown:
        Path(args.markdown).write_text(text)
    print(text)
    return 0


def run(args: argparse.Namespace) -> int:
    from ditto_live.bench.stages import Bench
    from ditto_live.results import write_json

    if args.stream:
        if args.server or args.connect:
            raise UsageError("--stream and --server are separate benches: give one")
        return run_stream(args)
    if args.server or args.connect:
        return run_server(args)
    cfg = config_from_args(args)
    bench = Bench(cfg)

    def save(b: Bench) -> None:
        report = b.report()
        if args.json:
            write_json(Path(args.json), report)
        if args.markdown:
            Path(args.markdown).write_text(markdown(report))

    report = bench.run(on_config=save)
    save(bench)
    print(markdown(report))
    return 1 if report["errors"] else 0


def _cell(v: Any, digits: int = 0) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def markdown(report: dict[str, Any]) -> str:
    """The benchmark as a markdown table, headed by the machine and the setup."""
    from ditto_live.bench.report import STAGES

    m, cfg, model = report["machine"], report["config"], report["model"]
    device = m.get("gpu") or f"{m['cpu']} ({m['cpu_cores']} cores, {m['torch_threads']} torch threads)"
    ditto_note = ""
    if any(r["method"] == "ditto" for r in report["rows"]):
        ditto_note = (f"; DITTO runs at the smallest B only ({'its cold run' if cfg['baseline_repeats'] == 0 else 'warm'})"
                      "; × DITTO = DITTO's total over this row's, warm against warm, else cold against cold")
    lines = [f"**{device}**, torch {m['torch']}; load average {m.get('load_average')}; preset `{cfg['preset']}` "
             f"({model['weights']} weights, {model['parameters']['base']:,} base parameters), "
             f"{report['frames']} frames = {report['audio_seconds']} s of audio; vocoder {model['vocoder']}; "
             f"bf16 weights {cfg['bf16']}, autocast {cfg['autocast'] or cfg['bf16']}; peak memory: "
             f"{report['peak_memory_kind']}. Times in ms; total = median of the warm runs (the cold run where there is none){ditto_note}.", "",
             "| task | method | M,T | B | K | backend | parse | target | optimise | decode | vocode | write | "
             "total | cold total | RTF | peak MB | × DITTO | ÷ B=1 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        s = r["stages_ms"]
        mt = "20,20" if r["method"] == "ditto" else f"{r['M'] if r['M'] != 'adaptive' else 'a'},{r['T']}"
        lines.append("| " + " | ".join([
            r["task"], r["method"], mt, str(r["seeds"]), str(r["K"]), r["backend"],
            *(_cell(s[k], 1) for k in STAGES), _cell(r["total_ms"], 0), _cell(r["cold_total_ms"], 0),
            _cell(r["rtf"], 3), _cell(r["peak_memory_mb"], 0),
            _cell(r["speedup_vs_ditto"], 1), _cell(r["batch_over_single"], 2)]) + " |")
    if report["errors"]:
        lines.append("\nRefused (not timed):\n")
    for e in report["errors"]:
        lines.append(f"- {e['task']} {e['method']} {e['setting']} B={e['seeds']} ({e['backend']}): {e['error']}")
    return "\n".join(lines) + "\n"
