"""From generations to table rows: FAD against the test split, CLAP score, control metrics, time.

Every per-clip figure of a row (control metrics, the judges' figures, CLAP, time) comes with a 95 %
percentile-bootstrap interval of its mean. The control metrics resample the works the cases come from,
each with all its clips (``work_interval``, a cluster bootstrap), when the cases carry work ids: clips of one
work are not independent, and resampling them as if they were gives intervals too narrow. CLAP and time,
and metrics without work ids, resample the clips (``mean_interval``). FAD and KID are set-level distances
and carry none.

FAD from a few dozen clips in a 128-d embedding is dominated by its small-sample bias, so every table
also carries reference rows scored with the same number of clips: real held-out test windows (the
floor), the same windows vocoded (what the vocoder alone costs), the same windows with their mel
frames shuffled in time (right spectrum, no music), and white noise (the ceiling).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ditto_live.evaluation.cases import TestSplit
from ditto_live.evaluation.runner import Embedder, Generation
from ditto_live.generation.models import Bundle
from ditto_live.judges.independent import JUDGE_KEYS

log = logging.getLogger(__name__)

NOISE_RMS_DB = -20.0  # loudness of the white-noise reference clips
KID_SCALE = 1000.0  # KID is reported x 1000
LOSS_METRIC_KEYS = ("intensity_mse_db2", "melody_accuracy", "structure_mse", "inpaint_mse_db2", "outpaint_mse_db2")
JUDGE_METRIC_KEYS = tuple(k for keys in JUDGE_KEYS.values() for k in keys)  # ditto_live.judges.independent' figures
METRIC_KEYS = LOSS_METRIC_KEYS + JUDGE_METRIC_KEYS
CI_LEVEL = 0.95  # coverage of the intervals
BOOTSTRAP_RESAMPLES = 2000  # resamples of a row's clips (or works) per interval
BY_WORKS, BY_CLIPS = "works", "clips"  # what a row's metric intervals resampled


@dataclass
class Row:
    """One line of a results table."""

    task: str  # task (or "reference")
    label: str  # method / reference name
    M: str  # optimisation steps of the surrogate ("-" for references)
    T: int  # decoding steps (0 for references)
    n: int  # clips scored
    seconds: float  # mean time per clip (optimisation + decoding); nan for references
    fad: float  # Fréchet distance to the test split's reference half in the text-audio embedding
    kid: float  # unbiased kernel distance (KID) to the same reference, x 1000
    clap: float  # mean cosine between each clip and its caption
    metrics: dict[str, float] = field(default_factory=dict)  # mean control metric(s) and judges' figures
    extra: dict[str, float] = field(default_factory=dict)  # optimise / decode split, surrogate losses
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)  # 95 % CI of a mean: metric keys,
    # "seconds" and "clap"
    works: int = 0  # distinct works the row's cases come from (0: not known)
    resampled: str = BY_CLIPS  # what the metric intervals resample: BY_WORKS (cluster bootstrap) or BY_CLIPS

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "label": self.label, "M": self.M, "T": self.T, "n": self.n,
                "seconds": _num(self.seconds), "fad": _num(self.fad), "kid": _num(self.kid), "clap": _num(self.clap),
                "metrics": {k: _num(v) for k, v in self.metrics.items()},
                "intervals": {k: [_num(lo), _num(hi)] for k, (lo, hi) in self.intervals.items()},
                "works": self.works, "metric_intervals_resample": self.resampled,
                **{k: _num(v) for k, v in self.extra.items()}}


def _num(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 6)


def mean_interval(values: list[float] | np.ndarray, level: float = CI_LEVEL, resamples: int = BOOTSTRAP_RESAMPLES,
                  seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean of per-clip values (non-finite ones dropped); (nan, nan)
    with fewer than two clips. Deterministic in ``seed``. values: [n] -> (low, high)"""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return float("nan"), float("nan")
    means = v[np.random.default_rng(seed).integers(0, len(v), (resamples, len(v)))].mean(axis=1)
    return _percentiles(means, level)


