"""`ditto-live train base|vocoder|clap|all|export`: train the models of a bundle.

    ditto-live train base    --data CORPUS --out runs/base    --preset tiny --steps 20000
    ditto-live train vocoder --data CORPUS --out runs/vocoder --steps 3000
    ditto-live train clap    --data CORPUS --out runs/clap
    ditto-live train all     --data CORPUS --out BUNDLE      (base -> vocoder -> ctm + cm -> clap, card.md)
    ditto-live train export  --out BUNDLE --to ditto_live/assets/default   (half-precision copy)

Every stage shows a progress bar, checkpoints every --ckpt-every steps under OUT/step-N and OUT/latest,
and continues from OUT/latest with --resume. A fixed --seed makes a run reproducible.

Every stage runs unchanged under torchrun (docs/training.md): `torchrun --nproc_per_node N -m
ditto_live.cli train base ...` trains on N processes (DDP: NCCL on GPUs, gloo on CPUs), --batch being the
batch over all of them; rank 0 alone logs, shows the bar and writes checkpoints and the card.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

from ditto_live.errors import UsageError

log = logging.getLogger(__name__)

TARGETS = ("base", "vocoder", "clap", "all", "export")
STAGES = ("base", "vocoder", "ctm", "cm", "clap")  # order of `train all`


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", choices=TARGETS, help="what to train (all = the whole bundle)")
    parser.add_argument("--data", metavar="DIR", help="corpus folder (built by `ditto-live data build`)")
    parser.add_argument("--out", metavar="DIR", required=True,
                        help="output folder: a run folder, or the bundle folder for `all` and `export`")
    parser.add_argument("--preset", choices=("tiny", "paper"), default="tiny", help="model size preset")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps (base steps for `all`)")
    parser.add_argument("--batch", type=int, default=None,
                        help="examples per step, over all processes under torchrun")
    parser.add_argument("--lr", type=float, default=None, help="peak learning rate")
    parser.add_argument("--seed", type=int, default=0, help="random seed (initialisation, noise, data order)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--resume", nargs="?", const=True, default=False, metavar="CKPT",
                        help="continue from OUT/latest (or from the given checkpoint folder)")
    parser.add_argument("--ckpt-every", type=int, default=500, metavar="N", help="checkpoint every N steps")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    parser.add_argument("--time-budget", type=float, default=0, metavar="MIN",
                        help="stop after this many minutes with a resumable checkpoint (0 = no limit)")
    parser.add_argument("--fit-minutes", type=float, default=0, metavar="MIN",
                        help="lay the LR schedule out over the steps (at most --steps) that fit in MIN minutes, "
                             "timed over the first steps (0 = over --steps)")
    parser.add_argument("--crop-frames", type=int, default=0, metavar="N",
                        help="base: train on random crops of N frames (CPU speed; 0 = whole windows)")
    parser.add_argument("--init", metavar="CKPT",
                        help="base: start from this base checkpoint's weights (fine-tune / second phase)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N training windows")
    parser.add_argument("--no-progress", action="store_true", help="log lines instead of a progress bar")
    group = parser.add_argument_group("train all")
    group.add_argument("--vocoder-steps", type=int, default=3000, help="vocoder steps")
    group.add_argument("--distill-steps", type=int, default=2000, help="CTM and CM distillation steps each")
    group.add_argument("--clap-steps", type=int, default=2000, help="text-audio model steps")
    group.add_argument("--skip", action="append", default=[], choices=STAGES,
                       help="skip a stage, reusing OUT/runs/<stage>/final or the bundle's OUT/<stage> (repeatable)")
    group.add_argument("--to", metavar="DIR", help="export: destination bundle folder")
    group.add_argument("--full-precision", action="store_true", help="export: keep fp32 weights")


# ---------------------------------------------------------------------------------------------
# processes


@contextlib.contextmanager
def processes(device: str) -> Iterator:
    """The command's place among the processes torchrun started (``distributed.Ranks``; one process
    without torchrun): joins their group, leaves only rank 0's log lines below warnings, and leaves the
    group when the command ends."""
    from ditto_live.engine.train import distributed
    from ditto_live.engine.train.common import resolve_device

    ranks, _ = distributed.setup(resolve_device(device))
    if not ranks.main:
        logging.getLogger().setLevel(logging.WARNING)
    try:
        yield ranks
    finally:
        distributed.shutdown()


# ---------------------------------------------------------------------------------------------
# single stages


def _common(args: argparse.Namespace, defaults: dict) -> dict:
    """Keyword arguments shared by the base and vocoder trainers, with per-stage defaults."""
    return dict(preset=args.preset, seed=args.seed, device=args.device, resume=args.resume,
                ckpt_every=args.ckpt_every, progress=not args.no_progress, limit=args.limit,
                time_budget_s=args.time_budget * 60 if args.time_budget else None,
                fit_s=args.fit_minutes * 60 if args.fit_minutes else None,
                steps=args.steps if args.steps is not None else defaults["steps"],
                batch=args.batch if args.batch is not None else defaults["batch"],
                lr=args.lr if args.lr is not None else defaults["lr"])


def train_base_stage(args: argparse.Namespace, out: Path, **over) -> dict:
    from ditto_live.engine.train.base import train_base

    kw = _common(args, {"steps": 20000, "batch": 16, "lr": 2e-4}) | over
    return train_base(args.data, out, crop_frames=args.crop_frames, init=args.init, **kw)


def train_vocoder_stage(args: argparse.Namespace, out: Path, **over) -> dict:
    from ditto_live.engine.train.vocoder import train_vocoder

    kw = _common(args, {"steps": 3000, "batch": 16, "lr": 1e-3}) | over
    return train_vocoder(args.data, out, **kw)


def train_clap_stage(args: argparse.Namespace, out: Path, steps: int | None = None, batch: int | None = None,
                     lr: float | None = None) -> dict:
    try:
        from ditto_live.engine.train.clap import ClapRecipe, train_clap
    except ImportError as exc:
        raise UsageError(f"the text-audio trainer is not available ({exc})") from exc
    from ditto_live.engine.train.common import resolve_device
    from ditto_live.generation.text_encoder import default_encoder

    fields = {"preset": args.preset, "seed": args.seed, "steps": steps, "batch": batch, "lr": lr}
    recipe = ClapRecipe(**{k: v for k, v in fields.items() if v is not None})
    return train_clap(args.data, out, default_encoder().encode, recipe=recipe,
                      device=str(resolve_device(args.device)), resume=args.resume, ckpt_every=args.ckpt_every,
                      progress=not args.no_progress,
                      time_budget_s=args.time_budget * 60 if args.time_budget else None,
                      fit_s=args.fit_minutes * 60 if args.fit_minutes else None)


def train_student_stage(args: argparse.Namespace, kind: str, teacher: Path, out: Path, steps: int) -> dict:
    """Distil the teacher checkpoint into a CTM or CM student (engine/train/distill.py)."""
    try:
        from ditto_live.engine.train.distill import train_distill
    except ImportError as exc:
        raise UsageError(f"the distillation trainer is not available ({exc})") from exc
    return train_distill(kind, teacher, args.data, out, steps=steps, seed=args.seed, device=args.device,
                         resume=args.resume, ckpt_every=args.ckpt_every, progress=not args.no_progress,
                         preset=args.preset, limit=args.limit, crop_frames=args.crop_frames,
                         time_budget_s=args.time_budget * 60 if args.time_budget else None,
                         fit_s=args.fit_minutes * 60 if args.fit_minutes else None)


# ---------------------------------------------------------------------------------------------
# the whole bundle


def _final(run_dir: Path) -> Path:
    """The finished checkpoint of a run folder (OUT/final, or the folder itself for single-save trainers)."""
    for cand in (run_dir / "final", run_dir):
        if (cand / "model.json").is_file():
            return cand
    raise UsageError(f"no finished checkpoint in {run_dir}")


def copy_checkpoint(src: Path, dst: Path) -> None:
    """Copy a checkpoint's weights and JSON (not its training state) to ``dst``."""
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if f.is_file() and f.name != "train_state.pt":
            shutil.copy2(f, dst / f.name)


