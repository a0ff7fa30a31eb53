"""Sound quality judged by a network trained on real music (issue 31, DESIGN §12).

Fréchet distance and KID between the embeddings of a set of clips and those of held-out real audio, in
the embedding of musicnn (Pons & Serra 2019: MagnaTagATune / Million Song Dataset taggers whose wheel
carries the checkpoints), not in the project's own text-audio model that the text control also uses. A
judge counts only if it passes its sanity ordering on references whose rank is known
(``sanity_ordering``): real < vocoded < frame-shuffled, and real < white and pink noise.

musicnn is TensorFlow 1-style graph code: it runs in its own interpreter (``scripts/setup_judges.sh``
makes ``~/.venvs/judges``; ``DITTO_LIVE_JUDGES_PYTHON`` names another), which
``ditto_live/judges/musicnn_worker.py`` drives through files, so the project's environment never imports
TensorFlow. Everything else here is numpy and is tested with a fake embedding.

Embeddings are per 3 s patch ([n clips, P patches, D]); the distances pool the patches of a set. The
intervals resample a set's clips by group (the corpus work a clip comes from, DESIGN §12: by work, not
by window) with the reference held fixed.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ditto_live.evaluation.scoring import KID_SCALE, kernel_distance

WORKER = Path(__file__).with_name("musicnn_worker.py")  # the script the judges' interpreter runs
PYTHON_ENV = "DITTO_LIVE_JUDGES_PYTHON"  # environment variable naming the judges' interpreter
DEFAULT_VENV = Path.home() / ".venvs" / "judges"  # where scripts/setup_judges.sh installs it
SANITY_ORDER = (("real", "vocoded"), ("vocoded", "shuffled"), ("real", "white_noise"), ("real", "pink_noise"))


class Embedding(Protocol):
    """Audio sets -> per-patch embeddings; one call for many sets (a model loads once)."""

    @property
    def name(self) -> str:
        """What the embedding is, for the results file (model and layer)."""
        ...

    def embed(self, sets: Mapping[str, np.ndarray], sample_rate: int) -> dict[str, np.ndarray]:
        """{set: [n, samples] float32} -> {set: [n, P, D] float32}"""
        ...


def judges_python() -> str:
    """The interpreter that has TensorFlow and musicnn: $DITTO_LIVE_JUDGES_PYTHON, else ~/.venvs/judges."""
    return os.environ.get(PYTHON_ENV) or str(DEFAULT_VENV / "bin" / "python")


def interpreter_missing(python: str, modules: Sequence[str]) -> str | None:
    """None when ``python`` can import every one of ``modules``, else why not, in one line that says how to
    make it (for a skip, an error or the evaluation's report)."""
    if not Path(python).is_file():
        return f"no judges interpreter at {python} (make it with scripts/setup_judges.sh, or set {PYTHON_ENV})"
    probe = subprocess.run([python, "-c", f"import {', '.join(modules)}"], capture_output=True, text=True)
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        return f"{python} cannot import {' and '.join(modules)} ({last}); rerun scripts/setup_judges.sh"
    return None


def musicnn_missing(python: str) -> str | None:
    """None when ``python`` can import musicnn and TensorFlow, else why not (for a skip or an error)."""
    return interpreter_missing(python, ("musicnn", "tensorflow"))


def judges_env(threads: int) -> dict[str, str]:
    """The workers' environment: TensorFlow on ``threads`` CPU threads, quiet, no GPU."""
    return {**os.environ, "TF_NUM_INTRAOP_THREADS": str(threads), "TF_NUM_INTEROP_THREADS": str(threads),
            "OMP_NUM_THREADS": str(threads), "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}


@dataclass(frozen=True)
class MusicnnEmbedding:
    """musicnn's activations, computed by ``musicnn_worker.py`` in the judges' interpreter."""

    python: str  # interpreter with TensorFlow and musicnn (judges_python())
    model: str = "MSD_musicnn"  # checkpoint in the wheel: MSD_musicnn (Million Song Dataset) or MTT_musicnn
    layer: str = "penultimate"  # activations used: penultimate (200-d), mean_pool / max_pool (753-d), taggram
    threads: int = 1  # TensorFlow intra- and inter-op threads

    @property
    def name(self) -> str:
        return f"musicnn {self.model} {self.layer}"

    def embed(self, sets: Mapping[str, np.ndarray], sample_rate: int) -> dict[str, np.ndarray]:
        env = judges_env(self.threads)
        with tempfile.TemporaryDirectory() as tmp:
            audio, out = Path(tmp) / "audio.npz", Path(tmp) / "embeddings.npz"
            arrays: dict[str, Any] = {k: np.asarray(v, dtype=np.float32) for k, v in sets.items()}
            np.savez(audio, sample_rate=np.array(sample_rate), **arrays)
            run = subprocess.run([self.python, str(WORKER), "--audio", str(audio), "--out", str(out),
                                  "--model", self.model, "--layer", self.layer],
                                 capture_output=True, text=True, env=env)
            if run.returncode != 0:
                raise RuntimeError(f"musicnn worker failed ({run.returncode}): {run.stderr[-2000:]}")
            with np.load(out) as data:
                return {k: data[k] for k in sets}


# ---------------------------------------------------------------------------------------------
# distances with intervals


@dataclass(frozen=True)
class Bootstrap:
    """How a set's interval is resampled."""

    resamples: int = 200  # resamples of the set's groups per interval
    level: float = 0.95  # coverage of the percentile interval
    seed: int = 0  # the resampling's seed (deterministic)


@dataclass(frozen=True)
class SetScore:
    """One set against the reference: the distances and their percentile-bootstrap intervals."""

    fd: float  # Fréchet distance of the set's patch embeddings to the reference's
    kid: float  # unbiased KID (cubic polynomial kernel) to the reference, x 1000
    fd_interval: tuple[float, float]  # interval of fd, resampling the set's groups
    kid_interval: tuple[float, float]  # interval of kid, the same resamples
    clips: int  # clips in the set
    groups: int  # distinct groups (works) the intervals resample

    def to_dict(self) -> dict[str, Any]:
        return {"fd": self.fd, "fd_interval": list(self.fd_interval), "kid_x1000": self.kid,
                "kid_interval": list(self.kid_interval), "clips": self.clips, "groups": self.groups}


def pooled(emb: np.ndarray) -> np.ndarray:
    """[n, P, D] -> [n * P, D] float64: every patch is one sample of the set."""
    return np.asarray(emb, dtype=np.float64).reshape(-1, emb.shape[-1])


@dataclass(frozen=True)
class Reference:
    """A reference set's statistics, computed once for the many distances a bootstrap takes to it."""

    samples: np.ndarray  # [m, D] its pooled patch embeddings
    mean: np.ndarray  # [D] their mean
    cov: np.ndarray  # [D, D] their covariance
    cov_sqrt: np.ndarray  # [D, D] the symmetric square root of cov

    @classmethod
    def of(cls, emb: np.ndarray) -> Reference:
        """From per-patch embeddings [m, P, D]."""
        samples = pooled(emb)
        cov = np.cov(samples, rowvar=False)
        w, v = np.linalg.eigh(cov)
        return cls(samples, samples.mean(axis=0), cov, (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T)


def frechet_to(samples: np.ndarray, ref: Reference) -> float:
    """Fréchet distance of samples [n, D] to the reference: the number ``scoring.fad`` gives (the test
    checks it), with tr((S_a S_b)^1/2) from the symmetric S_b^1/2 S_a S_b^1/2, which has the same
    eigenvalues, so a bootstrap pays one symmetric eigensolve per resample. nan with < 2 samples."""
    if len(samples) < 2 or len(ref.samples) < 2:
        return float("nan")
    cov = np.cov(samples, rowvar=False)
    eig = np.linalg.eigvalsh(ref.cov_sqrt @ cov @ ref.cov_sqrt)
    tr_sqrt = float(np.sum(np.sqrt(np.clip(eig, 0.0, None))))
    mean_term = float(np.sum((samples.mean(axis=0) - ref.mean) ** 2))
    return max(0.0, mean_term + float(np.trace(cov) + np.trace(ref.cov)) - 2 * tr_sqrt)


def distances(candidate: np.ndarray, ref: Reference) -> tuple[float, float]:
    """(Fréchet distance, KID x 1000) of a per-patch embedding set [n, P, D] to the reference."""
    a = pooled(candidate)
    return frechet_to(a, ref), KID_SCALE * kernel_distance(a, ref.samples)


def resampled_groups(groups: Sequence[str], boot: Bootstrap) -> list[np.ndarray]:
    """``boot.resamples`` draws of as many groups as there are, with replacement, each as the clip indices
    of the groups drawn; none with fewer than two groups (nothing to resample)."""
    names = sorted(set(groups))
    members = [np.flatnonzero(np.asarray(groups) == g) for g in names]
    rng = np.random.default_rng(boot.seed)
    return [np.concatenate([members[i] for i in rng.integers(0, len(names), len(names))])
            for _ in range(boot.resamples if len(names) > 1 else 0)]


def percentile_interval(values: Sequence[float], level: float) -> tuple[float, float]:
    """The central ``level`` percentile interval of bootstrap draws; (nan, nan) without any."""
    if not len(values):
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


def score_set(candidate: np.ndarray, groups: Sequence[str], reference: np.ndarray | Reference,
              boot: Bootstrap = Bootstrap()) -> SetScore:
    """Distances of ``candidate`` [n, P, D] (clip i from group ``groups[i]``) to ``reference`` ([m, P, D]
    or its statistics), with intervals from resampling whole groups of the candidate (the reference stays
    fixed)."""
    if len(groups) != len(candidate):
        raise ValueError(f"{len(groups)} groups for {len(candidate)} clips")
    ref = reference if isinstance(reference, Reference) else Reference.of(reference)
    fd, kid = distances(candidate, ref)
    draws = [distances(candidate[picked], ref) for picked in resampled_groups(groups, boot)]
    return SetScore(fd, kid, percentile_interval([d[0] for d in draws], boot.level),
                    percentile_interval([d[1] for d in draws], boot.level), len(candidate), len(set(groups)))


@dataclass(frozen=True)
class Difference:
    """FD(b) - FD(a) of two sets made from the same windows (clip i of each from one window), with an
    interval from resampling their groups jointly: paired, so the works' spread cancels."""

    fd: float  # FD(b) - FD(a)
    fd_interval: tuple[float, float]  # its percentile-bootstrap interval
    resolved: bool  # the interval lies wholly above 0: b is worse than a beyond the resampling's spread

    def to_dict(self) -> dict[str, Any]:
        return {"fd": self.fd, "fd_interval": list(self.fd_interval), "resolved": self.resolved}


def paired_difference(a: np.ndarray, b: np.ndarray, groups: Sequence[str], ref: Reference,
                      boot: Bootstrap = Bootstrap()) -> Difference:
    """FD(b) - FD(a) for two per-patch embedding sets [n, P, D] of the same windows, whose clip i comes from
    group ``groups[i]``; each resample draws groups once and scores both sets on them."""
    if not len(a) == len(b) == len(groups):
        raise ValueError(f"paired sets need one group per clip: {len(a)}, {len(b)}, {len(groups)}")
    draws = [frechet_to(pooled(b[picked]), ref) - frechet_to(pooled(a[picked]), ref)
             for picked in resampled_groups(groups, boot)]
    lo, hi = percentile_interval(draws, boot.level)
    return Difference(frechet_to(pooled(b), ref) - frechet_to(pooled(a), ref), (lo, hi), bool(lo > 0))


def judge_sets(emb: Embedding, sets: Mapping[str, np.ndarray], groups: Mapping[str, Sequence[str]],
               reference: np.ndarray, sample_rate: int, boot: Bootstrap = Bootstrap()) -> dict[str, SetScore]:
    """Every set [n, samples] (clip i from group ``groups[set][i]``) scored against ``reference``
    [m, samples], all embedded in one call. -> {set: SetScore}"""
    if "reference" in sets:
        raise ValueError("'reference' names the reference set; rename that set")
    vectors = emb.embed({**sets, "reference": reference}, sample_rate)
    ref = Reference.of(vectors.pop("reference"))
    return {k: score_set(v, groups[k], ref, boot) for k, v in vectors.items()}


def fit_length(audio: np.ndarray, samples: int) -> np.ndarray:
    """Crop or zero-pad clips to ``samples``. [n, s] -> [n, samples] float32"""
    out = np.zeros((len(audio), samples), dtype=np.float32)
    n = min(samples, audio.shape[1])
    out[:, :n] = audio[:, :n]
    return out


def sanity_ordering(scores: Mapping[str, SetScore]) -> dict[str, bool]:
    """The judge's sanity checks on the reference sets' FD (and the same on KID): ``"a < b"`` -> met.
    ``"passes"`` is the ordering the judge must meet to count (DESIGN §12)."""
    checks: dict[str, bool] = {}
    for metric in ("fd", "kid"):
        for low, high in SANITY_ORDER:
            if low in scores and high in scores:
                below = getattr(scores[low], metric) < getattr(scores[high], metric)
                checks[f"{metric}: {low} < {high}"] = below
    checks["passes"] = all(v for k, v in checks.items() if k.startswith("fd:")) and \
        all(f"fd: {low} < {high}" in checks for low, high in SANITY_ORDER)
    return checks


# ---------------------------------------------------------------------------------------------
# reference sets whose rank is known


def rms(audio: np.ndarray) -> np.ndarray:
    """Root-mean-square level per clip. [n, samples] -> [n]"""
    return np.sqrt(np.mean(np.square(audio, dtype=np.float64), axis=-1))


def white_noise(n: int, samples: int, level: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian white noise at RMS ``level``. -> [n, samples] float32"""
    return (rng.standard_normal((n, samples)) * level).astype(np.float32)


def pink_noise(n: int, samples: int, level: float, rng: np.random.Generator) -> np.ndarray:
    """Noise with power falling as 1/f (white noise's spectrum scaled by f^-1/2, DC removed), at RMS
    ``level``. -> [n, samples] float32"""
    spectrum = np.fft.rfft(rng.standard_normal((n, samples)), axis=-1)
    f = np.arange(spectrum.shape[-1], dtype=np.float64)
    spectrum *= np.where(f > 0, 1 / np.sqrt(np.maximum(f, 1)), 0.0)
    noise = np.fft.irfft(spectrum, n=samples, axis=-1)
    return (noise * (level / rms(noise)[:, None])).astype(np.float32)


def shuffle_frames(mels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each clip's frames (last axis) in a random order of its own: the right spectrum, no music.
    [n, ..., frames] -> same"""
    out = np.empty_like(mels)
    for i in range(len(mels)):
        out[i] = mels[i][..., rng.permutation(mels.shape[-1])]
    return out
