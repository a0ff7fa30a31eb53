"""The one generation pipeline under every front end (DESIGN.md §7).

    plan = plan_job(spec, bundle, device, allowed_roots, front)    # targets on the clip grid, windows, K
    gen = generate(plan, engine)                                    # per window: x_T -> optimise -> decode
    audio = vocode(plan.bundle, gen.mel)                            # -> waveform [samples]

``generate`` reads top to bottom: for each model window ``optimise_window`` cuts the clip's targets into the
engine's controls (a window after the first also opens with the previous window's last frames, chained in
memory), draws x_T and the student's sampling-noise seed from the job's seed and optimises x_T (DITTO or
DITTO-2: ``methods.METHODS`` decides, nowhere else does); ``generate`` then decodes the best row with the
optimisation's noise and crossfades it into the clip's mel. The evaluation calls ``optimise_window`` for its
one window and decodes its x_T* with several T. The unoptimised output of the same x_T, decoded with the
same noise, is the "before" of every loss. ``generate``, ``serve``, the stream, ``demo``, ``eval`` and
``bench`` all run this; the job runner (``jobs.py``) adds the engine lock, files and measurement.

The execution backend (:class:`Backends`) is chosen once per device, prepared once per (model, shape,
batch) with its parity check against eager, and kept; a backend refused by the check falls back to eager
with the reason in the record.
"""

from __future__ import annotations

import logging
import math
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from ditto_live.controls import CHAIN, DEFAULT_LR, DEFAULT_OVERLAP_S, KINDS, ClipTarget, Kind, TextAudio
from ditto_live.engine.audio import MelConfig, MelFrontEnd
from ditto_live.engine.backends import autocast_weights, eager_stepper
from ditto_live.engine.conditioning import Cond
from ditto_live.engine.controls import Control, combined_loss, loss_function, sketch_of
from ditto_live.engine.ito import ItoResult, JobCancelled, draw_noise_seed, one_step_x0
from ditto_live.engine.student_sampling import ddim_invert, mix_start
from ditto_live.generation.execution import Backends, ModelKey, resolve_backend
from ditto_live.generation.jobspec import JobSpec, clip_seconds
from ditto_live.generation.methods import METHODS, Method  # the one table of methods
from ditto_live.generation.targets import build_targets, encode_tags, seam_of, window_controls, wrap_for_loop

if TYPE_CHECKING:
    from ditto_live.engine.vocoder import Vocoder
    from ditto_live.generation.models import Bundle

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int, float], None]  # (stage, step, total, loss)
UNCONTROLLED_DECODE_STEPS = 2  # T of a job without controls that names none
SKETCH_INVERSION_STEPS = 8  # student calls that invert a sketch to x_T (2, 4, 8, 16 measured on val: docs/bench.md)
__all__ = ["METHODS", "Backends", "Engine", "Generated", "Laps", "Plan", "WindowRun", "clip_losses", "decode",
           "decode_steps_of", "generate", "job_cond", "optimise", "optimise_window", "plan_job", "resolve_backend",
           "vocode", "window_noise"]


def _silent(*_: Any) -> None:
    return None


@dataclass
class Engine:
    """What the pipeline runs on: device, precision, backend, and the warm-start memory."""

    device: str = "cpu"  # torch device
    autocast: bool = False  # bf16 autocast of the model calls while optimising
    decode_autocast: bool = False  # bf16 autocast while decoding too (models with bf16 weights need it)
    backends: Backends = field(default_factory=Backends)  # the prepared execution backend
    warm_start: bool = False  # start from the last x_T* of a job with the same model, seed and length
    last_x: dict[ModelKey, Tensor] = field(default_factory=dict)  # warm-start memory, most recent last
    # each model's copy with bf16 weights for the eager ITO under autocast (``ito_model``), kept while the model is
    ito_models: weakref.WeakKeyDictionary[nn.Module, nn.Module] = field(default_factory=weakref.WeakKeyDictionary)

    def ito_model(self, model: nn.Module) -> nn.Module:
        """The network DITTO-2's eager ITO calls: under autocast, ``model``'s copy with bf16 weights
        (``autocast_weights``: the same computation without casting every weight at every call), made once per
        model; otherwise ``model`` itself. Only for calls under autocast (decoding runs ``model``)."""
        if not self.autocast:
            return model
        if model not in self.ito_models:
            self.ito_models[model] = autocast_weights(model)
        return self.ito_models[model]

    def remember(self, key: ModelKey, x: Tensor, keep: int = 64) -> None:
        self.last_x.pop(key, None)
        self.last_x[key] = x
        while len(self.last_x) > keep:
            self.last_x.pop(next(iter(self.last_x)))


