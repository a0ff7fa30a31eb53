"""Distil a base (teacher) checkpoint into a CTM or CM student (DITTO-2 §3.2, DESIGN.md §3).

    student <- teacher weights + zero-initialised w embedding
    each step: x0, tags from the corpus (tags dropped to null like the base recipe), w ~ U[w_min, w_max],
               loss = Eq. 4 (CTM local consistency) or Eq. 1 (CM, LCM recipe), target through phi^-
    phi^-  <- target_ema * phi^- + (1 - target_ema) * phi           (the stop-gradient target)
    export <- EMA of phi with decay ``ema`` (warmed up), the weights written to the checkpoint

Checkpoints (kind "ctm" or "cm") go to OUT/step-N, OUT/latest and OUT/final, loadable with
``engine.checkpoint.load_checkpoint``; their JSON records the recipe, the teacher, the wall time and the
quality check of the issue: from the same x_T, the mel MSE of the student's 1-step output and of the
teacher's own 1-step x0_hat to the teacher's 20-step CFG DDIM sample. Resumption is exact: the batch
order is a function of (seed, step) and the training state holds both EMAs and the generator.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ditto_live.engine import distill as D
from ditto_live.engine import student_sampling as S
from ditto_live.engine.conditioning import Cond
from ditto_live.engine.sampling import ddim_sample
from ditto_live.engine.schedule import teacher_grid
from ditto_live.engine.train import distributed
from ditto_live.engine.train.common import OptimConfig, checkpoint_meta, start_run, train_loop
from ditto_live.engine.train.dataset import load_mel_data

log = logging.getLogger(__name__)

KINDS = ("ctm", "cm")
LOSSES = {"ctm": D.ctm_local_consistency_loss, "cm": D.cm_consistency_loss}


@dataclass(frozen=True)
class DistillRecipe:
    kind: str = "ctm"  # "ctm" (Eq. 4, 1-step Euler G) or "cm" (Eq. 1, LCM boundary scalings)
    steps: int = 2000  # optimizer steps
    batch: int = 8  # mel windows per step, over all processes (each of W ranks draws batch / W)
    w_min: float = 1.0  # guidance weights are drawn per sample from U[w_min, w_max]
    w_max: float = 4.0  # (the student takes w as an input)
    target_ema: float = 0.95  # decay of the stop-gradient target phi^- (LCM uses 0.95)
    loss: str = "l2"  # "l2" or "huber" (pseudo-Huber, c = 1e-3)
    teacher_steps: int = 20  # the teacher DDIM grid Theta steps on; t-1 is the next level
    cfg_drop: float = 0.1  # probability that a row's tags all become null (the null-tag map is learned too)
    field_drop: float = 0.1  # probability that one tag field becomes null on its own
    crop_frames: int = 0  # train on random crops of this many frames (0 = whole windows)
    seed: int = 0  # seeds noise, times, w, dropout and the data order
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-4, warmup=100))  # AdamW, EMA of the export

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# teacher and data


def load_teacher(teacher: str | Path | tuple[nn.Module, dict], device: torch.device) -> tuple[nn.Module, dict]:
    """A frozen teacher and its checkpoint JSON, from a checkpoint folder or an in-memory (model, meta)."""
    if isinstance(teacher, tuple):
        model, meta = teacher
    else:
        from ditto_live.engine.checkpoint import load_checkpoint

        model, meta = load_checkpoint(teacher, device=str(device))
    if getattr(model, "takes_w", False):
        raise ValueError("the teacher takes w: distil from a base checkpoint, not from a student")
    model = model.to(device).float().eval().requires_grad_(False)
    return model, meta


@torch.no_grad()
def teacher_reference(teacher: nn.Module, x_T: Tensor, cond: Cond, steps: int = 20) -> Tensor:
    """The teacher's ``steps``-step DDIM sample with CFG from x_T. [B, 1, F, N] -> [B, 1, F, N]"""
    return ddim_sample(teacher, x_T, teacher_grid(steps), cond)


@torch.no_grad()
def quality_check(kind: str, student: nn.Module, teacher: nn.Module, x_T: Tensor, cond: Cond,
                  reference: Tensor, decode_steps: int = 2, gamma: float = 0.2) -> dict:
    """Mel MSE to the teacher's 20-step sample from the same x_T: the student's 1-step output, the
    teacher's own 1-step x0_hat, their ratio, and the student's ``decode_steps``-step sample."""
    one = D.ctm_G if kind == "ctm" else (lambda m, x, t, s, c: D.cm_denoise(m, x, t, c))
    mse_student = float((one(student, x_T, 999, -1, cond) - reference).pow(2).mean())
    mse_teacher = float((D.ctm_G(teacher, x_T, 999, -1, cond) - reference).pow(2).mean())
    gen = torch.Generator(device=x_T.device).manual_seed(0)
    grid = S.student_grid(decode_steps)
    if kind == "ctm":
        few = S.ctm_gamma_sample(student, x_T, grid, cond, generator=gen, gamma=gamma)
    else:
        few = S.cm_multistep_sample(student, x_T, grid, cond, generator=gen)
    return {"mse_1step_student": round(mse_student, 6), "mse_1step_teacher": round(mse_teacher, 6),
            "teacher_over_student": round(mse_teacher / max(mse_student, 1e-12), 3),
            f"mse_{decode_steps}step_student": round(float((few - reference).pow(2).mean()), 6),
            "eval_windows": int(x_T.shape[0])}


# ---------------------------------------------------------------------------------------------
# entry point


