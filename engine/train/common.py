"""A small training toolkit shared by every trainer (base model, vocoder, students, text model).

Seeding, AdamW with warm-up and cosine decay, an EMA of the weights, the training loop with periodic
checkpoints and exact resumption (their home is ``resume.py``) on one process or several under torchrun
(``distributed.py``), a progress bar with loss and throughput, mixed precision on CUDA, and a one-line
machine description for model cards. Nothing here touches global random state except ``seed_everything``,
which a training entry point calls once.

Resumption is exact: the data order is a pure function of (seed, step) (``batch_indices``), and the
training state saved beside each checkpoint holds the raw weights, the optimizer, the EMA, the step
and the state of every ``torch.Generator`` the trainer draws from.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import platform
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ditto_live.engine.train import distributed
from ditto_live.engine.train.distributed import Ranks
from ditto_live.engine.train.resume import STATE_FILE, CheckpointManager, find_resume, gen_states
from ditto_live.engine.unet import count_parameters

__all__ = ["STATE_FILE", "CheckpointManager", "find_resume"]  # re-exported: their home is resume.py

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class OptimConfig:
    lr: float = 2e-4  # peak learning rate (after warm-up)
    warmup: int = 200  # linear warm-up steps from 0 to lr
    min_lr_ratio: float = 0.05  # the cosine decays to lr * min_lr_ratio at the last step
    weight_decay: float = 0.01  # AdamW decoupled weight decay (not applied to biases and norms)
    decay_vectors: bool = False  # decay biases, norms and scales too (a plain AdamW; the text model's recipe)
    betas: tuple[float, float] = (0.9, 0.99)  # AdamW moment decays
    grad_clip: float = 1.0  # clip the global gradient norm to this (0 = no clipping)
    ema_decay: float = 0.999  # EMA decay per step (0 = no EMA)

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# randomness and data order


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch for a training entry point; return a fresh CPU generator.

    Model initialisation draws from torch's global generator, so seeding it here makes a run's initial
    weights reproducible; everything drawn during training uses the returned generator.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def batch_indices(step: int, batch: int, n: int, seed: int) -> Tensor:
    """Indices of the examples in batch ``step``: epoch-wise permutations seeded by (seed, epoch).

    A pure function of its arguments, so a resumed run reads exactly the batches it would have read.
    -> [batch] long, in [0, n)
    """
    if n <= 0:
        raise ValueError("empty dataset")
    flat = torch.arange(step * batch, (step + 1) * batch)
    epochs, pos = flat // n, flat % n
    out = torch.empty(batch, dtype=torch.long)
    for epoch in epochs.unique().tolist():
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
        sel = epochs == epoch
        out[sel] = perm[pos[sel]]
    return out


# ---------------------------------------------------------------------------------------------
# optimisation


def lr_at(step: int, base_lr: float, warmup: int, total: int, min_ratio: float = 0.0) -> float:
    """Linear warm-up to ``base_lr`` over ``warmup`` steps, then cosine decay to ``base_lr * min_ratio``
    at step ``total``. ``step`` counts from 0; the first step trains at base_lr / warmup."""
    if warmup > 0 and step < warmup:
        return base_lr * (step + 1) / warmup
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    return base_lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def make_optimizer(model: nn.Module, lr: float, weight_decay: float,
                   betas: tuple[float, float] = (0.9, 0.99), decay_vectors: bool = False) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices and kernels only (biases, norms and embeddings' 1-D
    parameters are not decayed, unless ``decay_vectors``)."""
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 or decay_vectors else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def clip_and_step(model: nn.Module, optimizer: torch.optim.Optimizer, grad_clip: float) -> float:
    """Clip the global gradient norm (when grad_clip > 0), step, zero the gradients; return the norm."""
    params = [p for p in model.parameters() if p.grad is not None]
    norm = torch.nn.utils.clip_grad_norm_(params, grad_clip if grad_clip > 0 else float("inf"))
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(norm)


class EMA:
    """Exponential moving average of a model's parameters (buffers are copied as they are).

        shadow <- decay * shadow + (1 - decay) * param

    The shadow lives in fp32 on the model's device. ``copy_to(model)`` writes it into a model. With
    ``step`` given, the decay warms up as min(decay, (1 + step) / (10 + step)), so a short run's average
    is not dominated by its initial weights.
    """

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.shadow = {k: v.detach().clone().float() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module, step: int | None = None) -> None:
        decay = self.decay if step is None else min(self.decay, (1 + step) / (10 + step))
        params = dict(model.named_parameters())
        for k, v in model.state_dict().items():
            if k in params and v.is_floating_point():
                self.shadow[k].lerp_(v.detach().float(), 1 - decay)
            else:
                self.shadow[k].copy_(v.detach())

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        model.load_state_dict({k: v.to(model.state_dict()[k].dtype) for k, v in self.shadow.items()})

    def averaged_copy(self, model: nn.Module) -> nn.Module:
        """A deep copy of ``model`` holding the EMA weights (the model itself is untouched)."""
        out = copy.deepcopy(model)
        self.copy_to(out)
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "shadow": self.shadow}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.decay = state["decay"]
        for k, v in state["shadow"].items():
            self.shadow[k].copy_(v)


