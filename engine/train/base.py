"""Train the base diffusion model: v-prediction on the cosine VP schedule, tags with CFG dropout.

    t ~ U{0, ..., 999},  eps ~ N(0, I),  x_t = alpha_t x0 + sigma_t eps
    L = || v_theta(x_t, t, c) - (alpha_t eps - sigma_t x0) ||^2

Plain v-MSE (DESIGN.md §3): in eps terms it weights each t by (1 + SNR_t), so the high-noise end that
the 1-step surrogate and the distilled students rely on keeps a well-conditioned target. Tags are
dropped to the null tag with probability ``cfg_drop`` per row (for classifier-free guidance) and each
field independently with ``field_drop`` (so a user may give only some tags). The exported weights are
the EMA; the checkpoint (kind "base") carries the model and mel configs, the tag vocabulary, the recipe
and the metrics (final loss, validation loss, steps, wall time, machine).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ditto_live.engine.audio import PRESETS as MEL_PRESETS
from ditto_live.engine.conditioning import NULL_TAG
from ditto_live.engine.schedule import NUM_TRAIN_STEPS, q_sample, v_target
from ditto_live.engine.tags import TagVocab
from ditto_live.engine.train import distributed
from ditto_live.engine.train.common import OptimConfig, batch_indices, checkpoint_meta, start_run, train_loop
from ditto_live.engine.train.dataset import MelData, load_mel_data, load_tag_vocab
from ditto_live.engine.unet import UNET_PRESETS, UNet, UNetConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BaseRecipe:
    preset: str = "tiny"  # UNet and mel preset
    steps: int = 20000  # optimizer steps
    batch: int = 16  # mel windows per step, over all processes (each of W ranks draws batch / W)
    cfg_drop: float = 0.1  # probability that a row's tags all become the null tag (CFG)
    field_drop: float = 0.1  # probability that one tag field becomes null on its own
    crop_frames: int = 0  # train on random crops of this many frames (0 = whole windows); the UNet is
    #                       convolutional, so crops buy CPU throughput at the cost of long-range context
    seed: int = 0  # seeds initialisation, noise, times, dropout and the data order
    optim: OptimConfig = field(default_factory=OptimConfig)  # AdamW, schedule, clipping, EMA

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# the objective


def sample_times(batch: int, generator: torch.Generator, device: torch.device | str = "cpu") -> Tensor:
    """t ~ U{0, ..., T-1}. -> [B] long"""
    return torch.randint(0, NUM_TRAIN_STEPS, (batch,), generator=generator).to(device)


def random_crop(x0: Tensor, frames: int, generator: torch.Generator, multiple: int) -> Tensor:
    """One random crop of ``frames`` frames (rounded down to ``multiple``) per row. [B, 1, F, N] -> [B, 1, F, n]"""
    n = x0.shape[-1]
    frames = max(multiple, frames // multiple * multiple)
    if frames >= n:
        return x0
    starts = torch.randint(0, n - frames + 1, (x0.shape[0],), generator=generator).tolist()
    return torch.stack([x0[i, ..., s:s + frames] for i, s in enumerate(starts)])


def mel_batch(data: MelData, step: int, batch: int, seed: int, device: torch.device, crop_frames: int,
              multiple: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Batch ``step`` of the data order (``batch_indices``): x0 [B, 1, F, n] float32 on ``device``, a random
    crop of ``crop_frames`` frames (a multiple of ``multiple``) when given, and its tags [B, 4] (CPU)."""
    idx = batch_indices(step, batch, len(data.mels), seed)
    x0 = data.mels[idx].to(device).float()
    if crop_frames:
        x0 = random_crop(x0, crop_frames, generator, multiple)
    return x0, data.tags[idx]