def train_distill(kind: str, teacher: str | Path | tuple[nn.Module, dict], data_dir: str | Path | None,
                  out_dir: str | Path | None, steps: int = 2000, batch: int = 8, lr: float = 1e-4,
                  w_min: float = 1.0, w_max: float = 4.0, ema_decay: float = 0.999, target_ema: float = 0.95,
                  loss: str = "l2", seed: int = 0, device: str = "auto", resume: bool | str = False,
                  ckpt_every: int = 500, progress: bool = True, preset: str | None = None, limit: int = 0,
                  data=None, crop_frames: int = 0, warmup: int | None = None, eval_windows: int = 4,
                  eval_w: float = 3.0, stop_at: int | None = None, time_budget_s: float | None = None,
                  fit_s: float | None = None) -> dict:
    """Distil ``teacher`` (a base checkpoint folder, or (model, meta)) into a ``kind`` student on the
    corpus at ``data_dir`` (or ``data``, a ``dataset.MelData``). Under torchrun each rank reads its block
    of the corpus and draws batch / W windows a step; rank 0 runs the quality check. ``fit_s``: see ``train_loop``. Returns the final
    metrics."""
    from ditto_live.engine.train.base import drop_tags, mel_batch

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if loss not in ("l2", "huber"):
        raise ValueError(f"loss must be l2 or huber, got {loss!r}")
    if not w_min <= w_max:
        raise ValueError(f"need w_min <= w_max, got {w_min} > {w_max}")
    optim = OptimConfig(lr=lr, warmup=warmup if warmup is not None else min(100, steps // 10), ema_decay=ema_decay)
    recipe = DistillRecipe(kind=kind, steps=steps, batch=batch, w_min=w_min, w_max=w_max, target_ema=target_ema,
                           loss=loss, crop_frames=crop_frames, seed=seed, optim=optim)
    run = start_run(seed, device)
    dev, gen, machine, ranks = run.device, run.generator, run.machine, run.ranks
    per_rank = distributed.local_batch(batch, ranks.world)
    teacher_model, teacher_meta = load_teacher(teacher, dev)
    mel_cfg = teacher_meta.get("mel_config", {})
    preset = preset or teacher_meta.get("recipe", {}).get("preset", "tiny")
    if data is None:
        if data_dir is None:
            raise ValueError("train_distill needs a corpus: data_dir or data")
        data = load_mel_data(data_dir, preset, "train", limit, part=ranks.part)
    else:
        data = data.part(*ranks.part)
    windows = distributed.total(len(data.mels))
    student = D.init_student_from_teacher(teacher_model).to(dev).train().requires_grad_(True)
    target = D.make_ema(student)
    net = distributed.wrap(student)  # what the loss calls: DDP under torchrun, the student itself otherwise
    log.info("distil %s: %d windows, batch %d, w ~ U[%g, %g]", kind, windows, batch, w_min, w_max)

    # a fixed evaluation set: the first windows' tags, x_T from a fixed seed, w = eval_w
    n_eval = min(eval_windows, len(data.mels))
    eval_gen = torch.Generator().manual_seed(seed + 12345)
    x_T = torch.randn(n_eval, *data.mels.shape[1:], generator=eval_gen).to(dev)
    eval_cond = Cond(data.tags[:n_eval].to(dev), torch.full((n_eval,), float(eval_w), device=dev))
    reference: Tensor | None = None
    grid = teacher_grid(recipe.teacher_steps)

    def loss_fn(step: int) -> Tensor:
        x0, tags = mel_batch(data, step, per_rank, run.seed, dev, crop_frames,
                             getattr(student, "downsample_factor", 1), gen)
        tags = drop_tags(tags, recipe.cfg_drop, recipe.field_drop, gen).to(dev)
        w = D.sample_w(per_rank, w_min, w_max, gen, dev)
        return LOSSES[kind](net, target, teacher_model, x0, Cond(tags), w, gen, loss=loss, grid=grid)

    def after_step(step: int) -> None:
        D.ema_update(target, student, target_ema)  # phi^- follows phi

    def on_checkpoint(step: int, averaged: nn.Module, finished: bool) -> dict:
        """The quality check, on the final export only (it runs the teacher's 20-step sampler)."""
        nonlocal reference
        if not finished or not n_eval:
            return {}
        t_eval = time.perf_counter()
        if reference is None:
            reference = teacher_reference(teacher_model, x_T, eval_cond, recipe.teacher_steps)
        metrics = quality_check(kind, averaged, teacher_model, x_T, eval_cond, reference)
        log.info("quality check: %s", {k: v for k, v in metrics.items() if k.startswith("mse")})
        return metrics | {"eval_w": eval_w, "eval_time_s": round(time.perf_counter() - t_eval, 1)}

    def export_meta(metrics: dict) -> dict:
        student_cfg: Any = getattr(student, "cfg", None)  # the UNet's config, a plain attribute
        return checkpoint_meta(kind, student, student_cfg.to_dict() if student_cfg is not None else {}, mel_cfg,
                               recipe.to_dict() | {"data": str(data_dir), "windows": windows, "preset": preset,
                                                   "teacher": str(teacher) if not isinstance(teacher, tuple) else None},
                               metrics, machine, tags=teacher_meta.get("tags", {}),
                               vocab_sizes=list(getattr(student, "vocab_sizes", teacher_meta.get("vocab_sizes", []))))

    result = train_loop(student, loss_fn, steps, optim, dev, {"train": gen}, batch, out_dir=out_dir,
                        ckpt_every=ckpt_every, resume=resume, export_meta=export_meta, desc=kind, progress=progress,
                        on_checkpoint=on_checkpoint, stop_at=stop_at, time_budget_s=time_budget_s,
                        after_step=after_step, others={"target": target}, fit_s=fit_s)
    return result.meta["metrics"] | {"first_loss": round(result.first_loss, 6), "machine": machine}


__all__ = ["DistillRecipe", "KINDS", "load_teacher", "quality_check", "teacher_reference", "train_distill"]