# ---------------------------------------------------------------------------------------------
# devices, precision, machine


def resolve_device(device: str) -> torch.device:
    """"auto" -> cuda when available, else cpu; anything else as torch reads it."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA; fp32 (no autocast) on CPU, where bf16 training loses accuracy for
    little speed."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def cpu_model_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine(device: torch.device | str = "cpu") -> str:
    """One line naming the hardware a run used: the GPU name, or the CPU model and the cores torch uses."""
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        idx = device.index if device.index is not None else torch.cuda.current_device()
        return f"GPU {torch.cuda.get_device_name(idx)} (torch {torch.__version__})"
    cores = os.cpu_count() or 0
    return f"CPU {cpu_model_name()}, {torch.get_num_threads()} threads of {cores} cores (torch {torch.__version__})"


@dataclass(frozen=True)
class RunSetup:
    """What a training entry point sets up first (``start_run``)."""

    device: torch.device  # where this process trains ("auto" resolved; cuda:LOCAL_RANK under torchrun)
    generator: torch.Generator  # this rank's noise, times and dropout
    seed: int  # this rank's seed for ``batch_indices`` (the run's seed on rank 0)
    machine: str  # one line for the checkpoints: the hardware, and the processes when there are several
    ranks: Ranks  # this process's place among the run's processes (distributed.py)


def start_run(seed: int, device: str) -> RunSetup:
    """Join the run's processes when torchrun started several (``distributed.setup``), seed the initial
    weights the same on every rank (``seed_everything``), and give this rank its own generator."""
    ranks, dev = distributed.setup(resolve_device(device))
    gen = seed_everything(seed)
    own = distributed.rank_seed(seed, ranks.rank)
    machine = describe_machine(dev)
    if ranks.world > 1:
        gen = torch.Generator().manual_seed(own)
        machine = f"{ranks.world} processes on {ranks.nodes} machine(s), each on {machine}"
    return RunSetup(dev, gen, own, machine, ranks)


def checkpoint_meta(kind: str, model: nn.Module, model_config: dict, mel_config: dict, recipe: dict,
                    metrics: dict, machine: str, **more: Any) -> dict:
    """The JSON of a trained checkpoint (docs/architecture.md): its kind, configs, recipe, metrics with
    the parameter count, machine and wall time; ``more`` adds fields (the tag vocabulary)."""
    return {"kind": kind, "model_config": model_config, "mel_config": mel_config, **more, "recipe": recipe,
            "metrics": metrics | {"params": count_parameters(model)}, "machine": machine,
            "wall_time_s": metrics.get("wall_time_s")}


# ---------------------------------------------------------------------------------------------
# progress


class Progress:
    """A tqdm bar over training steps that shows the smoothed loss, the learning rate and throughput
    in examples (windows) per second. Falls back to periodic log lines when tqdm is disabled."""

    def __init__(self, total: int, start: int = 0, desc: str = "train", unit: str = "windows",
                 disable: bool = False, log_every: int = 50):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, initial=start, desc=desc, unit="step", disable=disable,
                        dynamic_ncols=True, mininterval=1.0)
        self.unit = unit
        self.log_every = log_every
        self.loss_avg: float | None = None
        self.examples = 0
        self.t0 = time.perf_counter()

    @property
    def rate(self) -> float:
        """Examples per second since the bar started."""
        return self.examples / max(time.perf_counter() - self.t0, 1e-9)

    def update(self, step: int, loss: float, examples: int, lr: float, **extra: float) -> None:
        self.loss_avg = loss if self.loss_avg is None else 0.98 * self.loss_avg + 0.02 * loss
        self.examples += examples
        post = {"loss": f"{self.loss_avg:.4f}", "lr": f"{lr:.2e}", f"{self.unit}/s": f"{self.rate:.1f}"}
        post.update({k: f"{v:.4g}" for k, v in extra.items()})
        self.bar.set_postfix(post, refresh=False)
        self.bar.update(1)
        if self.bar.disable and self.log_every and (step + 1) % self.log_every == 0:
            log.info("step %d loss %.4f lr %.2e %.1f %s/s", step + 1, self.loss_avg, lr, self.rate, self.unit)

    def close(self) -> None:
        self.bar.close()


# ---------------------------------------------------------------------------------------------
# the loop

FIT_PROBE = (5, 25)  # with ``fit_s``, a process times its steps 5 to 25 to lay out the schedule


def fitted_steps(steps: int, done: int, rate: float, seconds_left: float, margin: float = 0.95) -> int:
    """The length of a schedule fitted to a time budget: the ``done`` steps plus as many as ``rate``
    steps/s allow in ``seconds_left`` (``margin`` leaves room for checkpoints and the final
    evaluation), at most ``steps``."""
    return max(done, min(steps, done + int(rate * max(0.0, seconds_left) * margin)))


@dataclass
class LoopResult:
    """What a finished (or resumed and finished) training loop reports."""

    steps: int  # optimizer steps done in total
    final_loss: float  # mean loss over the last ``tail`` steps
    first_loss: float  # mean loss over the first ``tail`` steps of this process
    wall_time_s: float  # wall time over all sessions of the run
    examples_per_s: float  # throughput of this process
    losses: list[float]  # loss per step of this process
    averaged: nn.Module | None = None  # a copy of the model holding the EMA weights (None without EMA)
    meta: dict = field(default_factory=dict)  # the JSON of the last export (``export_meta``), metrics included

    def metrics(self) -> dict:
        return {"steps": self.steps, "final_loss": round(self.final_loss, 6),
                "wall_time_s": round(self.wall_time_s, 1), "examples_per_s": round(self.examples_per_s, 2)}


def _mean(values: list[float]) -> float:
    return sum(values) / max(1, len(values))


def train_loop(model: nn.Module, loss_fn: Callable[[int], Tensor], steps: int, optim: OptimConfig,
               device: torch.device, gens: dict[str, torch.Generator], examples_per_step: int,
               out_dir: str | Path | None = None, ckpt_every: int = 0, resume: bool | str = False,
               export_meta: Callable[[dict], dict] | None = None, desc: str = "train", progress: bool = True,
               on_checkpoint: Callable[[int, nn.Module, bool], dict] | None = None, tail: int = 50,
               stop_at: int | None = None, time_budget_s: float | None = None,
               after_step: Callable[[int], None] | None = None, others: dict[str, Any] | None = None,
               fit_s: float | None = None) -> LoopResult:
    """Run optimizer steps [resumed step, steps) of ``loss_fn(step) -> scalar loss``.

    AdamW with warm-up and cosine decay, gradient clipping, EMA, bf16 autocast on CUDA, a progress bar,
    and checkpoints under ``out_dir`` every ``ckpt_every`` steps whose exported weights are the EMA
    (``export_meta(metrics) -> meta`` gives their JSON; ``on_checkpoint(step, ema_model, finished) ->
    extra metrics`` e.g. a validation loss, ``finished`` being true for the export at the schedule's
    end). ``loss_fn`` draws its batch and noise from ``gens`` and ``batch_indices(step, ...)`` so
    resumption is exact. ``after_step(step)`` runs after each optimizer
    step (a distillation's target update) and ``others`` (objects with ``state_dict``) travel in the
    training state. The last export (at the end, also without ``out_dir``) is the result's ``meta``; with
    ``out_dir`` it goes to OUT/final and OUT/latest. ``stop_at`` (a step) or ``time_budget_s`` (seconds
    of this process) interrupt the run early with a checkpoint in OUT/latest that ``resume`` (True, or a
    checkpoint: see ``find_resume``) continues exactly as if it had never stopped (the schedule is
    laid out over ``steps``). ``fit_s`` lays it out instead over as many steps (at most ``steps``) as fit
    in that many seconds of this process, measured over its steps ``FIT_PROBE``; the fitted length is
    kept in the training state, so a resumed run keeps it.

    Under torchrun (``distributed.py``) ``loss_fn`` calls the model through ``distributed.wrap`` and
    draws its part of the batch; the logged loss is the mean over ranks, rank 0 alone evaluates,
    writes checkpoints and shows the bar, and the training state holds every rank's generators.
    """
    ranks = distributed.ranks()
    optimizer = make_optimizer(model, optim.lr, optim.weight_decay, optim.betas, optim.decay_vectors)
    ema = EMA(model, optim.ema_decay) if optim.ema_decay > 0 else None
    ckpt = CheckpointManager(out_dir, ckpt_every) if out_dir is not None else None
    resume_from = find_resume(out_dir, resume) if out_dir is not None else None
    start, wall_before, fitted = 0, 0.0, None
    if resume_from is not None:
        state = CheckpointManager.restore(resume_from, model, optimizer, ema, gens, others, rank=ranks.rank)
        start, wall_before = int(state["step"]), float(state["extra"].get("wall_time_s", 0.0))
        fitted = state["extra"].get("schedule_steps")
        log.info("resumed from %s at step %d", resume_from, start)
    if len(set(starts := distributed.gather(start))) > 1:
        raise RuntimeError(f"the ranks would resume at steps {starts}: every rank must read the same "
                           f"{out_dir}/latest (a folder all machines share)")
    total = int(fitted or steps)  # the step the schedule ends at
    log.info("%s: %s parameters, steps %d to %d of %d, %d examples per step on %s", desc,
             f"{count_parameters(model):,}", start, min(total, stop_at or total), total, examples_per_step,
             describe_machine(device))
    bar = Progress(total, start, desc=desc, disable=not progress or not ranks.main)
    probe: list[float] = []  # times at the FIT_PROBE steps
    losses: list[float] = []
    t0 = time.perf_counter()
    model.train()

    def wall() -> float:
        return wall_before + time.perf_counter() - t0

    def export(step: int) -> tuple[nn.Module, dict]:
        averaged = ema.averaged_copy(model) if ema is not None else copy.deepcopy(model)
        averaged.eval()
        metrics = {"steps": step, "wall_time_s": round(wall(), 1)}
        if ranks.world > 1:
            metrics["processes"] = ranks.world
        if fitted:
            metrics["schedule_steps"] = total
        if losses:
            metrics["final_loss"] = round(_mean(losses[-tail:]), 6)
        if on_checkpoint is not None and ranks.main:
            metrics.update(on_checkpoint(step, averaged, step == total))
        return averaged, (export_meta(metrics) if export_meta else {"metrics": metrics})

    def save(step: int, exported: tuple[nn.Module, dict] | None = None, name: str | None = None) -> None:
        """Every rank hands in its generators; rank 0 exports (unless given) and writes."""
        rank_gens = distributed.gather(gen_states(gens))
        if ranks.main:
            assert ckpt is not None, "save needs an out_dir"
            extra = {"wall_time_s": wall()} | ({"schedule_steps": total} if fitted else {})
            ckpt.save(step, *(exported or export(step)), model, optimizer, ema, gens,
                      extra=extra, name=name, others=others, rank_gens=rank_gens)

    step = start
    while step < total:
        out_of_time = time_budget_s is not None and distributed.any_rank(time.perf_counter() - t0 > time_budget_s)
        if (stop_at is not None and step >= stop_at) or out_of_time:
            break
        lr = lr_at(step, optim.lr, optim.warmup, total, optim.min_lr_ratio)
        set_lr(optimizer, lr)
        with autocast(device):
            loss = loss_fn(step)
        logged = distributed.mean(loss.detach())  # the loss itself on one process
        if not torch.isfinite(logged):
            raise FloatingPointError(f"loss is {logged.item()} at step {step}")
        loss.backward()
        clip_and_step(model, optimizer, optim.grad_clip)
        if ema is not None:
            ema.update(model, step)
        if after_step is not None:
            after_step(step)
        losses.append(float(logged))
        bar.update(step, losses[-1], examples_per_step, lr)
        if fit_s is not None and not fitted and step + 1 - start in FIT_PROBE:
            probe.append(time.perf_counter())
            if len(probe) == 2:
                rate = (FIT_PROBE[1] - FIT_PROBE[0]) / max(probe[1] - probe[0], 1e-9)
                left = fit_s - (time.perf_counter() - t0)
                total = fitted = distributed.gather(fitted_steps(steps, step + 1, rate, left))[0]  # rank 0's
                bar.bar.total = total
                log.info("%s: %.2f steps/s; the schedule is laid out over %d steps to fit %.0f s", desc, rate,
                         total, fit_s)
        if ckpt is not None and ckpt.due(step, total):
            save(step + 1)
        step += 1
    end = step
    bar.close()
    averaged, meta = export(end)
    if ckpt is not None and end > start:
        save(end, (averaged, meta), name="final" if end == total else None)
    distributed.barrier()  # what rank 0 wrote is there before any rank goes on
    if end < total:
        log.info("stopped at step %d of %d; resume to continue", end, total)
    return LoopResult(
        steps=end,
        final_loss=_mean(losses[-tail:]),
        first_loss=_mean(losses[:tail]),
        wall_time_s=wall(),
        examples_per_s=len(losses) * examples_per_step / max(time.perf_counter() - t0, 1e-9),
        losses=losses,
        averaged=averaged if ema is not None else None,
        meta=meta,
    )
