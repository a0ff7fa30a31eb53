"""Shared builders for the engine tests: narrow UNets that run ITO, distillation and training on a CPU
in milliseconds. Import them: ``from tests.engine.conftest import NARROW, make_unet``."""

from __future__ import annotations

import dataclasses

import torch

from ditto_live.engine.unet import UNet, UNetConfig

# two levels of 8 and 16 channels, no attention: the narrowest UNet that still has every stage
NARROW = UNetConfig(channels=(8, 16), blocks=(1, 1), attention=(False, False), mid_attention=False,
                    cross_attention=False, emb_dim=32, groups=4)
# the same at 16 and 32 channels: wide enough to overfit a batch in a few dozen steps (trainer tests)
MICRO = dataclasses.replace(NARROW, channels=(16, 32), groups=8)
TAG_SIZES = (3, 3, 3, 3)  # tag vocabulary sizes (null included) the builders default to


def make_unet(cfg: UNetConfig = NARROW, *, w_embed: bool | None = None, seed: int = 0,
              vocab_sizes: tuple[int, ...] = TAG_SIZES) -> UNet:
    """A UNet of ``cfg`` (``w_embed`` overrides the config's: a student takes w) whose weights depend only
    on ``seed``, in eval mode. The global generator is left as it was."""
    if w_embed is not None:
        cfg = dataclasses.replace(cfg, w_embed=w_embed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return UNet(cfg, vocab_sizes).eval()