def train_all(args: argparse.Namespace) -> int:
    from ditto_live.engine.train import distributed
    from ditto_live.generation.models import write_card

    bundle = Path(args.out)
    runs = bundle / "runs"
    results: dict[str, dict] = {}
    stages = [
        ("base", lambda: train_base_stage(args, runs / "base")),
        ("vocoder", lambda: train_vocoder_stage(args, runs / "vocoder", steps=args.vocoder_steps, batch=16,
                                                lr=1e-3, resume=args.resume)),
        ("ctm", lambda: train_student_stage(args, "ctm", bundle / "base", runs / "ctm", args.distill_steps)),
        ("cm", lambda: train_student_stage(args, "cm", bundle / "base", runs / "cm", args.distill_steps)),
        ("clap", lambda: train_clap_stage(args, runs / "clap", steps=args.clap_steps)),
    ]
    for name, fn in stages:
        if name in args.skip:
            log.info("train all: skipping %s", name)
        else:
            log.info("train all: stage %s", name)
            results[name] = fn() or {}
        try:
            final = _final(runs / name)
        except UsageError:
            if name not in args.skip:
                raise
            if (bundle / name / "model.json").is_file():
                log.info("train all: keeping the bundle's existing %s", name)
            else:
                log.warning("train all: %s skipped and no earlier run found; the bundle will lack it", name)
        else:
            if distributed.ranks().main:
                copy_checkpoint(final, bundle / name)
        distributed.barrier()  # the next stage reads what rank 0 copied (the students read OUT/base)
    if distributed.ranks().main:
        write_card(bundle, data_dir=args.data, title=f"ditto_live {args.preset} bundle")
        log.info("bundle written to %s", bundle)
    return 0


def export(args: argparse.Namespace) -> int:
    from ditto_live.generation.models import export_bundle

    if not args.to:
        raise UsageError("train export needs --to DIR")
    export_bundle(Path(args.out), Path(args.to), half=not args.full_precision)
    return 0


def run(args: argparse.Namespace) -> int:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.target == "export":
        return export(args)
    if not args.data:
        raise UsageError(f"train {args.target} needs --data DIR (a corpus built by `ditto-live data build`)")
    if not Path(args.data).is_dir():
        raise UsageError(f"--data {args.data}: no such folder")
    with processes(args.device):
        if args.target == "all":
            return train_all(args)
        out = Path(args.out)
        if args.target == "clap":
            metrics = train_clap_stage(args, out, steps=args.steps, batch=args.batch, lr=args.lr)
        else:
            stage = {"base": train_base_stage, "vocoder": train_vocoder_stage}[args.target]
            metrics = stage(args, out)
        log.info("train %s: %s", args.target, metrics)
    return 0
