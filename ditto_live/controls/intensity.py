"""The intensity control: a loudness curve over the clip (a named shape or breakpoints), followed through the
loudness of the audio the bundle's vocoder renders (with a Griffin-Lim bundle, the mel's frame energy); judged by
ITU-R BS.1770 momentary loudness and by librosa RMS."""

from __future__ import annotations

import argparse
import functools
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ditto_live.controls.base import (
    CliFlags,
    CliHelpers,
    ClipTarget,
    EvalTask,
    EvalWindow,
    Kind,
    Measuring,
    TargetContext,
    WindowSlice,
    check,
    repeat_start,
    unit_of,
)
from ditto_live.generation.spec import INTENSITY_DB, INTENSITY_SHAPES, ControlSpec, Range

if TYPE_CHECKING:  # the engine and torch load when a target is built, not on import (controls/base.py)
    import numpy as np
    from matplotlib.axes import Axes
    from torch import Tensor

    from ditto_live.engine.controls import Control
    from ditto_live.engine.controls.intensity import AudibleLoudness



@dataclass(frozen=True)
class Objective:
    """How the intensity loss reads the clip (chosen on the val split, docs/controls.md)."""

    mel_weight: float  # weight of the mel term (frame energy of the mel, 1 s average vs the curve)
    audible_weight: float  # weight of the audible term (BS.1770 loudness of the vocoder's audio), 0: off
    block_s: float  # seconds of the audible term's power average (the momentary meter's block is 0.4 s)
    straight_through: bool = False  # the audible term's gradient through the mel's power, not the vocoder
    k_weighted: bool = True  # the audible term reads BS.1770 loudness (LU), else RMS dB of the rendered audio
    sketch_share: float = 0.0  # DITTO-2 starts this share of its variance from the output gained to the curve
    # (0: from plain noise; issue 27)


OBJECTIVE = Objective(mel_weight=0.0, audible_weight=1.0, block_s=0.4, straight_through=True, sketch_share=0.7)

# The evaluation's curves (name, class, breakpoints in seconds over a 5.94 s window, or a named shape): ramps and
# swells as the paper's protocol, and steps as producers draw them (a staircase, a drop, a build cut off, a gap)
EVAL_CURVES: tuple[tuple[str, str, Any], ...] = (
    ("crescendo", "ramp", "crescendo"),
    ("steps", "step", "steps"),
    ("swell", "swell", "swell"),
    ("drop", "step", [[0, -14], [2.96, -14], [2.98, -32]]),
    ("decrescendo", "ramp", "decrescendo"),
    ("build", "step", [[0, -32], [3.96, -14], [3.98, -32]]),
    ("dip", "swell", "dip"),
    ("gap", "step", [[0, -14], [2.0, -14], [2.02, -32], [3.96, -32], [3.98, -14]]),
)
EVAL_SHAPES = ("crescendo", "decrescendo", "swell", "steps")  # the curves before issue 33 (the published
# judge_controls experiment, scripts/experiments/, reproduces its figures with them)
CEILING_SIGNAL_DB = -20.0  # white noise whose level the ceiling's test signal modulates (any level: offset-free)


@dataclass(frozen=True)
class IntensityTarget:
    """The intensity control's target: a loudness curve over the clip."""

    curve: Tensor  # [L] RMS dB per frame
    seam = 0  # generates nothing past the clip's end

    def wrapped(self, seam: int) -> IntensityTarget:
        return IntensityTarget(repeat_start(self.curve, seam))


def _check_db(value: Any, where: str) -> None:
    check(INTENSITY_DB.contains(value), f"{where}: {INTENSITY_DB.describe('dB')}")


