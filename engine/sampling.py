"""Teacher sampling: deterministic DDIM with classifier-free guidance on a grid of time levels.

Every sampler in the engine has one signature (docs/architecture.md):

    sample(model, x, grid, cond, generator=None, callback=None) -> x0

``x`` is the starting point at level ``grid[0]`` (pure noise when grid[0] = 999), ``grid`` the
decreasing time levels ending at -1 (clean), ``callback(step, total, x)`` is called after each step.
Gradients flow when the caller enables them (DITTO optimises x_T through this chain).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from ditto_live.engine.conditioning import Cond, predict_v
from ditto_live.engine.schedule import ddim_step_from_v

Callback = Callable[[int, int, Tensor], None]


def sample_noise(shape: Sequence[int], generator: torch.Generator | None, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32) -> Tensor:
    """Standard normal noise drawn from ``generator`` (on the generator's device, then moved), so a
    seed gives the same x_T whatever device the model runs on."""
    gen_device = generator.device if generator is not None else torch.device(device)
    return torch.randn(tuple(shape), generator=generator, device=gen_device, dtype=dtype).to(device)


def _time(level: int, x: Tensor) -> Tensor:
    return torch.full((x.shape[0],), float(level), device=x.device)


def ddim_sample(model: nn.Module, x: Tensor, grid: Sequence[int], cond: Cond,
                generator: torch.Generator | None = None, callback: Callback | None = None,
                grad_checkpoint: bool = False) -> Tensor:
    """Deterministic DDIM (eta = 0) from ``grid[0]`` to ``grid[-1]``, guided through ``predict_v``.

    x: [B, 1, F, N] at level grid[0] -> [B, 1, F, N] at level grid[-1]. ``generator`` is unused
    (DDIM adds no noise) and accepted for the common sampler signature. ``grad_checkpoint``
    recomputes each model call in the backward pass (memory for DITTO's 20-step chain).
    """
    total = len(grid) - 1
    for step, (t, s) in enumerate(zip(grid[:-1], grid[1:])):
        t_vec, s_vec = _time(t, x), _time(s, x)
        if grad_checkpoint and torch.is_grad_enabled():
            v = checkpoint(predict_v, model, x, t_vec, cond, use_reentrant=False)
        else:
            v = predict_v(model, x, t_vec, cond)
        x = ddim_step_from_v(x, t_vec, s_vec, v)
        if callback is not None:
            callback(step + 1, total, x)
    return x