# ---------------------------------------------------------------------------------------------
# deadlines: an optimisation that must stop in time


class StepDeadline:
    """``should_stop`` for the optimisation loop: True once one more step would end past ``stop_at``
    (a step's cost is the time between the last two checks), so the loop stops before the deadline
    rather than one step after it."""

    def __init__(self, stop_at: float, clock: Callable[[], float] = time.perf_counter):
        self.stop_at = stop_at  # perf_counter time by which the optimisation must have stopped
        self._clock = clock
        self._last: float | None = None  # time of the previous check
        self._step = 0.0  # the last step's duration

    def __call__(self) -> bool:
        now = self._clock()
        if self._last is not None:
            self._step = now - self._last
        self._last = now
        return now + self._step >= self.stop_at


def ito_stop_at(now: float, ito_end: float, windows_left: int) -> float:
    """When this window's optimisation must stop: the windows still to optimise share the time left
    before ``ito_end`` (the deadline less the reserved decode/vocode/write time) evenly."""
    return now + max(0.0, ito_end - now) / max(windows_left, 1)


# ---------------------------------------------------------------------------------------------
# planning: a job on the clip's frame grid


@dataclass
class Plan:
    """A parsed job laid out for the engine: its targets over the clip and its model windows."""

    spec: JobSpec  # the job
    bundle: Bundle  # the loaded model bundle
    method: Method  # DITTO-2 or DITTO
    model: nn.Module  # the network the method runs: the bundle's student or teacher (an engine UNet)
    mel: MelConfig  # the bundle's mel front end settings
    front: MelFrontEnd  # waveform -> mel, on the device
    tags: Tensor  # [4] long tag indices on the device
    frames: int  # frames of the delivered clip
    seam: int  # frames a loop generates past the end, then drops
    targets: list[ClipTarget[Any]]  # every control's target over frames + seam
    starts: list[int]  # first clip frame of each model window
    chain: int  # frames each window shares with the one before
    steps: int  # K optimisation steps per window
    decode_steps: int  # T decoding steps of the student (the job's, else its controls' default)
    lr: float  # Adam learning rate on x_T (the job's, else its controls' default)
    text_model: TextAudio | None = None  # for the text control
    window_frames: int = 0  # frames of a model window (0: the model's own, mel.frames; the bench may shrink it)

    @property
    def total(self) -> int:
        return self.frames + self.seam

    @property
    def vocoder(self) -> Vocoder | None:
        """The bundle's neural vocoder, which the audible terms read (None: Griffin-Lim)."""
        return self.bundle.vocoder

    @property
    def window(self) -> int:
        """Frames of one model window."""
        return self.window_frames or self.mel.frames

    @property
    def seconds(self) -> float:
        return self.frames / self.mel.frame_rate


def job_frames(spec: JobSpec, mel: MelConfig) -> int:
    """Frames of the clip a job asks for; by default a loop and its seam fill one window (``Kind.seam_s``)."""
    frames = int(round(clip_seconds(spec, mel.window_seconds) * mel.frame_rate))
    if spec.seconds is None and spec.bars is None:
        frames -= int(round(max((KINDS[c.type].seam_s for c in spec.controls), default=0.0) * mel.frame_rate))
    return frames


def decode_steps_of(spec: JobSpec) -> int:
    """T of a job: its own, else the smallest of its controls' defaults (a melody decodes the one-step
    output it was optimised through; each kind's ``Kind.decode_steps``)."""
    return spec.decode_steps or min((KINDS[c.type].decode_steps for c in spec.controls),
                                    default=UNCONTROLLED_DECODE_STEPS)


def lr_of(spec: JobSpec, kinds: Sequence[Kind]) -> float:
    """Adam's learning rate on x_T for a job: its own, else the smallest of its controls' defaults (``Kind.lr``,
    each chosen on val with the kind's K: the most cautious control's, as the sketch's share)."""
    return spec.lr or min((k.lr for k in kinds), default=DEFAULT_LR)