def drop_tags(tags: Tensor, p_row: float, p_field: float, generator: torch.Generator) -> Tensor:
    """Null whole rows with probability p_row and single fields with probability p_field.
    tags: [B, K] long -> [B, K] long"""
    b, k = tags.shape
    u_row = torch.rand(b, 1, generator=generator).to(tags.device)
    u_field = torch.rand(b, k, generator=generator).to(tags.device)
    drop = (u_row < p_row) | (u_field < p_field)
    return torch.where(drop, torch.full_like(tags, NULL_TAG), tags)


def v_loss(model: nn.Module, x0: Tensor, t: Tensor, eps: Tensor, tags: Tensor) -> Tensor:
    """v-prediction MSE. x0, eps: [B, 1, F, N]; t: [B] long; tags: [B, 4] -> scalar"""
    x_t = q_sample(x0, t, eps)
    v = model(x_t, t.float(), tags, None)
    return F.mse_loss(v.float(), v_target(x0, t, eps).float())


def base_loss(model: nn.Module, x0: Tensor, tags: Tensor, generator: torch.Generator,
              cfg_drop: float, field_drop: float) -> Tensor:
    """One training loss: draw t, noise and tag dropout from ``generator``; x0 [B, 1, F, N] -> scalar."""
    b = x0.shape[0]
    t = sample_times(b, generator, x0.device)
    eps = torch.randn(x0.shape, generator=generator).to(x0.device, x0.dtype)
    return v_loss(model, x0, t, eps, drop_tags(tags, cfg_drop, field_drop, generator))


@torch.no_grad()
def validation_loss(model: nn.Module, x0: Tensor, tags: Tensor, seed: int = 1234, repeats: int = 2) -> float:
    """v-MSE on a fixed set (same t and noise every call), so checkpoints compare. x0: [B, 1, F, N]"""
    gen = torch.Generator().manual_seed(seed)
    total = 0.0
    for _ in range(repeats):
        t = sample_times(x0.shape[0], gen, x0.device)
        eps = torch.randn(x0.shape, generator=gen).to(x0.device, x0.dtype)
        total += float(v_loss(model, x0, t, eps, tags))
    return total / repeats


# ---------------------------------------------------------------------------------------------
# fine-tuning from a checkpoint (--init)


def merge_vocab(old: dict, new: dict) -> dict:
    """The old vocabulary with the new one's unseen names appended per field (old indices unchanged)."""
    a, b = TagVocab.from_dict(old), TagVocab.from_dict(new)
    names = {f: [*na[1:], *[n for n in nb[1:] if n not in na]] for f, na, nb in zip(a.fields, a.names, b.names)}
    return TagVocab.from_names(**names).to_dict()


def load_grown(model: nn.Module, state: dict[str, Tensor]) -> None:
    """Load ``state`` into ``model`` where a tag table may have grown: old rows are copied, new rows
    start as the null tag's embedding (row 0), so a new name initially means "unknown"."""
    own = model.state_dict()
    for k, v in state.items():
        if k in own and own[k].shape != v.shape and k.startswith("tag_emb.") and own[k].shape[1:] == v.shape[1:]:
            grown = v[:1].expand(own[k].shape[0], *v.shape[1:]).clone()
            grown[: v.shape[0]] = v
            state = {**state, k: grown}
    model.load_state_dict(state)


def _load_init(init: str | Path) -> tuple[nn.Module, dict]:
    from ditto_live.engine.checkpoint import load_checkpoint

    model, meta = load_checkpoint(init)
    if meta.get("kind") != "base":
        raise ValueError(f"--init needs a base checkpoint, {init} is {meta.get('kind')!r}")
    return model, meta


# ---------------------------------------------------------------------------------------------
# entry point


