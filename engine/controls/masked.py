"""Inpainting, outpainting and looping (paper §4.1): masked MSE between x0 and a reference mel.

A mask ``[N]`` (1 = this frame must match the reference, 0 = free) and a reference ``[1, F, N]`` on the
clip's own frame grid make every painting task the same loss:

- inpaint: the reference everywhere except the region to regenerate;
- outpaint: the reference's last ``overlap`` frames placed at the start of the new clip;
- loop: the clip's last ``overlap`` frames must equal its first ones, so the clip trimmed by
  ``overlap`` frames repeats seamlessly (the end runs into what the start holds).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ditto_live.engine.controls.combine import Control, Sketch, SketchFn


def masked_mse(x0: Tensor, reference: Tensor, mask: Tensor) -> Tensor:
    """Mean squared error over masked frames. x0: [B, 1, F, N]; reference: [1, F, N]; mask: [N] -> [B]"""
    m = mask.to(x0.device, x0.dtype)
    err = ((x0[:, 0] - reference.to(x0.device, x0.dtype)) ** 2) * m  # [B, F, N]
    return err.sum((-1, -2)) / (m.sum() * x0.shape[2]).clamp(min=1)


def inpaint_target(reference: Tensor, start: int, end: int) -> tuple[Tensor, Tensor]:
    """Keep the reference outside frames [start, end). reference: [1, F, N] -> (reference, mask [N])"""
    n = reference.shape[-1]
    if not 0 <= start < end <= n:
        raise ValueError(f"inpaint region [{start}, {end}) frames is outside the clip's {n} frames")
    mask = torch.ones(n)
    mask[start:end] = 0
    return reference, mask


def outpaint_target(reference: Tensor, overlap: int, frames: int) -> tuple[Tensor, Tensor]:
    """The reference's last ``overlap`` frames at the start of a ``frames``-long clip.
    reference: [1, F, M] -> (target [1, F, frames], mask [frames])"""
    if not 0 < overlap <= min(reference.shape[-1], frames):
        raise ValueError(f"outpaint overlap of {overlap} frames does not fit the reference or the clip")
    target = torch.zeros(reference.shape[0], reference.shape[1], frames)
    target[..., :overlap] = reference[..., -overlap:]
    mask = torch.zeros(frames)
    mask[:overlap] = 1
    return target, mask


def loop_loss(x0: Tensor, overlap: int) -> Tensor:
    """MSE between the clip's last and first ``overlap`` frames. x0: [B, 1, F, N] -> [B]"""
    return ((x0[..., -overlap:] - x0[..., :overlap]) ** 2).mean((1, 2, 3))


def paste_sketch(reference: Tensor, mask: Tensor) -> SketchFn:
    """A painting's sketch: the model's own output with the reference in place on the enforced frames, so the
    start already holds what is kept (inpaint) or continued (outpaint, the chain between windows).
    reference: [1, F, N], mask: [N] -> (x0 [1, 1, F, N] -> [1, 1, F, N])"""
    def sketch(x0: Tensor) -> Tensor:
        return torch.where(mask.to(x0.device).bool(), reference.to(x0)[:, None], x0)

    return sketch


def masked_control(name: str, reference: Tensor, mask: Tensor, weight: float = 1.0,
                   sketch_share: float = 0.0) -> Control:
    """An inpaint / outpaint control from a (reference [1, F, N], mask [N]) pair; with ``sketch_share`` > 0,
    DITTO-2 starts that share of its variance from the output with the reference pasted in."""
    sketch = Sketch(paste_sketch(reference, mask), sketch_share) if sketch_share > 0 else None
    return Control(name, lambda x0: masked_mse(x0, reference, mask), weight, None, reference, sketch)


def seam_sketch(overlap: int) -> SketchFn:
    """A loop's sketch: the model's own output with its first ``overlap`` frames copied onto its last, so the
    start already runs its end into its beginning. x0 [1, 1, F, N] -> [1, 1, F, N]"""
    def sketch(x0: Tensor) -> Tensor:
        return torch.cat([x0[..., :-overlap], x0[..., :overlap]], -1)

    return sketch


def loop_control(overlap: int, weight: float = 1.0, sketch_share: float = 0.0) -> Control:
    """The loop control: the end continues into the start over ``overlap`` frames; with ``sketch_share`` > 0,
    DITTO-2 starts that share of its variance from the output with its start copied onto its end."""
    if overlap <= 0:
        raise ValueError("loop overlap must be at least one frame")
    sketch = Sketch(seam_sketch(overlap), sketch_share) if sketch_share > 0 else None
    return Control("loop", lambda x0: loop_loss(x0, overlap), weight, sketch=sketch)
