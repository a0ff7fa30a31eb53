"""`ditto-live eval`: re-measure the paper's tables (1, 2, 3) and Figure 5 on this project's models.

Writes DIR/results.md (the paper's table layout), DIR/results.json (every row and every clip), PNG
plots (runtime vs control MSE with FAD as point size; metrics vs decoding steps), the reference WAVs
of the painting cases and a few generated WAVs. See docs/eval.md for the CPU and GPU configurations.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from ditto_live.errors import UsageError

log = logging.getLogger(__name__)

SUITES = ("table1", "table2", "fig5", "text")
DEFAULT_DATA = "~/ditto_live_data/corpus"  # where `ditto-live data build` writes by default


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--suite", choices=SUITES, required=True,
                   help="table1: DITTO vs DITTO-2 on five tasks; table2: (M, T) on intensity; "
                        "fig5: metrics vs decoding steps; text: text control before/after")
    p.add_argument("--model", help="bundle name or folder (default: settings; 'tiny-untrained' = random weights)")
    p.add_argument("--cases", type=int, default=16, help="held-out cases per task (default 16; at least 2)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--data", metavar="CORPUS", help=f"corpus folder whose test split is used (default {DEFAULT_DATA} "
                   "or $DITTO_LIVE_DATA)")
    p.add_argument("--device", help="cpu, cuda or auto (default: settings)")
    p.add_argument("--steps", type=int, default=0,
                   help="K optimisation steps for every method (default 0: each control's, as a job's)")
    p.add_argument("--decode-steps", type=int, default=0, help="T of the DITTO-2 rows of table1 and text (default 0: "
                                                                "as a job, each control's default: 1 for melody, else 2)")
    p.add_argument("--lr", type=float, default=0.0,
                   help="Adam learning rate on x_T (default 0: each control's, as a job's)")
    p.add_argument("--tasks", help="comma-separated subset of the suite's tasks, e.g. intensity,melody")
    p.add_argument("--skip-ditto", action="store_true", help="leave out the slow DITTO optimisation rows (the base model's unoptimised row stays)")
    p.add_argument("--seed", type=int, default=0, help="case choice and initial noise")
    p.add_argument("--save-audio", type=int, default=1, metavar="N", help="WAVs kept per row: the first N cases")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    p.add_argument("--autocast", action=argparse.BooleanOptionalAction, default=None,
                   help="bf16 autocast of the model calls while optimising (default: as generate, on a CPU with "
                        "native bf16)")
    p.add_argument("--split", choices=("test", "val"), default="test",
                   help="corpus split of the cases and the FAD reference (default test; val to choose a setting "
                        "before measuring it on test)")
    p.add_argument("--exclude-works", metavar="CORPUS",
                   help="leave out every work of CORPUS (any split) from the cases and the FAD reference: an "
                        "untouched hold-out when CORPUS is the one settings were tuned on")
    p.add_argument("--no-quality", action="store_true",
                   help="skip the sound-quality judge (musicnn FD / KID per row, in the interpreter that "
                        "scripts/setup_judges.sh makes) for a quick run")
    p.add_argument("--no-notes", action="store_true",
                   help="skip the note-level melody judge (basic-pitch note F, same interpreter)")
    journal = p.add_mutually_exclusive_group()
    journal.add_argument("--resume", action="store_true",
                         help="keep the clips DIR/generations.jsonl already holds; run only the others")
    journal.add_argument("--report-only", action="store_true",
                         help="run nothing: rebuild the report from DIR/generations.jsonl (a run cut short)")


def _excluded(folder: str | None) -> str:
    """--exclude-works as an absolute corpus folder ("" when not given)."""
    if not folder:
        return ""
    path = Path(os.path.expanduser(folder)).absolute()
    if not (path / "windows.jsonl").is_file():
        raise UsageError(f"--exclude-works {folder}: not a corpus folder (no windows.jsonl)")
    return str(path)


def run(args: argparse.Namespace) -> int:
    import torch

    from ditto_live.engine.backends import default_autocast
    from ditto_live.evaluation import evaluate
    from ditto_live.evaluation.suites import EvalConfig
    from ditto_live.generation.models import pick_device

    if args.cases < 2:
        raise UsageError("--cases: at least 2 (FAD needs two clips per row)")
    if args.steps < 0 or args.steps > 2000:
        raise UsageError("--steps: expected 0..2000")
    if not 0 <= args.decode_steps <= 8:
        raise UsageError("--decode-steps: expected 1..8, or 0 for each control's default")
    data = Path(os.path.expanduser(args.data or os.environ.get("DITTO_LIVE_DATA", DEFAULT_DATA)))
    if not (data / "windows.jsonl").is_file():
        raise UsageError(f"--data {data}: not a corpus folder (no windows.jsonl); build one with `ditto-live data build`")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device or args.cfg.generate.device)
    cfg = EvalConfig(suite=args.suite, model=args.model or args.cfg.generate.model, data=str(data),
                     out=str(Path(args.out).expanduser().absolute()), cases=args.cases, steps=args.steps,
                     decode_steps=args.decode_steps, lr=args.lr,
                     tasks=tuple(t.strip() for t in args.tasks.split(",") if t.strip()) if args.tasks else (),
                     skip_ditto=args.skip_ditto, device=device,
                     seed=args.seed, save_audio=args.save_audio, resume=args.resume, report_only=args.report_only,
                     autocast=default_autocast(device) if args.autocast is None else args.autocast, split=args.split,
                     quality=not args.no_quality, notes=not args.no_notes, exclude_works=_excluded(args.exclude_works))
    if args.report_only and not (Path(cfg.out) / "generations.jsonl").is_file():
        raise UsageError(f"--report-only: {cfg.out} holds no generations.jsonl")
    try:
        result, paths = evaluate(cfg)
    except (ValueError, FileNotFoundError) as exc:
        raise UsageError(str(exc)) from exc
    log.info("eval %s done in %.0f s: %s", cfg.suite, result.info["wall_s"], ", ".join(str(p) for p in paths.values()))
    return 0