def train_base(data_dir: str | Path, out_dir: str | Path, preset: str = "tiny", steps: int = 20000,
               batch: int = 16, lr: float = 2e-4, seed: int = 0, device: str = "auto",
               resume: bool | str = False, ckpt_every: int = 1000, progress: bool = True,
               data: MelData | None = None, val: MelData | None = None, limit: int = 0,
               warmup: int | None = None, ema_decay: float = 0.999, crop_frames: int = 0,
               unet_config: UNetConfig | None = None, stop_at: int | None = None,
               time_budget_s: float | None = None, init: str | Path | None = None,
               fit_s: float | None = None) -> dict:
    """Train the base model on a corpus (or on ``data`` given in memory); checkpoints of kind "base" go
    to OUT/step-N, OUT/latest and OUT/final. ``unet_config`` overrides the preset's UNet (tests, sweeps);
    ``init`` starts from a base checkpoint's weights and architecture (fine-tuning, a second phase on
    more data or longer windows) with a fresh schedule. ``fit_s`` lays the schedule out over the steps that fit in that many seconds
    (``train_loop``). Under torchrun each rank reads its block of the
    corpus (``data`` given in memory is split the same way) and draws batch / W windows a step.
    Returns the final metrics."""
    optim = OptimConfig(lr=lr, warmup=warmup if warmup is not None else min(500, steps // 10), ema_decay=ema_decay)
    recipe = BaseRecipe(preset=preset, steps=steps, batch=batch, seed=seed, optim=optim, crop_frames=crop_frames)
    run = start_run(seed, device)
    dev, gen, machine, ranks = run.device, run.generator, run.machine, run.ranks
    per_rank = distributed.local_batch(batch, ranks.world)
    init_model, init_meta = _load_init(init) if init else (None, {})
    if data is None:
        vocab = merge_vocab(init_meta["tags"], load_tag_vocab(data_dir).to_dict()) if init else None
        data = load_mel_data(data_dir, preset, "train", limit, vocab=vocab, part=ranks.part)
    else:
        data = data.part(*ranks.part)
    windows = distributed.total(len(data.mels))
    if not ranks.main:
        val = None  # rank 0 alone evaluates
    elif val is None and data_dir is not None:
        try:
            val = load_mel_data(data_dir, preset, "val", limit=16, vocab=data.vocab)
        except (FileNotFoundError, KeyError) as exc:
            log.warning("no validation split (%s); validation loss skipped", exc)
    mel_cfg = MEL_PRESETS[preset]
    unet_cfg = unet_config or (UNetConfig.from_dict(init_meta["model_config"]) if init else UNET_PRESETS[preset])
    model = UNet(unet_cfg, data.vocab_sizes)
    if init_model is not None:
        load_grown(model, init_model.state_dict())
    model = model.to(dev)
    net = distributed.wrap(model)  # what the loss calls: DDP under torchrun, the model itself otherwise
    log.info("base: %d windows, preset %s, batch %d", windows, preset, batch)

    def loss_fn(step: int) -> Tensor:
        x0, tags = mel_batch(data, step, per_rank, run.seed, dev, crop_frames, model.downsample_factor, gen)
        return base_loss(net, x0, tags.to(dev), gen, recipe.cfg_drop, recipe.field_drop)

    def on_checkpoint(step: int, averaged: nn.Module, finished: bool) -> dict:
        if val is None or len(val.mels) == 0:
            return {}
        return {"val_loss": round(validation_loss(averaged, val.mels.to(dev).float(), val.tags.to(dev)), 6)}

    def export_meta(metrics: dict) -> dict:
        return checkpoint_meta("base", model, unet_cfg.to_dict(), mel_cfg.to_dict(),
                               recipe.to_dict() | {"data": str(data_dir), "windows": windows,
                                                   "init": str(init) if init else None,
                                                   "init_recipe": init_meta.get("recipe")},
                               metrics, machine, tags=data.vocab, vocab_sizes=list(data.vocab_sizes))

    result = train_loop(model, loss_fn, steps, optim, dev, {"train": gen}, batch, out_dir=out_dir,
                        ckpt_every=ckpt_every, resume=resume, export_meta=export_meta, desc="base",
                        progress=progress, on_checkpoint=on_checkpoint, stop_at=stop_at, time_budget_s=time_budget_s,
                        fit_s=fit_s)
    return result.metrics() | {"first_loss": round(result.first_loss, 6), "machine": machine}
