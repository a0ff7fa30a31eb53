"""Cosine VP schedule, v-prediction algebra, the teacher grid and classifier-free guidance.

Time is a discrete index t in {0, ..., 999} (t = 999 is the noise end, x_T); t = -1 denotes
clean data (alpha = 1, sigma = 0), the target of the last sampling step. Every function takes
tensors and returns tensors; none holds state.

    x_t = alpha_t * x0 + sigma_t * eps,     alpha_t^2 + sigma_t^2 = 1
    v   = alpha_t * eps - sigma_t * x0
    x0  = alpha_t * x_t - sigma_t * v,      eps = sigma_t * x_t + alpha_t * v
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

NUM_TRAIN_STEPS = 1000  # discrete diffusion steps of the base model
CLEAN = -1  # time index of clean data


def cosine_alphas_cumprod(num_steps: int = NUM_TRAIN_STEPS, s: float = 0.008, max_beta: float = 0.999) -> Tensor:
    """alpha-bar_t of the cosine schedule (Nichol & Dhariwal), betas clipped at ``max_beta``. [num_steps]"""
    def f(u: float) -> float:
        return math.cos((u + s) / (1 + s) * math.pi / 2) ** 2

    betas = [min(1 - f((i + 1) / num_steps) / f(i / num_steps), max_beta) for i in range(num_steps)]
    return torch.cumprod(1 - torch.tensor(betas, dtype=torch.float64), 0).float()


_ALPHAS_CUMPROD = cosine_alphas_cumprod()
# index 0 is the clean level (t = -1), index t + 1 is step t
_ALPHA_TABLE = torch.cat([torch.ones(1), _ALPHAS_CUMPROD.sqrt()])
_SIGMA_TABLE = torch.cat([torch.zeros(1), (1 - _ALPHAS_CUMPROD).sqrt()])


_TABLES: dict[torch.device, tuple[Tensor, Tensor]] = {}  # (alpha, sigma) tables per device, copied once


def _tables(device: torch.device) -> tuple[Tensor, Tensor]:
    """The alpha/sigma tables on ``device``, copied there once: a host-to-device copy per call would
    synchronise every step and cannot be captured in a CUDA graph (engine/backends.py)."""
    tables = _TABLES.get(device)
    if tables is None:
        tables = _TABLES[device] = (_ALPHA_TABLE.to(device), _SIGMA_TABLE.to(device))
    return tables


def alpha_sigma(t: Tensor) -> tuple[Tensor, Tensor]:
    """(alpha_t, sigma_t) for integer-valued times ``t`` in [-1, 999], any shape, on t's device."""
    idx = (t.long() + 1).clamp(0, NUM_TRAIN_STEPS)
    alpha, sigma = _tables(t.device)
    return alpha[idx], sigma[idx]


def _bc(a: Tensor, x: Tensor) -> Tensor:
    """Broadcast a per-sample [B] coefficient against x [B, ...]."""
    return a.to(x.dtype).reshape(-1, *([1] * (x.dim() - 1)))


def q_sample(x0: Tensor, t: Tensor, eps: Tensor) -> Tensor:
    """Forward process: x_t from clean x0 and noise. x0, eps: [B, ...]; t: [B]."""
    a, s = alpha_sigma(t)
    return _bc(a, x0) * x0 + _bc(s, x0) * eps


def v_target(x0: Tensor, t: Tensor, eps: Tensor) -> Tensor:
    """The v-prediction regression target."""
    a, s = alpha_sigma(t)
    return _bc(a, x0) * eps - _bc(s, x0) * x0


def x0_from_v(x_t: Tensor, t: Tensor, v: Tensor) -> Tensor:
    a, s = alpha_sigma(t)
    return _bc(a, x_t) * x_t - _bc(s, x_t) * v


def eps_from_v(x_t: Tensor, t: Tensor, v: Tensor) -> Tensor:
    a, s = alpha_sigma(t)
    return _bc(s, x_t) * x_t + _bc(a, x_t) * v


def ddim_jump(x0_hat: Tensor, eps_hat: Tensor, s: Tensor) -> Tensor:
    """Deterministic DDIM move to time ``s`` given predictions of x0 and eps: alpha_s x0 + sigma_s eps."""
    a, sg = alpha_sigma(s)
    return _bc(a, x0_hat) * x0_hat + _bc(sg, x0_hat) * eps_hat


def ddim_step_from_v(x_t: Tensor, t: Tensor, s: Tensor, v: Tensor) -> Tensor:
    """One DDIM step from t to s (s < t) given the model's v at (x_t, t)."""
    return ddim_jump(x0_from_v(x_t, t, v), eps_from_v(x_t, t, v), s)


def teacher_grid(num_steps: int = 20, num_train_steps: int = NUM_TRAIN_STEPS) -> list[int]:
    """Evenly spaced sampling times starting at t = T - 1 and ending at the clean level -1.

    ``teacher_grid(20)`` = [999, 949, ..., 49, -1]: 20 model calls, 21 levels.
    """
    stride = num_train_steps // num_steps
    return [num_train_steps - 1 - i * stride for i in range(num_steps)] + [CLEAN]


def cfg_combine(cond: Tensor, uncond: Tensor, w: float | Tensor) -> Tensor:
    """Classifier-free guidance as the paper writes it: w * cond + (1 - w) * uncond.

    Linear in the prediction, so it applies to v as it does to eps.
    """
    if isinstance(w, Tensor) and w.dim() == 1:
        w = _bc(w, cond)
    return w * cond + (1 - w) * uncond