def plan_job(spec: JobSpec, bundle: Bundle, device: str, allowed_roots: Iterable[str], front: MelFrontEnd,
             text_model: Callable[[], TextAudio] | None = None, continuing: bool = False, window_frames: int = 0) -> Plan:
    """Targets, windows and K of a job. ``text_model()`` is called only when a text control needs one;
    ``continuing``: the first window opens with frames given to :func:`generate` (chaining counts it);
    ``window_frames``: a model window shorter than the model's own (a timing knob of the bench; a multiple
    of 16), else every window is the length the model was trained on, a short clip cropped from it."""
    mel = bundle.mel_config
    method = METHODS[spec.method]
    model = method.model(bundle, spec)
    tags = encode_tags(spec, bundle.tags).to(device)
    frames = job_frames(spec, mel)
    targets = build_targets(spec, mel, frames, allowed_roots, front)
    seam = seam_of(targets)
    wrap_for_loop(targets, seam)
    text = text_model() if text_model is not None and any(KINDS[t.kind].text_model for t in targets) else None
    window, total = window_frames or mel.frames, frames + seam
    chain = min(int(round(DEFAULT_OVERLAP_S * mel.frame_rate)), window // 4)
    starts = [0] if total <= window else list(range(0, total - chain, window - chain))
    chaining = len(starts) > 1 or continuing
    kinds = [KINDS[t.kind] for t in targets] + ([CHAIN] if chaining else [])  # whose defaults the job takes
    steps = spec.steps or max((k.steps for k in kinds), default=0)
    return Plan(spec, bundle, method, model, mel, front, tags, frames, seam, targets, starts, chain, steps,
                decode_steps_of(spec), lr_of(spec, kinds), text, window_frames)


# ---------------------------------------------------------------------------------------------
# generating


@dataclass
class Generated:
    """What :func:`generate` returns: the clip's mel, the unoptimised one, and the record."""

    full: Tensor  # [1, F, frames + seam] the output, normalised to [-1, 1] (a loop's seam included)
    unoptimised_full: Tensor | None  # the same x_T decoded without optimisation (None: not asked)
    frames: int  # frames delivered
    windows: list[dict[str, Any]]  # per window: steps run, seeds, losses, backend, seconds
    timings_ms: dict[str, float]  # stage -> milliseconds: target, optimise, decode, wait

    @property
    def mel(self) -> Tensor:
        """[1, F, frames] the delivered clip."""
        return self.full[..., :self.frames]

    @property
    def unoptimised(self) -> Tensor | None:
        return None if self.unoptimised_full is None else self.unoptimised_full[..., :self.frames]

    def tail(self, frames: int) -> Tensor:
        """[1, F, frames] the clip's last frames: what the next window of a stream opens with."""
        return self.mel[..., max(0, self.frames - frames):].clone()


def sync(device: str | torch.device) -> None:
    """Wait for the device's queued work (a no-op on a CPU): stage times end there."""
    if str(device).startswith("cuda"):
        torch.cuda.synchronize(device)


def window_noise(seed: int, window: int, rows: int, mel: MelConfig, device: str, frames: int = 0) -> tuple[Tensor, int]:
    """x_T [rows, 1, F, frames or mel.frames] of model window ``window`` and the seed of its student sampling
    noise, both from the job's seed: the optimised and the unoptimised output of a window share them."""
    gen = torch.Generator(device=device).manual_seed(seed * 1000 + window)
    x_T = torch.randn(rows, 1, mel.n_mels, frames or mel.frames, generator=gen, device=device)
    return x_T, draw_noise_seed(gen)


def decode(plan: Plan, x_T: Tensor, cond: Cond, noise_seed: int, decode_steps: int | None = None,
           model: nn.Module | None = None) -> Tensor:
    """x_T [1, 1, F, N] -> x0 [1, 1, F, N] in the mel's range, by the plan's method (T = the plan's, or given;
    ``model``: a prepared decoder, else the plan's model)."""
    x0 = plan.method.decode(plan.model if model is None else model, x_T, Cond(cond.tags[:1], cond.w), plan.spec,
                            noise_seed, decode_steps or plan.decode_steps)
    return x0.float().clamp(-1, 1)  # an untrained or overshooting model can leave the range


def optimise(plan: Plan, engine: Engine, x_start: Tensor, cond: Cond, controls: Sequence[Control], noise_seed: int,
             from_sketch: bool = True, **hooks: Any) -> tuple[ItoResult, dict[str, Any]]:
    """x_T* of the plan's method through the engine's backend (a refused one runs eager: the backend's
    ``StepperFactory`` decides), from ``x_start`` moved towards the controls' sketch (``from_sketch``; see
    :func:`start_near_sketch`). -> (result, ``Backends.ran``'s record: backend, fallback, preparation s, ...)"""
    spec = plan.spec
    if from_sketch:
        x_start = start_near_sketch(plan, engine, x_start, cond, controls)
    maker, why_eager = engine.backends.stepper(spec.method, spec.surrogate,
                                               model_key(plan, x_start.shape, engine.autocast))
    # a prepared backend traces (and checks in float32) the float32 model; eager DITTO-2 takes the bf16 copy
    eager_ditto2 = maker is eager_stepper and plan.method.chain is None
    model = engine.ito_model(plan.model) if eager_ditto2 else plan.model
    res = plan.method.optimise(model, x_start, cond, loss_function(controls), plan.steps, plan.lr, spec, noise_seed,
                               stepper=maker, autocast=engine.autocast, **hooks)
    return res, engine.backends.ran(maker, why_eager)


def start_near_sketch(plan: Plan, engine: Engine, x_T: Tensor, cond: Cond, controls: Sequence[Control]) -> Tensor:
    """Start DITTO-2 near a solution (issue 27): the unoptimised one-step output of x_T's first row moved
    towards the controls by their sketches (a melody's notes rendered, an intensity's gain), inverted through
    the student to an x_T that holds the sketches' share of the start's variance beside the job's own noise,
    so the one-step output already nears the targets and fewer steps reach them.
    The DITTO baseline keeps the paper's plain noise. x_T: [B, 1, F, N] -> [B, 1, F, N]"""
    if plan.method.chain is not None or not any(c.sketch is not None for c in controls):
        return x_T
    one = Cond(cond.tags[:1], cond.w)
    model = engine.ito_model(plan.model)  # every call below is under the engine's autocast
    with torch.no_grad(), torch.autocast(torch.device(engine.device).type, dtype=torch.bfloat16,
                                         enabled=engine.autocast):
        x0 = one_step_x0(model, x_T[:1], one, plan.spec.student).float().clamp(-1, 1)  # the surrogate's output
        sketched = sketch_of(controls, x0)
        assert sketched is not None
        sketch, share = sketched
        inverted = ddim_invert(model, sketch.float(), one, SKETCH_INVERSION_STEPS)
    return mix_start(inverted.float(), x_T, share)


def model_key(plan: Plan, shape: tuple[int, ...], autocast: bool) -> ModelKey:
    """What a prepared backend is kept for: the model, the method, the input shape (batch included), precision."""
    spec = plan.spec
    return spec.model, spec.method, spec.student, tuple(shape), autocast


def decoder_for(plan: Plan, engine: Engine, x_T: Tensor, cond: Cond) -> tuple[nn.Module, float]:
    """The network that decodes this plan's x_T [1, 1, F, N]: the student prepared under the engine's
    backend (DITTO-2), else the plan's own model. -> (model, preparation seconds)"""
    spec = plan.spec
    if not engine.backends.applies(spec.method) or not plan.model.takes_w:
        return plan.model, 0.0
    from ditto_live.engine.student_sampling import student_grid

    w = torch.full((1,), float(spec.cfg), device=x_T.device)
    t = torch.full((1,), float(student_grid(1)[0]), device=x_T.device)
    example = (x_T, t, cond.tags[:1], w)
    return engine.backends.decoder(model_key(plan, x_T.shape, engine.autocast), plan.model, example,
                                   engine.decode_autocast)


def crossfade_into(out: Tensor, mel: Tensor, start: int, overlap: int) -> None:
    """Write window ``mel`` [1, F, n] at ``start`` of ``out`` [1, F, L], fading in over ``overlap`` frames
    (the one crossfade of the pipeline)."""
    n = min(mel.shape[-1], out.shape[-1] - start)
    if start > 0 and overlap > 0:
        ramp = torch.linspace(0, 1, overlap + 2, device=mel.device)[1:-1]
        out[..., start:start + overlap] = (1 - ramp) * out[..., start:start + overlap] + ramp * mel[..., :overlap]
        out[..., start + overlap:start + n] = mel[..., overlap:n]
    else:
        out[..., start:start + n] = mel[..., :n]


class Laps:
    """Stage times in milliseconds: ``lap(stage)`` adds the time since the previous lap to ``stage``, ending
    with the device's queued work done."""

    def __init__(self, device: str | torch.device):
        self.device = device  # torch device the stages run on
        self.ms: dict[str, float] = {}  # stage -> milliseconds, summed over its laps
        self._clock = time.perf_counter()  # when the previous lap ended

    def __call__(self, stage: str) -> None:
        sync(self.device)
        now = time.perf_counter()
        self.ms[stage] = self.ms.get(stage, 0.0) + (now - self._clock) * 1000
        self._clock = now


def job_cond(plan: Plan) -> Cond:
    """The job's conditioning: its tags [seeds, 4] (one row per seed optimised together) and CFG weight."""
    return Cond(plan.tags[None].expand(plan.spec.seeds, -1), w=plan.spec.cfg)


@dataclass
class WindowRun:
    """One model window up to its decode (:func:`optimise_window`): the x_T drawn for it and the x_T* to
    decode, each with its student sampling-noise seed, and the window's record."""

    x_T: Tensor  # [seeds, 1, F, N] the window's start drawn from the job's seed (row 0: the unoptimised output's)
    noise_seed: int  # the student's sampling-noise seed drawn with x_T
    x_best: Tensor  # [1, 1, F, N] x_T*: the best row optimised (x_T[:1] when nothing was optimised)
    best_noise: int  # the noise seed x_best decodes with (the surrogate's: T = M decodes what was optimised)
    ito: ItoResult | None  # the optimisation's result (None: no controls, K = 0)
    record: dict[str, Any]  # the sidecar's window record: steps run, seeds, losses, backend, seconds

    @property
    def optimised(self) -> bool:
        return self.ito is not None


def optimise_window(plan: Plan, engine: Engine, w: int, cond: Cond, out: Tensor, previous: Tensor | None = None,
                    check: Callable[[], bool] | None = None, ito_end: float | None = None,
                    report: Progress = _silent, lap: Callable[[str], None] = _silent) -> WindowRun:
    """Model window ``w`` of the plan up to its decode: its engine controls cut from the clip's targets (opening
    with ``previous`` [1, F, o] or, after the first window, with the end of the clip ``out`` [1, F, total] so
    far), x_T and the noise seed from the job's seed, and the optimisation (:func:`optimise`; a warm-started
    job resumes from its last x_T* instead of the sketch). ``check`` (cancelled? before every step),
    ``ito_end`` (perf_counter time every window's optimisation ends by), ``report`` (progress) and ``lap``
    (stage timer: "target", then "optimise") as :func:`generate` gives them."""
    spec, mel, dev, n = plan.spec, plan.mel, engine.device, len(plan.starts)
    start = plan.starts[w]
    length = min(plan.window, plan.total - start)
    opening = previous if w == 0 else out[..., start:start + plan.chain]
    head = out[..., :plan.seam] if plan.seam and w > 0 else None
    controls = window_controls(plan.targets, mel, start, length, plan.text_model, opening, head,
                               is_last=w == n - 1, so_far=out[..., :start] if w else None, device=dev,
                               vocoder=plan.vocoder, front=plan.front)
    x_T, noise_seed = window_noise(spec.seed, w, spec.seeds, mel, dev, plan.window)
    lap("target")
    record: dict[str, Any] = {"window": w, "start_frame": start, "steps_run": 0, "noise_seed": noise_seed}
    if not controls or plan.steps <= 0:
        lap("optimise")
        return WindowRun(x_T, noise_seed, x_T[:1], noise_seed, None, record)
    key = (spec.model, spec.method, spec.student, spec.seed, spec.seeds, plan.total, w)
    warm = engine.warm_start and key in engine.last_x
    ito_start = time.perf_counter()
    stop_at = ito_stop_at(ito_start, ito_end, n - w) if ito_end is not None else None

    def cb(step: int, k: int, losses: dict[str, float]) -> None:
        report("optimise", w * k + step, k * n, losses["total"])

    res, backend_info = optimise(
        plan, engine, engine.last_x[key] if warm else x_T, cond, controls, noise_seed, from_sketch=not warm,
        callback=cb, is_cancelled=check, tolerance=spec.tolerance,
        should_stop=StepDeadline(stop_at) if stop_at is not None else None)
    engine.remember(key, res.x_T_batch)
    best_noise = res.noise_seed if res.noise_seed is not None else noise_seed
    record.update(
        steps_run=res.steps_run, warm_start=warm, best_seed=res.best_index, noise_seed=best_noise,
        **backend_info, surrogate_loss_before=res.initial_losses,
        surrogate_loss_after=res.losses, seconds=round(res.seconds, 3),
        ito_budget_s=None if stop_at is None else round(stop_at - ito_start, 4),
        deadline_stop=bool(stop_at is not None and res.steps_run < plan.steps
                           and not (spec.tolerance > 0 and res.loss <= spec.tolerance)))
    lap("optimise")
    return WindowRun(x_T, noise_seed, res.x_T, best_noise, res, record)


def generate(plan: Plan, engine: Engine, progress: Progress | None = None,
             check: Callable[[], bool] | None = None, ito_end: float | None = None,
             previous: Tensor | None = None, unoptimised: bool = True,
             between_windows: Callable[[], object] | None = None) -> Generated:
    """Run the plan window by window. ``check()`` is called before every optimisation step (True:
    cancelled; it may also step aside for a deadline job); ``ito_end`` (perf_counter time) ends every
    window's optimisation in time; ``previous`` [1, F, o]: frames the first window must open with (a
    stream's last window); ``unoptimised``: also decode x_T unoptimised, the losses' "before"."""
    report = progress or _silent
    mel, dev = plan.mel, engine.device
    lap = Laps(dev)
    out = torch.zeros(1, mel.n_mels, plan.total, device=dev)
    base_out = torch.zeros_like(out) if unoptimised and plan.targets else None
    cond = job_cond(plan)
    windows: list[dict[str, Any]] = []
    n = len(plan.starts)
    for w, start in enumerate(plan.starts):
        run = optimise_window(plan, engine, w, cond, out, previous, check, ito_end, report, lap)
        record = run.record
        if check is not None and check():
            raise JobCancelled(f"cancelled before decoding window {w}")
        report("decode", w, n, math.nan)
        t0 = time.perf_counter()
        decoder, record["decoder_prepare_s"] = decoder_for(plan, engine, run.x_best, cond)
        with torch.autocast(torch.device(dev).type, dtype=torch.bfloat16, enabled=engine.decode_autocast):
            x0 = decode(plan, run.x_best, cond, run.best_noise, model=decoder)
        sync(dev)
        record["decode_s"] = round(time.perf_counter() - t0, 4)
        crossfade_into(out, x0[0], start, plan.chain if w else 0)
        if base_out is not None:
            x0_base = decode(plan, run.x_T[:1], cond, run.noise_seed) if run.optimised else x0
            crossfade_into(base_out, x0_base[0], start, plan.chain if w else 0)
        windows.append(record)
        lap("decode")
        if between_windows is not None:
            between_windows()
        lap("wait")
    return Generated(out, base_out, plan.frames, windows, lap.ms)


def clip_losses(plan: Plan, gen: Generated, opening: Tensor | None = None) -> dict[str, dict[str, float | None]]:
    """Each control's loss on the whole clip's mel (after) and on the unoptimised one (before);
    ``opening``: the frames a stream window had to open with (its "continuation" loss)."""
    controls = window_controls(plan.targets, plan.mel, 0, plan.total, plan.text_model, opening, is_last=True,
                               device=str(gen.full.device), vocoder=plan.vocoder)
    if not controls:
        return {}
    with torch.no_grad():
        _, after = combined_loss(controls, gen.full[None].float())
        base = gen.unoptimised_full
        before = combined_loss(controls, base[None].float())[1] if base is not None else {}
    return {k: {"before": float(before[k][0]) if k in before else None, "after": float(v[0])}
            for k, v in after.items()}


def vocode(bundle: Bundle, mel: Tensor) -> np.ndarray:
    """mel [1, F, N] -> waveform [N * hop] at the bundle's rate, by its vocoder."""
    with torch.no_grad():
        return bundle.mel_to_wav(mel[None].float())[0].cpu().numpy()

