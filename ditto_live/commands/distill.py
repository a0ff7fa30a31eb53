"""`ditto-live distill cm|ctm`: distil a base checkpoint into a consistency (CM) or consistency-trajectory
(CTM) student (DITTO-2 §3.2; docs/distill.md).

    ditto-live distill ctm --teacher runs/base/final --data CORPUS --out runs/ctm --steps 2000
    ditto-live distill cm  --teacher runs/base/final --data CORPUS --out runs/cm  --loss huber

A progress bar, checkpoints every --ckpt-every steps under OUT/step-N and OUT/latest (the final one in
OUT/final), --resume from OUT/latest, a fixed --seed. The checkpoint's model.json records the recipe, the
teacher, the wall time and the 1-step quality check against the teacher's 20-step sample. Runs
unchanged under torchrun (`torchrun --nproc_per_node N -m ditto_live.cli distill ctm ...`; docs/training.md).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from ditto_live.errors import UsageError

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=("ctm", "cm"), help="student: ctm (Eq. 4, gamma-sampling) or cm (Eq. 1, LCM)")
    parser.add_argument("--teacher", metavar="CKPT", required=True, help="base model checkpoint folder")
    parser.add_argument("--data", metavar="DIR", required=True, help="corpus folder (built by `ditto-live data build`)")
    parser.add_argument("--out", metavar="DIR", required=True, help="run folder for the student's checkpoints")
    parser.add_argument("--steps", type=int, default=2000, help="optimizer steps")
    parser.add_argument("--batch", type=int, default=8, help="mel windows per step, over all processes")
    parser.add_argument("--lr", type=float, default=1e-4, help="peak learning rate (after warm-up)")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up steps (default: min(100, steps/10))")
    parser.add_argument("--w-min", type=float, default=1.0, help="smallest guidance weight w drawn in training")
    parser.add_argument("--w-max", type=float, default=4.0, help="largest guidance weight w drawn in training")
    parser.add_argument("--ema", type=float, default=0.999, help="EMA decay of the exported weights (0 = none)")
    parser.add_argument("--target-ema", type=float, default=0.95,
                        help="EMA decay of the stop-gradient target phi^- (0 = the current student)")
    parser.add_argument("--loss", choices=("l2", "huber"), default="l2", help="distance in the consistency loss")
    parser.add_argument("--crop-frames", type=int, default=0, metavar="N",
                        help="train on random crops of N frames (CPU speed; 0 = whole windows)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N training windows")
    parser.add_argument("--seed", type=int, default=0, help="random seed (noise, times, w, data order)")
    parser.add_argument("--resume", nargs="?", const=True, default=False, metavar="CKPT",
                        help="continue from OUT/latest (or from the given checkpoint folder)")
    parser.add_argument("--ckpt-every", type=int, default=500, metavar="N", help="checkpoint every N steps")
    parser.add_argument("--time-budget", type=float, default=0, metavar="MIN",
                        help="stop after this many minutes with a resumable checkpoint (0 = no limit)")
    parser.add_argument("--fit-minutes", type=float, default=0, metavar="MIN",
                        help="lay the LR schedule out over the steps (at most --steps) that fit in MIN minutes")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    parser.add_argument("--no-progress", action="store_true", help="log lines instead of a progress bar")


def _check(args: argparse.Namespace) -> None:
    """Refuse bad values with one clear line before any heavy import."""
    if not Path(args.teacher).is_dir():
        raise UsageError(f"--teacher: no checkpoint folder at {args.teacher}")
    if not Path(args.data).is_dir():
        raise UsageError(f"--data: no corpus folder at {args.data}")
    if args.steps < 1 or args.batch < 1:
        raise UsageError("--steps and --batch must be at least 1")
    if not 0 <= args.w_min <= args.w_max:
        raise UsageError(f"need 0 <= --w-min <= --w-max, got {args.w_min} and {args.w_max}")
    for name in ("ema", "target_ema"):
        if not 0 <= getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be in [0, 1)")


def run(args: argparse.Namespace) -> int:
    _check(args)
    import torch

    from ditto_live.commands.train import processes
    from ditto_live.engine.train.distill import train_distill

    if args.threads:
        torch.set_num_threads(args.threads)
    with processes(args.device):
        metrics = train_distill(
            args.kind, args.teacher, args.data, args.out, steps=args.steps, batch=args.batch, lr=args.lr,
            warmup=args.warmup, w_min=args.w_min, w_max=args.w_max, ema_decay=args.ema,
            target_ema=args.target_ema, loss=args.loss, crop_frames=args.crop_frames, limit=args.limit,
            seed=args.seed, device=args.device, resume=args.resume, ckpt_every=args.ckpt_every,
            progress=not args.no_progress, time_budget_s=args.time_budget * 60 if args.time_budget else None,
            fit_s=args.fit_minutes * 60 if args.fit_minutes else None)
        log.info("%s student: %s", args.kind, json.dumps(metrics))
    return 0
