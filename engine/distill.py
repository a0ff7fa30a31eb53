"""Consistency (CM) and consistency-trajectory (CTM) distillation: the students' maps and losses.

DITTO-2 §3.2 (paper Eq. 1 and 4), DESIGN.md §3. Time is the discrete index of ``schedule`` (t = -1 is
clean data); the teacher is a v-prediction network run with classifier-free guidance through
``predict_v``; a student takes the guidance weight w as an input (``model.takes_w``).

CTM, 1-step Euler parameterisation (CTM, Kim et al. 2024, appendix): the jump from t to s is the DDIM
jump built from the student's own predictions, so s needs no parameters of its own:

    G_phi(x_t, t, s) = alpha_s * x0_hat + sigma_s * eps_hat,     (x0_hat, eps_hat) from v_phi(x_t, t, w)

and G(x_t, t, t) = x_t since alpha_t x0_hat + sigma_t eps_hat = (alpha_t^2 + sigma_t^2) x_t.

CM, LCM recipe (Luo et al. 2023): f_phi(x_t, t) = c_skip(t) x_t + c_out(t) x0_hat with boundary
scalings that make f the identity at the clean level.

Both losses build the target through the EMA student phi^- applied to one teacher DDIM step with CFG on
the 20-step teacher grid (Theta in the paper), under a stop-gradient.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ditto_live.engine.conditioning import Cond, predict_v
from ditto_live.engine.schedule import (
    CLEAN,
    alpha_sigma,
    ddim_step_from_v,
    eps_from_v,
    q_sample,
    teacher_grid,
    x0_from_v,
)

log = logging.getLogger(__name__)

SIGMA_DATA = 0.5  # LCM's sigma_data in the boundary scalings
TIMESTEP_SCALING = 10.0  # LCM's timestep scaling in the boundary scalings
HUBER_C = 1e-3  # pseudo-Huber constant c (LCM's default)
TEACHER_STEPS = 20  # the teacher grid the students are distilled on


# ---------------------------------------------------------------------------------------------
# the students' maps


def _bc(a: Tensor, x: Tensor) -> Tensor:
    """Broadcast a per-sample [B] tensor against x [B, ...]."""
    return a.to(x.dtype if a.is_floating_point() else a.dtype).reshape(-1, *([1] * (x.dim() - 1)))


def _times(t: int | float | Tensor, like: Tensor) -> Tensor:
    """A time index as a float [B] tensor on x's device."""
    if isinstance(t, Tensor) and t.dim() == 1:
        return t.to(device=like.device, dtype=torch.float32)
    return torch.full((like.shape[0],), float(t), device=like.device)


def predict_x0_eps(model: nn.Module, x_t: Tensor, t: Tensor, cond: Cond) -> tuple[Tensor, Tensor]:
    """(x0_hat, eps_hat) from the model's v at (x_t, t). x_t: [B, 1, F, N]; t: [B]."""
    v = predict_v(model, x_t, t, cond)
    return x0_from_v(x_t, t, v), eps_from_v(x_t, t, v)


def ctm_jump(x0_hat: Tensor, eps_hat: Tensor, alpha_s: Tensor, sigma_s: Tensor) -> Tensor:
    """The DDIM jump to a level given by its coefficients: alpha_s x0_hat + sigma_s eps_hat.

    alpha_s, sigma_s: [B]; the level need not lie on the 1000-step table (gamma-sampling uses this).
    """
    return _bc(alpha_s, x0_hat) * x0_hat + _bc(sigma_s, x0_hat) * eps_hat


def ctm_G(model: nn.Module, x_t: Tensor, t: Tensor | int, s: Tensor | int, cond: Cond) -> Tensor:
    """CTM's G_phi(x_t, c, w, t, s): jump from time t to time s <= t. [B, 1, F, N] -> [B, 1, F, N]

    Where s == t the result is x_t exactly (the algebra gives it up to rounding; we return x_t itself).
    """
    t, s = _times(t, x_t), _times(s, x_t)
    x0_hat, eps_hat = predict_x0_eps(model, x_t, t, cond)
    alpha_s, sigma_s = alpha_sigma(s)
    out = ctm_jump(x0_hat, eps_hat, alpha_s, sigma_s)
    return torch.where(_bc(s == t, x_t), x_t, out)


