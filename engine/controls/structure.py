"""Musical structure control (paper §3.4, §4.1): MFCC self-similarity against a block matrix from a form.

MFCC = orthonormal DCT-II of the dB mel (floored ``top_db`` below the clip's peak, as librosa's
``power_to_db``) with c0 dropped, each coefficient normalised over time; the frames are average-pooled
to ``size`` (64 by default) before the cosine self-similarity, which keeps the cost at size^2 whatever
the clip length. This is the measure of ``ditto_live.judges.metrics.mfcc_self_similarity`` written in torch
on the model's mel. A form string such as "ABA" splits the clip into equal sections; the target is 1
where two frames share a letter and 0 elsewhere; the loss is the MSE.

Why the loss uses an *expected* self-similarity (``spread``): DITTO-2 optimises the one-step surrogate
x0 = G(x_T, T, 0), a smooth estimate, and then decodes with T steps, which add frame-to-frame detail
(on the default model every MFCC coefficient varies ~1.4x more over time in the decoded mel than in the
one-step mel). A plain cosine lets the optimiser build a structure from pooled frames of small norm
that this added detail then swamps: surrogate loss 0.16, decoded 0.34, librosa 0.38 (the unoptimised
output: 0.60). Scoring the surrogate by its expected cosine under frame-level variation of ``spread``
coefficient-stds asks for a structure that survives decoding (see docs/controls.md for the numbers).
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ditto_live.engine.audio import norm_to_db
from ditto_live.engine.controls.combine import Control

DECODE_SPREAD = 1.0  # frame-level variation the multi-step decoding adds, in units of each MFCC's std


@functools.lru_cache(maxsize=32)
def dct_matrix(n_in: int, n_out: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> Tensor:
    """Orthonormal DCT-II basis (scipy's ``norm="ortho"``, as librosa's MFCC), rows are coefficients.

    Cached per (n_in, n_out, device, dtype): an ITO step reuses one device tensor, so no step builds
    it or copies it from the host (which a CUDA-graph capture cannot contain). Built outside inference
    mode, so a first call under ``torch.inference_mode`` cannot poison later autograd use. Do not
    modify it. -> [n_out, n_in]
    """
    with torch.inference_mode(False):
        n = torch.arange(n_in, dtype=torch.float64)
        k = torch.arange(n_out, dtype=torch.float64)[:, None]
        basis = torch.cos(math.pi / n_in * (n + 0.5) * k) * math.sqrt(2.0 / n_in)
        basis[0] /= math.sqrt(2.0)
        return basis.to(device=torch.device(device), dtype=dtype)


def mfcc(x0: Tensor, min_db: float, max_db: float, n_mfcc: int = 20, top_db: float = 80.0) -> Tensor:
    """MFCC c1..c{n_mfcc-1}, each normalised over time. x0: [B, 1, F, N] -> [B, n_mfcc - 1, N]

    As in librosa's power_to_db, levels more than ``top_db`` below the clip's peak are floored, so
    inaudible detail near the mel's floor cannot carry the structure.
    """
    db = norm_to_db(x0.float(), min_db, max_db)[:, 0]  # [B, F, N]
    floor = db.detach().amax((1, 2), keepdim=True) - top_db
    db = torch.maximum(db, floor)
    c = torch.einsum("kf,bfn->bkn", dct_matrix(db.shape[1], n_mfcc, db.device, db.dtype), db)[:, 1:]
    return (c - c.mean(-1, keepdim=True)) / (c.std(-1, keepdim=True) + 1e-5)


def spread_norm(n_coef: int, frames: int, size: int, spread: float) -> float:
    """Expected squared norm that independent frame-level variation of std ``spread`` (per normalised
    coefficient) adds to a frame pooled from frames / size frames: n_coef * spread^2 * size / frames."""
    return n_coef * spread ** 2 * size / max(frames, size)


def self_similarity(features: Tensor, size: int = 64, eps: float = 0.0) -> Tensor:
    """Cosine self-similarity of frames pooled to ``size``. features: [B, D, N] -> [B, size, size]

    ``eps`` > 0: the expected cosine when independent variation of squared norm ``eps`` is added to each
    pooled frame, <u_i, u_j> / sqrt((|u_i|^2 + eps)(|u_j|^2 + eps)) off the diagonal, 1 on it (a frame
    is always itself); eps = 0 is the plain cosine.
    """
    pooled = F.adaptive_avg_pool1d(features, size) if features.shape[-1] != size else features  # [B, D, S]
    if eps <= 0:
        unit = F.normalize(pooled, dim=1)
        return unit.transpose(1, 2) @ unit
    gram = pooled.transpose(1, 2) @ pooled  # [B, S, S]
    norm = torch.sqrt(gram.diagonal(dim1=-2, dim2=-1) + eps)  # [B, S]
    eye = torch.eye(size, dtype=torch.bool, device=features.device)
    return torch.where(eye, torch.ones_like(gram), gram / (norm[:, :, None] * norm[:, None, :]))


def form_labels(form: str, frames: int) -> Tensor:
    """Section letter index per frame for equal sections of ``form`` ("ABA" -> 0,0,1,1,0,0...). [N]"""
    if not form or not form.isalpha():
        raise ValueError(f"form: expected letters such as 'ABA', got {form!r}")
    letters = {ch: i for i, ch in enumerate(dict.fromkeys(form.upper()))}
    section = (torch.arange(frames) * len(form)) // frames
    return torch.tensor([letters[form.upper()[int(s)]] for s in section], dtype=torch.long)


def labels_to_target(labels: Tensor, size: int = 64) -> Tensor:
    """Block matrix at the pooled resolution: 1 where pooled frames share a label. labels: [N] -> [size, size]"""
    n = labels.shape[0]
    centres = ((torch.arange(size) + 0.5) * n / size).long().clamp(max=n - 1)
    lab = labels[centres]
    return (lab[:, None] == lab[None, :]).float()


def form_target(form: str, frames: int, size: int = 64) -> Tensor:
    """Target self-similarity for a form string over ``frames`` frames. [size, size]"""
    return labels_to_target(form_labels(form, frames), size)


def structure_loss(ssm: Tensor, target: Tensor) -> Tensor:
    """MSE per batch row. ssm: [B, S, S]; target: [S, S] -> [B]"""
    return ((ssm - target.to(ssm.device)) ** 2).mean((-1, -2))


def structure_control(target: Tensor, min_db: float, max_db: float, weight: float = 1.0,
                      prefix: Tensor | None = None, spread: float = DECODE_SPREAD) -> Control:
    """The structure control for a target matrix [S, S].

    ``prefix`` [1, F, P]: mel frames already generated before x0 (a long clip made window by window);
    the matrix then covers prefix + x0, so a section that returns is pulled towards its first
    occurrence. The prefix is constant: only x0 moves.
    ``spread``: the loss scores the expected self-similarity under this much frame-level variation
    (module docstring); 0 optimises the plain cosine. The control's feature (plots, sidecars) is always
    the plain cosine matrix, the measure itself.
    """
    size = target.shape[-1]

    def with_prefix(x0: Tensor) -> Tensor:  # [B, 1, F, N] -> [B, 1, F, P + N]
        if prefix is None:
            return x0
        return torch.cat([prefix.to(x0)[None].expand(x0.shape[0], -1, -1, -1), x0], -1)

    def feature(x0: Tensor) -> Tensor:
        return self_similarity(mfcc(with_prefix(x0), min_db, max_db), size)

    def loss(x0: Tensor) -> Tensor:
        c = mfcc(with_prefix(x0), min_db, max_db)  # [B, D, N]
        eps = spread_norm(c.shape[1], c.shape[-1], size, spread)
        return structure_loss(self_similarity(c, size, eps), target)

    return Control("structure", loss, weight, feature, target)
