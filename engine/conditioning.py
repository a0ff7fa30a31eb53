"""What a model is conditioned on, and the one denoiser call every sampler and loss uses."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ditto_live.engine.schedule import cfg_combine

TAG_FIELDS = ("genre", "mood", "tempo", "instrument")  # order of the columns of a tag tensor
NULL_TAG = 0  # index 0 of every tag vocabulary is the null tag (dropped / unconditional)


@dataclass(frozen=True)
class Cond:
    """Conditioning of a batch.

    tags: [B, len(TAG_FIELDS)] long, NULL_TAG where a field is unknown or dropped.
    w: classifier-free guidance weight; a float or [B]. For a teacher it selects CFG (two calls);
       for a distilled student (``model.takes_w``) it is fed to the network (one call).
    """

    tags: Tensor
    w: float | Tensor = 1.0

    @staticmethod
    def null(batch: int, device: torch.device | str = "cpu", w: float = 1.0) -> Cond:
        return Cond(torch.full((batch, len(TAG_FIELDS)), NULL_TAG, dtype=torch.long, device=device), w)


def predict_v(model: nn.Module, x_t: Tensor, t: Tensor, cond: Cond) -> Tensor:
    """v-prediction at (x_t, t) with guidance applied the way this model needs.

    Students that take w (``model.takes_w``) get w as an input; a teacher runs CFG with two calls
    (batched into one forward). w == 1 skips the unconditional call.
    x_t: [B, 1, F, N]; t: [B] -> [B, 1, F, N]
    """
    b = x_t.shape[0]
    w = cond.w
    if getattr(model, "takes_w", False):
        w_t = w if isinstance(w, Tensor) else torch.full((b,), float(w), device=x_t.device)
        return model(x_t, t, cond.tags, w_t)
    if not isinstance(w, Tensor) and w == 1.0:
        return model(x_t, t, cond.tags, None)
    null = torch.full_like(cond.tags, NULL_TAG)
    v = model(torch.cat([x_t, x_t]), torch.cat([t, t]), torch.cat([cond.tags, null]), None)
    v_c, v_u = v.chunk(2)
    return cfg_combine(v_c, v_u, w)