def cm_boundary_scalings(t: Tensor, sigma_data: float = SIGMA_DATA,
                         timestep_scaling: float = TIMESTEP_SCALING) -> tuple[Tensor, Tensor]:
    """LCM's (c_skip(t), c_out(t)), shifted one index so that the boundary falls on our clean level:

        u = timestep_scaling * (t + 1),   c_skip = sd^2 / (u^2 + sd^2),   c_out = u / sqrt(u^2 + sd^2)

    c_skip(-1) = 1, c_out(-1) = 0, so f(x, -1) = x. t: [B] -> two [B].
    """
    u = timestep_scaling * (t.float() + 1)
    c_skip = sigma_data**2 / (u**2 + sigma_data**2)
    c_out = u / (u**2 + sigma_data**2).sqrt()
    return c_skip, c_out


def cm_denoise(model: nn.Module, x_t: Tensor, t: Tensor | int, cond: Cond) -> Tensor:
    """The consistency function f_phi(x_t, t) = c_skip(t) x_t + c_out(t) x0_hat. -> [B, 1, F, N]"""
    t = _times(t, x_t)
    v = predict_v(model, x_t, t, cond)
    c_skip, c_out = cm_boundary_scalings(t)
    out = _bc(c_skip, x_t) * x_t + _bc(c_out, x_t) * x0_from_v(x_t, t, v)
    return torch.where(_bc(t == CLEAN, x_t), x_t, out)  # the boundary f(x, -1) = x, exactly


@torch.no_grad()
def teacher_ddim_step(teacher: nn.Module, x_t: Tensor, t: Tensor, t_prev: Tensor, cond: Cond) -> Tensor:
    """Theta(eps_theta, x_t, c): one DDIM step of the frozen teacher from t to t_prev, with CFG at cond.w."""
    v = predict_v(teacher, x_t, t, cond)
    return ddim_step_from_v(x_t, t, t_prev, v)


# ---------------------------------------------------------------------------------------------
# sampling the training tuple


def sample_w(batch: int, w_min: float, w_max: float, generator: torch.Generator | None = None,
             device: torch.device | str = "cpu") -> Tensor:
    """Guidance weights w ~ U[w_min, w_max], one per sample. -> [B]"""
    u = torch.rand(batch, generator=generator, device=generator.device if generator else "cpu")
    return (w_min + (w_max - w_min) * u).to(device)


def _grid_index(batch: int, low: Tensor | int, high: int, generator: torch.Generator | None) -> Tensor:
    """Uniform integers in [low, high] (inclusive; low may be per sample). -> [B] long on CPU"""
    u = torch.rand(batch, generator=generator, device=generator.device if generator else "cpu").cpu()
    low = torch.as_tensor(low).expand(batch)
    return low + (u * (high - low + 1)).long().clamp(max=high - low)


