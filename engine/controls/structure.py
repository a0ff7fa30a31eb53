"""Musical structure control (paper §4.1): MFCC self-similarity against a block matrix from a form.

MFCC = orthonormal DCT-II of the dB mel with c0 dropped, each coefficient normalised over time; the
frames are average-pooled to ``size`` (64 by default) before the cosine self-similarity, which keeps
the cost at size^2 whatever the clip length. A form string such as "ABA" splits the clip into equal
sections; the target is 1 where two frames share a letter and 0 elsewhere.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ditto_live.engine.audio import norm_to_db
from ditto_live.engine.controls.combine import Control


def dct_matrix(n_in: int, n_out: int) -> Tensor:
    """Orthonormal DCT-II basis, rows are coefficients. [n_out, n_in]"""
    n = torch.arange(n_in, dtype=torch.float64)
    k = torch.arange(n_out, dtype=torch.float64)[:, None]
    basis = torch.cos(math.pi / n_in * (n + 0.5) * k) * math.sqrt(2.0 / n_in)
    basis[0] /= math.sqrt(2.0)
    return basis.float()


def mfcc(x0: Tensor, min_db: float, max_db: float, n_mfcc: int = 20, top_db: float = 80.0) -> Tensor:
    """MFCC c1..c{n_mfcc-1}, each normalised over time. x0: [B, 1, F, N] -> [B, n_mfcc - 1, N]

    As in librosa's power_to_db, levels more than ``top_db`` below the clip's peak are floored, so
    inaudible detail near the mel's floor cannot carry the structure.
    """
    db = norm_to_db(x0.float(), min_db, max_db)[:, 0]  # [B, F, N]
    floor = db.detach().amax((1, 2), keepdim=True) - top_db
    db = torch.maximum(db, floor)
    c = torch.einsum("kf,bfn->bkn", dct_matrix(db.shape[1], n_mfcc).to(x0.device), db)[:, 1:]
    return (c - c.mean(-1, keepdim=True)) / (c.std(-1, keepdim=True) + 1e-5)


def self_similarity(features: Tensor, size: int = 64) -> Tensor:
    """Cosine self-similarity of frames pooled to ``size``. features: [B, D, N] -> [B, size, size]"""
    pooled = F.adaptive_avg_pool1d(features, size) if features.shape[-1] != size else features
    unit = F.normalize(pooled, dim=1)
    return unit.transpose(1, 2) @ unit


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
                      prefix: Tensor | None = None) -> Control:
    """The structure control for a target matrix [S, S].

    ``prefix`` [1, F, P]: mel frames already generated before x0 (a long clip made window by window);
    the matrix then covers prefix + x0, so a section that returns is pulled towards its first
    occurrence. The prefix is constant: only x0 moves.
    """
    size = target.shape[-1]

    def feature(x0: Tensor) -> Tensor:
        if prefix is not None:
            x0 = torch.cat([prefix.to(x0)[None].expand(x0.shape[0], -1, -1, -1), x0], -1)
        return self_similarity(mfcc(x0, min_db, max_db), size)

    return Control("structure", lambda x0: structure_loss(feature(x0), target), weight, feature, target)