def validate(params: dict[str, Any], key: str) -> None:
    check("shape" in params or "points" in params, f"{key}: intensity needs shape or points")
    if "shape" in params:
        check(params["shape"] in INTENSITY_SHAPES,
              f"{key}.shape: {params['shape']!r} is not one of {', '.join(INTENSITY_SHAPES)}")
    for name in ("low_db", "high_db"):
        if name in params:
            _check_db(params[name], f"{key}.{name}")
    if "points" in params:
        points = params["points"]
        check(isinstance(points, list) and len(points) > 0, f"{key}.points: expected a non-empty list")
        for j, pt in enumerate(points):
            check(isinstance(pt, list) and len(pt) == 2 and Range(0, 1e4).contains(pt[0]),
                  f"{key}.points[{j}]: expected [time >= 0, dB]")
            _check_db(pt[1], f"{key}.points[{j}]")


def target(c: ControlSpec, key: str, ctx: TargetContext) -> ClipTarget[IntensityTarget]:
    from ditto_live.engine.controls.intensity import (
        DEFAULT_HIGH_DB,
        DEFAULT_LOW_DB,
        intensity_from_points,
        intensity_shape,
    )

    p = c.params
    if "points" in p:
        curve = intensity_from_points(p["points"], unit_of(c, "beats", key), ctx.spec.bpm, ctx.frames,
                                      ctx.mel.frame_rate)
    else:
        low, high = float(p.get("low_db", DEFAULT_LOW_DB)), float(p.get("high_db", DEFAULT_HIGH_DB))
        curve = intensity_shape(p["shape"], ctx.frames, low, high)
    info = {k: v for k, v in p.items() if k != "points"} | {"points": p.get("points")}
    return ClipTarget(c.type, c.weight, IntensityTarget(curve), info, c.params)


@lru_cache(maxsize=8)
def _weights(n_mels: int, fmin: float, fmax: float, device: str) -> Tensor:
    from ditto_live.engine.controls.intensity import band_weights

    return band_weights(n_mels, fmin, fmax).to(device)


@lru_cache(maxsize=8)
def _loudness_weights(n_fft: int, sample_rate: int, k_weighted: bool, device: str) -> Tensor:
    from ditto_live.engine.controls.intensity import spectrum_loudness_weights

    return spectrum_loudness_weights(n_fft, sample_rate, k_weighted).to(device)


def _audible(vocoder: Any, w: WindowSlice, objective: Objective) -> AudibleLoudness | None:
    """The audible term's inputs for a neural vocoder (one with ``log_power``); None for Griffin-Lim or off."""
    from ditto_live.engine.controls.intensity import AudibleLoudness, mel_power

    if vocoder is None or not hasattr(vocoder, "log_power") or not objective.audible_weight:
        return None
    n_fft = vocoder.cfg.n_fft
    block = max(1, round(objective.block_s * w.mel.frame_rate))
    proxy = None
    if objective.straight_through:
        bw = _weights(w.mel.n_mels, w.mel.fmin, w.mel.fmax, w.device)
        proxy = functools.partial(mel_power, min_db=w.mel.min_db, max_db=w.mel.max_db, weights=bw)
    weights = _loudness_weights(n_fft, w.mel.sample_rate, objective.k_weighted, w.device)
    return AudibleLoudness(vocoder, weights, n_fft,
                           w.mel.hop_length, block, proxy)


def window(t: ClipTarget[IntensityTarget], w: WindowSlice) -> Control:
    from ditto_live.engine.controls.intensity import intensity_control

    bw = _weights(w.mel.n_mels, w.mel.fmin, w.mel.fmax, w.device)
    audible = _audible(w.vocoder, w, OBJECTIVE)
    return intensity_control(t.payload.curve[w.start:w.stop].to(w.device), w.mel.min_db, w.mel.max_db, bw,
                             weight=t.weight, audible=audible, mel_weight=OBJECTIVE.mel_weight,
                             audible_weight=OBJECTIVE.audible_weight, sketch_share=OBJECTIVE.sketch_share)


def measure(t: ClipTarget[IntensityTarget], m: Measuring) -> dict[str, float]:
    from ditto_live.judges import independent as judges
    from ditto_live.judges import metrics

    curve = t.payload.curve.numpy()
    return {"intensity_mse_db2": metrics.intensity_mse(m.audio, m.sample_rate, curve),
            **judges.judge_intensity(m.audio, m.sample_rate, curve)}


