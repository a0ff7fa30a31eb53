"""Few-step samplers of the distilled students: CTM gamma-sampling and CM multistep sampling.

Both keep the engine's one sampler signature ``sample(model, x, grid, cond, generator=None,
callback=None) -> x0`` (docs/architecture.md), where ``generator`` may also be a sequence of
per-row generators (``row_generators``); ``grid`` lists the decoding levels, from the start
level down to the clean level -1 (``student_grid(T)``), and ``callback(step, total, x)`` is called
after each of the ``len(grid) - 1`` steps with the number of steps done. Nothing here disables
gradients, so ITO may differentiate through a few decoding steps.

gamma-sampling in VP form (paper Alg. 1, lines 10-11, written there in EDM's variance-exploding form
where x_VE = x / alpha and the noise level is sigma~ = sigma / alpha):

    sigma~_s = sqrt(1 - gamma^2) * sigma~_{n+1}                   (Alg. 1 line 10)
    x_{n+1} = (alpha_{n+1} / alpha_s) G(x_n, t_n, s) + gamma * sigma_{n+1} * eps   (line 11, times alpha_{n+1})

The VP renoising from level s to level t_{n+1} is x = (a_{n+1}/a_s) x_s + sqrt(sigma_{n+1}^2 -
(a_{n+1}/a_s)^2 sigma_s^2) eps; with the s of line 10 the root is exactly gamma * sigma_{n+1}, and
with r = sqrt(alpha_{n+1}^2 + (1 - gamma^2) sigma_{n+1}^2):

    alpha_s = alpha_{n+1} / r,   sigma_s = sqrt(1 - gamma^2) sigma_{n+1} / r,   a_{n+1}/a_s = r.

gamma = 0 is deterministic CTM sampling along the trajectory (s = t_{n+1}); gamma = 1 puts s at the
clean level and is CM-style renoising of the student's x0_hat. The level s generally lies between the
1000 table steps; the 1-step Euler G needs only its (alpha_s, sigma_s), so no rounding is done.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from ditto_live.engine.conditioning import Cond
from ditto_live.engine.distill import TEACHER_STEPS, cm_denoise, ctm_jump, predict_x0_eps
from ditto_live.engine.schedule import CLEAN, NUM_TRAIN_STEPS, alpha_sigma, q_sample, teacher_grid

Callback = Callable[[int, int, Tensor], None]


def student_grid(steps: int, teacher_steps: int = TEACHER_STEPS) -> list[int]:
    """Decoding levels for ``steps`` student steps: ``steps`` levels of the teacher grid, evenly spaced
    and starting at its first (t = 999), then the clean level.

    student_grid(1) = [999, -1]; student_grid(2) = [999, 499, -1]; student_grid(4) = [999, 749, 499, 249, -1].
    """
    if not 1 <= steps <= teacher_steps:
        raise ValueError(f"steps must be in [1, {teacher_steps}], got {steps}")
    levels = teacher_grid(teacher_steps)[:-1]
    return [levels[i * teacher_steps // steps] for i in range(steps)] + [CLEAN]


def gamma_level(alpha_next: Tensor, sigma_next: Tensor, gamma: float) -> tuple[Tensor, Tensor]:
    """(alpha_s, sigma_s) of the jump target s with sigma~_s = sqrt(1 - gamma^2) sigma~_{n+1}, where
    sigma~ = sigma / alpha (Alg. 1 line 10 in VP form). [B] -> two [B]"""
    keep = (1 - gamma**2) ** 0.5
    r = (alpha_next**2 + keep**2 * sigma_next**2).sqrt()
    return alpha_next / r, keep * sigma_next / r


def gamma_renoise(x_s: Tensor, alpha_s: Tensor, alpha_next: Tensor, sigma_next: Tensor, gamma: float,
                  eps: Tensor) -> Tensor:
    """Alg. 1 line 11 in VP form: the forward transition from the s of :func:`gamma_level` to t_{n+1}, whose
    root sqrt(sigma_{n+1}^2 - r^2 sigma_s^2) is exactly gamma * sigma_{n+1}, so it is written in closed form:

        x_{n+1} = (alpha_{n+1} / alpha_s) x_s + gamma * sigma_{n+1} * eps

    The root of the rounded difference would add ~sqrt(float32 eps) ~ 3e-4 of noise at gamma = 0, which
    must add none (deterministic CTM sampling). x_s, eps: [B, ...]; coefficients [B]."""
    shape = (-1, *([1] * (x_s.dim() - 1)))
    ratio = (alpha_next / alpha_s).to(x_s.dtype).reshape(shape)
    return ratio * x_s + (gamma * sigma_next).to(x_s.dtype).reshape(shape) * eps


def _check_grid(grid: Sequence[int]) -> list[int]:
    grid = [int(t) for t in grid]
    if len(grid) < 2 or any(a <= b for a, b in zip(grid, grid[1:])):
        raise ValueError(f"a decoding grid needs >= 2 strictly decreasing levels, got {grid}")
    return grid


Noise = torch.Generator | Sequence[torch.Generator] | None  # one generator, one per batch row, or the global one


def row_generators(seed: int, rows: int, device: torch.device | str = "cpu") -> list[torch.Generator]:
    """One generator per batch row, row i seeded with ``seed + i``: a row's sampling noise then depends
    only on its own seed, not on the batch it is sampled in, so ITO's batched surrogate and the decode
    of its best row (a batch of one) see the same noise."""
    return [torch.Generator(device=device).manual_seed(seed + i) for i in range(rows)]


def _noise(x: Tensor, generator: Noise) -> Tensor:
    """N(0, I) shaped like x, drawn on the generator's device and moved to x's. A sequence of
    generators gives row i its draw from ``generator[i]`` alone."""
    if isinstance(generator, Sequence):
        if len(generator) != x.shape[0]:
            raise ValueError(f"{len(generator)} row generators for a batch of {x.shape[0]}")
        return torch.cat([_noise(x[i:i + 1], g) for i, g in enumerate(generator)])
    device = generator.device if generator is not None else x.device
    return torch.randn(x.shape, generator=generator, device=device).to(x)


def ctm_gamma_sample(model: nn.Module, x: Tensor, grid: Sequence[int], cond: Cond,
                     generator: Noise = None, callback: Callback | None = None,
                     gamma: float = 0.2) -> Tensor:
    """CTM gamma-sampling from x at grid[0] (e.g. x_T) down the levels of ``grid``. [B, 1, F, N] -> x0

    One student call per step. Noise is drawn for every step that does not end at the clean level,
    whatever gamma, so one generator gives the same stream for every gamma.
    """
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    grid = _check_grid(grid)
    total = len(grid) - 1
    for n in range(total):
        t = torch.full((x.shape[0],), float(grid[n]), device=x.device)
        t_next = torch.full_like(t, float(grid[n + 1]))
        x0_hat, eps_hat = predict_x0_eps(model, x, t, cond)
        alpha_next, sigma_next = alpha_sigma(t_next)
        alpha_s, sigma_s = gamma_level(alpha_next, sigma_next, gamma)
        x_s = ctm_jump(x0_hat, eps_hat, alpha_s, sigma_s)
        if grid[n + 1] == CLEAN:
            x = x_s
        else:
            x = gamma_renoise(x_s, alpha_s, alpha_next, sigma_next, gamma, _noise(x, generator))
        if callback is not None:
            callback(n + 1, total, x)
    return x


def cm_multistep_sample(model: nn.Module, x: Tensor, grid: Sequence[int], cond: Cond,
                        generator: Noise = None, callback: Callback | None = None) -> Tensor:
    """CM multistep ("ping-pong") sampling: x0 = f_phi(x, t_n), then renoise x0 to t_{n+1} with fresh
    noise, x = alpha_{n+1} x0 + sigma_{n+1} eps. [B, 1, F, N] -> x0"""
    grid = _check_grid(grid)
    total = len(grid) - 1
    for n in range(total):
        t = torch.full((x.shape[0],), float(grid[n]), device=x.device)
        x0 = cm_denoise(model, x, t, cond)
        if grid[n + 1] == CLEAN:
            x = x0
        else:
            x = q_sample(x0, torch.full_like(t, float(grid[n + 1])), _noise(x, generator))
        if callback is not None:
            callback(n + 1, total, x)
    return x


def ddim_invert(model: nn.Module, x0: Tensor, cond: Cond, steps: int) -> Tensor:
    """Deterministic DDIM inversion through a student: the x_T whose trajectory ends near ``x0``.

    From the clean level up to t = T in ``steps`` even jumps; each jump re-reads the model's (x0_hat,
    eps_hat) at the current level and moves to the next with them (the DDIM step run upwards), starting
    from ``x0`` itself. No gradients. x0: [B, 1, F, N] -> x_T [B, 1, F, N]
    """
    levels = torch.linspace(0, NUM_TRAIN_STEPS - 1, steps + 1).round().tolist()
    x = x0
    with torch.no_grad():
        for i, (t, s) in enumerate(zip(levels[:-1], levels[1:])):
            x0_hat, eps_hat = predict_x0_eps(model, x, torch.full((x.shape[0],), t, device=x.device), cond)
            alpha_s, sigma_s = alpha_sigma(torch.full((x.shape[0],), s, device=x.device))
            x = ctm_jump(x0 if i == 0 else x0_hat, eps_hat, alpha_s, sigma_s)
    return x


def mix_start(inverted: Tensor, noise: Tensor, share: float) -> Tensor:
    """An initial noise that holds ``share`` of its variance from an inversion (normalised to unit
    variance) and the rest from ``noise``: sqrt(share) x_inv + sqrt(1 - share) eps.
    inverted: [1, 1, F, N]; noise: [B, 1, F, N] -> [B, 1, F, N]"""
    unit = inverted / inverted.std().clamp_min(1e-6)
    return share ** 0.5 * unit + (1 - share) ** 0.5 * noise