def work_interval(values: Sequence[float] | np.ndarray, works: Sequence[str], level: float = CI_LEVEL,
                  resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """Cluster-bootstrap interval of the mean of per-clip values: each resample draws as many works as
    there are, with replacement, and pools all the clips of the drawn works (mean = sum over drawn works of
    their clips' sum / their clip count). Non-finite values are dropped; (nan, nan) with fewer than two
    works. Deterministic in ``seed``. values: [n], works: [n] work id per clip -> (low, high)"""
    v = np.asarray(values, dtype=np.float64)
    if len(v) != len(works):
        raise ValueError(f"{len(v)} values but {len(works)} work ids")
    finite = np.isfinite(v)
    ids, member = np.unique(np.asarray(works, dtype=str)[finite], return_inverse=True)
    if len(ids) < 2:
        return float("nan"), float("nan")
    sums = np.bincount(member, weights=v[finite], minlength=len(ids))  # [W]
    counts = np.bincount(member, minlength=len(ids)).astype(np.float64)  # [W]
    drawn = np.random.default_rng(seed).integers(0, len(ids), (resamples, len(ids)))  # [R, W] work indices
    return _percentiles(sums[drawn].sum(axis=1) / counts[drawn].sum(axis=1), level)


def _percentiles(means: np.ndarray, level: float) -> tuple[float, float]:
    """The central ``level`` percentile interval of bootstrap means [R]."""
    tail = 100 * (1 - level) / 2
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def fad(generated: np.ndarray, reference: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two embedding sets [N, D], [M, D]; nan with < 2 clips.

    ||mu_a - mu_b||^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^1/2), where tr((S_a S_b)^1/2) is the sum of the
    square roots of the eigenvalues of S_a S_b (real and >= 0: they are those of S_a^1/2 S_b S_a^1/2). The
    same number as the textbook formula with scipy's matrix square root (the test's reference), without
    that square root, which is slow and unstable for the singular covariances of a few clips.
    """
    if len(generated) < 2 or len(reference) < 2:
        return float("nan")
    mu_a, mu_b = generated.mean(axis=0), reference.mean(axis=0)
    cov_a, cov_b = np.cov(generated, rowvar=False), np.cov(reference, rowvar=False)
    eig = np.linalg.eigvals(cov_a @ cov_b)
    tr_sqrt = float(np.sum(np.sqrt(np.clip(eig.real, 0.0, None))))
    return max(0.0, float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * tr_sqrt))


def kernel_distance(generated: np.ndarray, reference: np.ndarray) -> float:
    """Unbiased squared MMD with the cubic polynomial kernel k(x, y) = (x.y / D + 1)^3 (KID, Bińkowski
    et al. 2018) between embedding sets [N, D], [M, D]; nan with fewer than two clips.

    Unlike FAD, its expectation does not depend on N: a row of a few clips is not penalised for being
    diverse, so it ranks rows of 2-8 clips that FAD cannot. ~0 for two samples of one distribution.
    """
    if len(generated) < 2 or len(reference) < 2:
        return float("nan")
    d = generated.shape[1]
    k_aa = (generated @ generated.T / d + 1) ** 3
    k_bb = (reference @ reference.T / d + 1) ** 3
    k_ab = (generated @ reference.T / d + 1) ** 3
    n, m = len(generated), len(reference)
    within_a = (k_aa.sum() - np.trace(k_aa)) / (n * (n - 1))
    within_b = (k_bb.sum() - np.trace(k_bb)) / (m * (m - 1))
    return float(within_a + within_b - 2 * k_ab.mean())


def aggregate(gens: list[Generation], reference: np.ndarray, m_of: dict[str, str],
              works: Mapping[tuple[str, int], str] | None = None) -> list[Row]:
    """One row per (task, setting, T), in first-seen order. ``works``: (task, case) -> the case's work id;
    given for every clip of a row, its metric intervals resample works (``work_interval``)."""
    groups: dict[tuple[str, str, int], list[Generation]] = defaultdict(list)
    for g in gens:
        groups[(g.task, g.setting, g.T)].append(g)
    rows = []
    for (task, label, T), gs in groups.items():
        keys = sorted({k for g in gs for k in g.metrics})
        per_clip = {k: [g.metrics[k] for g in gs if k in g.metrics] for k in keys}
        work_of = [works.get((g.task, g.case), "") for g in gs] if works is not None else []
        by_works = bool(work_of) and all(work_of)
        means = {k: _finite_mean(per_clip[k]) for k in keys}
        if by_works:
            intervals = {k: work_interval(per_clip[k], [w for g, w in zip(gs, work_of) if k in g.metrics])
                         for k in keys}
        else:
            intervals = {k: mean_interval(per_clip[k]) for k in keys}
        intervals |= {"seconds": mean_interval([g.seconds for g in gs]), "clap": mean_interval([g.clap for g in gs])}
        extra = {"optimise_s": float(np.mean([g.optimise_s for g in gs])),
                 "decode_s": float(np.mean([g.decode_s for g in gs])),
                 "vocode_s": float(np.mean([g.vocode_s for g in gs])),
                 "steps": float(max(g.steps for g in gs)), "lr": float(max(g.lr for g in gs))}  # K and lr it ran at
        for name in {k for g in gs for k in g.loss_after}:
            extra[f"loss_{name}_before"] = float(np.mean([g.loss_before.get(name, np.nan) for g in gs]))
            extra[f"loss_{name}_after"] = float(np.mean([g.loss_after.get(name, np.nan) for g in gs]))
        emb = np.stack([g.embedding for g in gs])
        rows.append(Row(task, label, m_of.get(label, "?"), T, len(gs), float(np.mean([g.seconds for g in gs])),
                        fad(emb, reference), KID_SCALE * kernel_distance(emb, reference),
                        float(np.mean([g.clap for g in gs])), means, extra, intervals,
                        len(set(work_of)) if by_works else 0, BY_WORKS if by_works else BY_CLIPS))
    return rows


def _finite_mean(values: list[float]) -> float:
    """Mean of the finite values (a judge returns nan where its figure is undefined, e.g. the correlation
    with a flat curve); nan when none is."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if len(v) else float("nan")