def plot(ax: Axes, t: ClipTarget[IntensityTarget], m: Measuring) -> bool:
    import numpy as np

    from ditto_live.judges import metrics

    fr = m.mel.frame_rate
    achieved = metrics.rms_db_curve(m.audio, m.sample_rate)
    ax.plot(np.arange(len(t.payload.curve)) / fr, t.payload.curve.numpy(), label="target", lw=2)
    ax.plot(np.arange(len(achieved)) / fr, achieved, label="achieved (librosa RMS)", alpha=0.8)
    ax.set(ylabel="dB")
    return True


def example(seconds: float, reference: str) -> dict[str, Any]:
    return {"type": "intensity", "shape": "crescendo"}


def judge_ceiling(curve: np.ndarray, sample_rate: int, hop: int, seed: int) -> dict[str, float]:
    """The judge's ceiling for a curve: BS.1770 scores of stationary white noise whose level follows the curve
    exactly (the meter's 400 ms block softens any step, so even this does not reach r = 1). curve: [N] dB"""
    import numpy as np

    from ditto_live.judges import independent as judges

    samples = len(curve) * hop
    level = np.interp(np.arange(samples) / hop, np.arange(len(curve)), curve) - CEILING_SIGNAL_DB  # [samples] dB
    noise = np.random.default_rng(seed).standard_normal(samples) * 10.0 ** (CEILING_SIGNAL_DB / 20.0)
    scores = judges.judge_intensity(noise * 10.0 ** (level / 20.0), sample_rate, curve, hop)
    return {"ceiling_" + k.removeprefix("intensity_loudness_"): v for k, v in scores.items()}


def eval_case(w: EvalWindow) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The evaluation's curves in turn, each with the judge's ceiling for it."""
    from ditto_live.engine.controls.intensity import intensity_from_points, intensity_shape

    name, group, curve = EVAL_CURVES[w.index % len(EVAL_CURVES)]
    frames = int(round(w.window_s * w.frame_rate))
    if isinstance(curve, str):
        control, db = {"type": "intensity", "shape": curve}, intensity_shape(curve, frames)
    else:
        control = {"type": "intensity", "points": curve, "unit": "seconds"}
        db = intensity_from_points(curve, "seconds", 120.0, frames, w.frame_rate)
    hop = int(round(w.sample_rate / w.frame_rate))
    return [control], {"shape": name, "class": group, **judge_ceiling(db.numpy(), w.sample_rate, hop, w.index)}


EVALUATION = EvalTask(
    "Intensity", eval_case, metric=("intensity_mse_db2", "MSE (dB²)", 1.0),
    judges=(("intensity_loudness_mae_db", "BS.1770 MAE (dB)", 1.0), ("intensity_loudness_corr", "BS.1770 r", 1.0)))


def from_flags(args: argparse.Namespace, cli: CliHelpers) -> list[dict[str, Any]]:
    if not (args.intensity or args.intensity_points):
        return []
    ctl: dict[str, Any] = {"type": "intensity"}
    if args.intensity_points:
        ctl.update(points=cli.json(args.intensity_points, "--intensity-points"), unit=args.unit)
    else:
        ctl["shape"] = args.intensity
    ctl.update({k: v for k, v in (("low_db", args.low_db), ("high_db", args.high_db)) if v is not None})
    return [ctl]


CLI = CliFlags((
    ("--intensity", dict(choices=INTENSITY_SHAPES, help="named intensity curve")),
    ("--intensity-points", dict(metavar="JSON", help='breakpoints "[[time, dB], ...]" in --unit')),
    ("--low-db", dict(type=float, help="quiet end of a named intensity shape (RMS dB)")),
    ("--high-db", dict(type=float, help="loud end of a named intensity shape (RMS dB)")),
), from_flags)

KIND = Kind("intensity", validate, target, window, measure,
            "a loudness curve: shape (crescendo, decrescendo, swell, dip, steps, flat) or points [[time, dB], ...]",
            plot=plot, example=example, cli=CLI, steps=20, lr=1e-2, decode_steps=1, evaluation=EVALUATION,
            keys=("shape", "low_db", "high_db", "points"))