def sample_cm_times(batch: int, grid: Sequence[int] | None = None,
                    generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """(t, t_prev) for the CM loss: t a uniform non-clean level of the grid, t_prev the next level.
    -> two [B] float on CPU"""
    levels = torch.tensor(list(grid or teacher_grid(TEACHER_STEPS)), dtype=torch.float32)
    n = _grid_index(batch, 0, len(levels) - 2, generator)
    return levels[n], levels[n + 1]


def sample_ctm_times(batch: int, grid: Sequence[int] | None = None,
                     generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """(t, t-1, s) for the CTM loss: t a uniform non-clean level of the grid, t-1 the next level, and
    s uniform over the levels at or below t-1, the clean level included. -> three [B] float on CPU"""
    levels = torch.tensor(list(grid or teacher_grid(TEACHER_STEPS)), dtype=torch.float32)
    last = len(levels) - 1  # index of the clean level
    n = _grid_index(batch, 0, last - 1, generator)
    m = _grid_index(batch, n + 1, last, generator)
    return levels[n], levels[n + 1], levels[m]


def _noise_like(x: Tensor, generator: torch.Generator | None) -> Tensor:
    """N(0, I) shaped like x, drawn on the generator's device and moved to x's."""
    device = generator.device if generator is not None else x.device
    return torch.randn(x.shape, generator=generator, device=device).to(x)


def _distance(pred: Tensor, target: Tensor, loss: str, huber_c: float) -> Tensor:
    """Mean squared error ("l2") or LCM's pseudo-Huber sqrt(d^2 + c^2) - c ("huber"), over everything."""
    if loss == "l2":
        return F.mse_loss(pred.float(), target.float())
    if loss == "huber":
        d = (pred.float() - target.float()) ** 2
        return ((d + huber_c**2).sqrt() - huber_c).mean()
    raise ValueError(f"unknown loss {loss!r} (l2 or huber)")


# ---------------------------------------------------------------------------------------------
# losses (paper Eq. 1 and 4)


def cm_consistency_loss(student: nn.Module, ema_student: nn.Module, teacher: nn.Module, x0: Tensor,
                        cond: Cond, w: Tensor, generator: torch.Generator | None, loss: str = "l2",
                        grid: Sequence[int] | None = None, huber_c: float = HUBER_C) -> Tensor:
    """Eq. 1, LCM recipe: d(f_phi(x_t, t), stopgrad f_phi-(Theta(x_t), t_prev)).

    t is a level of the teacher grid (not the clean one), t_prev the next level; x_t ~ q(x_t | x0);
    the guidance weight w [B] is fed to both students and used by the teacher's CFG.
    x0: [B, 1, F, N]; cond.tags: [B, 4] -> scalar loss.
    """
    t, t_prev = (u.to(x0.device) for u in sample_cm_times(x0.shape[0], grid, generator))
    cond_w = Cond(cond.tags, w.to(x0.device))
    x_t = q_sample(x0, t, _noise_like(x0, generator))

    pred = cm_denoise(student, x_t, t, cond_w)
    with torch.no_grad():
        x_prev = teacher_ddim_step(teacher, x_t, t, t_prev, cond_w)
        target = cm_denoise(ema_student, x_prev, t_prev, cond_w)
    return _distance(pred, target, loss, huber_c)


def ctm_local_consistency_loss(student: nn.Module, ema_student: nn.Module, teacher: nn.Module, x0: Tensor,
                               cond: Cond, w: Tensor, generator: torch.Generator | None, loss: str = "l2",
                               grid: Sequence[int] | None = None, huber_c: float = HUBER_C) -> Tensor:
    """Eq. 4: || G_phi(x_t, t, s) - stopgrad G_phi-(Theta(x_t), t-1, s) ||^2.

    t is a level of the teacher grid (not the clean one), t-1 the next level, and s a grid level drawn
    uniformly at or below t-1, the clean level included. Where s = t-1 the target is the teacher's step
    itself. x0: [B, 1, F, N]; cond.tags: [B, 4]; w: [B] -> scalar loss.
    """
    t, t_prev, s = (u.to(x0.device) for u in sample_ctm_times(x0.shape[0], grid, generator))
    cond_w = Cond(cond.tags, w.to(x0.device))
    x_t = q_sample(x0, t, _noise_like(x0, generator))

    pred = ctm_G(student, x_t, t, s, cond_w)
    with torch.no_grad():
        x_prev = teacher_ddim_step(teacher, x_t, t, t_prev, cond_w)
        target = ctm_G(ema_student, x_prev, t_prev, s, cond_w)
    return _distance(pred, target, loss, huber_c)


# ---------------------------------------------------------------------------------------------
# students and their EMA


def init_student_from_teacher(teacher: nn.Module) -> nn.Module:
    """A student with the teacher's weights and a zero-initialised w embedding (``takes_w``).

    The teacher must be built from ``teacher.cfg`` (a dataclass with a ``w_embed`` field) and
    ``teacher.vocab_sizes``, like ``engine.unet.UNet``. The only weights the teacher lacks are the
    w embedding's; at w's zero-initialised projection the student's output equals the teacher's
    conditional output for any w.
    """
    import dataclasses

    teacher_cfg: Any = teacher.cfg  # the UNet's config, a plain attribute
    cfg = dataclasses.replace(teacher_cfg, w_embed=True)
    student = type(teacher)(cfg, teacher.vocab_sizes)
    student = student.to(next(teacher.parameters()).device)
    missing, unexpected = student.load_state_dict(teacher.state_dict(), strict=False)
    if unexpected:
        raise ValueError(f"teacher weights the student does not have: {unexpected}")
    bad = [k for k in missing if not k.startswith("w_")]
    if bad:
        raise ValueError(f"student weights not found in the teacher: {bad}")
    if not getattr(student, "takes_w", False):
        raise ValueError("the student does not take w (model.takes_w is False)")
    log.info("student initialised from the teacher; new weights: %s", missing)
    return student


def make_ema(model: nn.Module) -> nn.Module:
    """A frozen copy of ``model`` to hold the EMA phi^-."""
    ema = copy.deepcopy(model)
    ema.requires_grad_(False)
    return ema.eval()


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """phi^- <- decay * phi^- + (1 - decay) * phi, parameter by parameter; buffers are copied."""
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        p_ema.lerp_(p.detach().to(p_ema.dtype), 1 - decay)
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)


__all__ = [
    "CLEAN", "cm_boundary_scalings", "cm_consistency_loss", "cm_denoise", "ctm_G", "ctm_jump",
    "ctm_local_consistency_loss", "ema_update", "init_student_from_teacher", "make_ema", "predict_x0_eps",
    "sample_cm_times", "sample_ctm_times", "sample_w", "teacher_ddim_step",
]