def reference_embeddings(split: TestSplit, embedder: Embedder) -> np.ndarray:
    """The FAD reference set: the reference half of the test split (its audio, else its stored mels)."""
    rows = split.reference_rows
    if split.audio is not None:
        return embedder.audio(split.audio[rows])
    return embedder.mels(split.mels[rows])


def reference_rows(split: TestSplit, embedder: Embedder, bundle: Bundle, reference: np.ndarray, n: int,
                   seed: int = 0) -> list[Row]:
    """Real, vocoded, frame-shuffled and noise clips (``n`` each, from the case half) scored like generations."""
    rng = np.random.default_rng([seed, 99])
    pool = split.case_rows
    rows = [pool[i] for i in rng.permutation(len(pool))[:n]]
    captions = [split.meta[r].get("caption", "") for r in rows]
    text = embedder.text(captions)
    mels = split.mels[rows]  # [n, 1, F, N]
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        vocoded = bundle.mel_to_wav(mels.to(embedder.device)).cpu()
        perm = torch.randperm(mels.shape[-1], generator=gen)
        shuffled = bundle.mel_to_wav(mels[..., perm].to(embedder.device)).cpu()
    samples = vocoded.shape[-1]
    noise = torch.randn(len(rows), samples, generator=gen) * 10 ** (NOISE_RMS_DB / 20)
    sets = {}
    if split.audio is not None:
        sets["real test audio (held out)"] = split.audio[rows]
    sets.update({"real test audio, vocoded": vocoded, "real, mel frames shuffled": shuffled,
                 f"white noise ({NOISE_RMS_DB:.0f} dB RMS)": noise})
    out = []
    for label, wav in sets.items():
        emb = embedder.audio(wav)
        out.append(Row("reference", label, "-", 0, len(rows), float("nan"), fad(emb, reference),
                       KID_SCALE * kernel_distance(emb, reference), float(np.mean(np.sum(emb * text, axis=1)))))
    return out
