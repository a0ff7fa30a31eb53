"""The job runner every front end shares (CLI ``generate``, the OSC server, the live stream).

``JobRunner.run(spec, progress, is_cancelled)`` builds the control targets, runs inference-time
optimisation (DITTO-2 through the distilled student, or the DITTO baseline through the teacher's DDIM
chain), decodes, vocodes, measures each control on the vocoded audio
(``ditto_live/measure.py``), and writes the WAV and its JSON sidecar atomically. Clips longer than one
model window are generated window by window, each opening with the previous window's last second
(outpainting), crossfaded over that overlap.

One runner serves several threads (the server's job worker and the live stream's producer): its
model cache is locked, and the engine itself is one resource held through :class:`EngineLock` --
jobs run one at a time, a job with a deadline (a stream window) goes first, and a job without one
steps aside between optimisation steps while a deadline job waits (two jobs at once would each run
at half speed on a small CPU, and the stream would fall behind). A deadline (``JobSpec.deadline_s``)
stops the optimisation early, keeping its best x_T, so that the measured decode, vocode and write
times still fit in the budget.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ditto_live.engine.audio import MelFrontEnd
from ditto_live.engine.backends import default_autocast
from ditto_live.engine.conditioning import Cond
from ditto_live.engine.controls import DEFAULT_STEPS, combined_loss, loss_function
from ditto_live.engine.ito import (
    JobCancelled,
    ditto2_decode,
    ditto2_optimise,
    ditto_decode,
    ditto_optimise,
    draw_noise_seed,
)
from ditto_live.errors import UsageError
from ditto_live.jobspec import JobSpec, JobSpecError, clip_seconds
from ditto_live.measure import measure_controls
from ditto_live.results import safe_output_path, write_json, write_wav
from ditto_live.targets import (
    DEFAULT_OVERLAP_S,
    TextModel,
    build_targets,
    encode_tags,
    window_controls,
    wrap_for_loop,
)

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int, float], None]  # (stage, step, total, loss)
UNTRAINED = "tiny-untrained"  # model name that builds random-weight tiny models in memory


@dataclass
class JobResult:
    wav_path: Path  # the written WAV
    summary: dict[str, Any]  # what the sidecar JSON holds


def pick_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"device {device!r}: CUDA is not available here (use --device cpu)")
    return device


def untrained_bundle(device: str = "cpu", seed: int = 0):
    """A random-weight tiny base model, CTM/CM students initialised from it, Griffin-Lim, no text model.

    For running the whole pipeline before a trained bundle exists: the audio is noise-like, but every
    stage (targets, ITO, decode, vocode, measure, write) is real.
    """
    from ditto_live.engine.audio import PRESETS
    from ditto_live.engine.distill import init_student_from_teacher
    from ditto_live.engine.tags import TagVocab
    from ditto_live.engine.unet import UNET_PRESETS, UNet
    from ditto_live.models import Bundle

    log.warning("model %r: RANDOM, UNTRAINED weights -- the audio will not sound like music; "
                "train a bundle (ditto-live train all) or use the default model", UNTRAINED)
    vocab = TagVocab.from_names(tempo=["slow", "moderate", "fast", "very fast"])
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    base = UNet(UNET_PRESETS["tiny"], vocab.sizes).to(device).eval()
    torch.random.set_rng_state(gen_state)
    student = init_student_from_teacher(base).eval()
    meta = {"mel_config": PRESETS["tiny"].to_dict(), "tags": vocab.to_dict(), "kind": "base"}
    return Bundle(name=UNTRAINED, path=Path("<memory>"), base=base, ctm=student, cm=student,
                  meta={"base": meta, "ctm": {**meta, "kind": "ctm"}, "cm": {**meta, "kind": "cm"}})


def default_loader(name: str, device: str):
    if name == UNTRAINED:
        return untrained_bundle(device)
    from ditto_live.models import load_bundle

    return load_bundle(name, device)


def _crossfade_into(out: Tensor, mel: Tensor, start: int, overlap: int) -> None:
    """Write window ``mel`` [1, F, n] at ``start`` of ``out`` [1, F, L], fading in over ``overlap`` frames."""
    n = min(mel.shape[-1], out.shape[-1] - start)
    if start > 0 and overlap > 0:
        ramp = torch.linspace(0, 1, overlap + 2)[1:-1].to(mel.device)
        out[..., start:start + overlap] = (1 - ramp) * out[..., start:start + overlap] + ramp * mel[..., :overlap]
        out[..., start + overlap:start + n] = mel[..., overlap:n]
    else:
        out[..., start:start + n] = mel[..., :n]


def _resample(audio: np.ndarray, sr: int, sr_out: int) -> np.ndarray:
    if sr_out in (0, sr):
        return audio
    from scipy.signal import resample_poly

    g = math.gcd(sr, sr_out)
    return resample_poly(audio, sr_out // g, sr // g).astype(np.float32)


class EngineLock:
    """The engine as one resource: one holder at a time, deadline (priority) holders first.

    ``hold(priority, is_cancelled)`` waits for the engine (a waiting job still notices cancellation);
    a plain holder calls ``yield_to_priority()`` between steps and lets a waiting priority holder run
    its whole job first. Priority holders queue among themselves in no particular order.
    """

    POLL_S = 0.05  # how often a waiter checks its cancellation

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._holder: int | None = None  # thread ident of the holder
        self._holder_priority = False  # the holder asked with priority
        self._priority_waiting = 0  # priority holders waiting for the engine
        self.yields = 0  # times a plain holder stepped aside (tests and logs)

    @contextlib.contextmanager
    def hold(self, priority: bool = False, is_cancelled: Callable[[], bool] | None = None) -> Iterator[None]:
        self.acquire(priority, is_cancelled)
        try:
            yield
        finally:
            self.release()

    def acquire(self, priority: bool = False, is_cancelled: Callable[[], bool] | None = None) -> None:
        me = threading.get_ident()
        with self._cond:
            if self._holder == me:
                raise RuntimeError("EngineLock is not re-entrant")
            if priority:
                self._priority_waiting += 1
            try:
                while self._holder is not None or (not priority and self._priority_waiting):
                    if is_cancelled is not None and is_cancelled():
                        raise JobCancelled("cancelled while waiting for the engine")
                    self._cond.wait(self.POLL_S)
            finally:
                if priority:
                    self._priority_waiting -= 1
            self._holder, self._holder_priority = me, priority

    def release(self) -> None:
        with self._cond:
            if self._holder != threading.get_ident():
                raise RuntimeError("EngineLock released by a thread that does not hold it")
            self._holder, self._holder_priority = None, False
            self._cond.notify_all()

    def yield_to_priority(self, is_cancelled: Callable[[], bool] | None = None) -> bool:
        """Called by the holder between steps: if it is a plain holder and a priority holder waits,
        hand over and take the engine back afterwards. -> whether it stepped aside."""
        with self._cond:
            if self._holder != threading.get_ident() or self._holder_priority or not self._priority_waiting:
                return False
            self.yields += 1
        self.release()
        self.acquire(False, is_cancelled)
        return True

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._holder is not None


@dataclass
class StageCosts:
    """Measured wall time of the stages after the optimisation, per model and decoder (the deadline
    reserves them). Follows a slower run at once and a faster one slowly (safer for a deadline)."""

    decode_s: float  # decoding one window
    tail_s_per_s: float  # vocode + measure + write, per second of audio

    def update(self, decode_s: float, tail_s_per_s: float, keep: float = 0.5) -> None:
        self.decode_s = max(decode_s, keep * self.decode_s + (1 - keep) * decode_s)
        self.tail_s_per_s = max(tail_s_per_s, keep * self.tail_s_per_s + (1 - keep) * tail_s_per_s)


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


class JobRunner:
    """Runs jobs on one device; model bundles are loaded once and kept. Safe to call from several
    threads: they take turns on the engine (:class:`EngineLock`)."""

    def __init__(self, bundle_loader: Callable[[str, str], Any] | None = None, output_dir: str = "~/ditto_live_out",
                 allowed_roots: Iterable[str] = ("~",), device: str = "cpu", plot: bool = False,
                 measure_baseline: bool = False, autocast: bool | None = None, sentence_encoder: Any = None,
                 warm_start: bool = False, laion_clap: str = ""):
        self.bundle_loader = bundle_loader
        self.output_dir = output_dir
        self.allowed_roots = tuple(allowed_roots)
        self.device = pick_device(device)
        self.plot = plot  # also write a PNG of the spectrogram with target vs achieved curves
        self.measure_baseline = measure_baseline  # also vocode and measure the unoptimised output (slower)
        # bf16 autocast of the model calls during optimisation; None: on a CPU with native bf16 (backends.py)
        self.autocast = default_autocast(self.device) if autocast is None else autocast
        self.sentence_encoder = sentence_encoder  # captions -> sentence embeddings (None: the shipped MiniLM)
        self.warm_start = warm_start  # start from the last x_T* of a job with the same model, seed and length
        self.laion_clap = laion_clap  # path of a LAION-CLAP checkpoint for the text control ("" = the bundle's own)
        self._laion: Any = None
        self._bundles: dict[str, Any] = {}
        self._bundles_lock = threading.Lock()  # one load per bundle, never a half-built cache
        self.engine = EngineLock()  # jobs take turns on the engine; deadline jobs first
        self._costs: dict[tuple, StageCosts] = {}  # (model, method, student, decode_steps) -> measured costs
        self._warmed: set[tuple] = set()  # cost keys whose first (warm-up) run is over
        self._last_x: dict[tuple, Tensor] = {}  # warm-start cache: (model, method, seed, seeds, frames, window)

    def bundle(self, name: str):
        with self._bundles_lock:
            if name not in self._bundles:
                self._bundles[name] = (self.bundle_loader or default_loader)(name, self.device)
            return self._bundles[name]

    def run(self, spec: JobSpec, progress: Progress | None = None, is_cancelled: Callable[[], bool] | None = None,
            out_prefix: str | None = None) -> JobResult:
        """Run one job to a WAV and its sidecar, holding the engine (a deadline job with priority)."""
        began = time.perf_counter()
        with self.engine.hold(priority=spec.deadline_s > 0, is_cancelled=is_cancelled):
            return self._run(spec, progress, is_cancelled, out_prefix, began)

    def _run(self, spec: JobSpec, progress: Progress | None, is_cancelled: Callable[[], bool] | None,
             out_prefix: str | None, began: float) -> JobResult:
        timings: dict[str, float] = {"wait": (time.perf_counter() - began) * 1000}
        clock = time.perf_counter()

        def lap(stage: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[stage] = timings.get(stage, 0.0) + (now - clock) * 1000
            clock = now

        report = progress or (lambda *a: None)
        report("parse", 0, 1, math.nan)
        b = self.bundle(spec.model)
        mel = b.mel_config
        model = b.base if spec.method == "ditto" else b.student(spec.student)
        if model is None:
            raise UsageError(f"model {spec.model!r} has no base model for the DITTO baseline")
        front = MelFrontEnd(mel).to(self.device)
        tags = encode_tags(spec, b.tags).to(self.device)
        lap("parse")

        report("target", 0, 1, math.nan)
        fr = mel.frame_rate
        frames = int(round(clip_seconds(spec, mel.window_seconds) * fr))
        if spec.seconds is None and spec.bars is None and any(c.type == "loop" for c in spec.controls):
            frames -= int(round(DEFAULT_OVERLAP_S / 2 * fr))  # by default a loop and its seam fill one window
        targets = build_targets(spec, mel, frames, self.allowed_roots, front)
        seam = next((t.overlap for t in targets if t.kind == "loop"), 0)
        total = frames + seam  # a loop generates its seam too, then drops it
        wrap_for_loop(targets, seam)
        text_model = None
        if any(t.kind == "text" for t in targets) and self.laion_clap:
            if self._laion is None:
                from ditto_live.laion import load_laion_clap

                self._laion = load_laion_clap(self.laion_clap, b.mel_to_wav, mel.sample_rate, self.device)
            text_model = self._laion
        elif any(t.kind == "text" for t in targets):
            if b.clap is None:
                raise JobSpecError("the text control needs a text-audio model; this model bundle has none")
            from ditto_live.text_encoder import default_encoder

            text_model = TextModel(b.clap, self.sentence_encoder or default_encoder())
        window = mel.frames
        chain = min(int(round(DEFAULT_OVERLAP_S * fr)), window // 4)  # frames each window shares with the last
        starts = [0] if total <= window else list(range(0, total - chain, window - chain))
        kinds = [t.kind for t in targets] + (["outpaint"] if len(starts) > 1 else [])  # chaining outpaints
        steps = spec.steps or max((DEFAULT_STEPS[k] for k in kinds), default=0)
        cost_key = (spec.model, spec.method, spec.student, spec.decode_steps)
        costs = self._costs.get(cost_key)
        reserved = costs.decode_s * len(starts) + costs.tail_s_per_s * frames / fr if costs else 0.0
        ito_end = began + spec.deadline_s - reserved  # every window's optimisation ends by then
        lap("target")

        out = torch.zeros(1, mel.n_mels, total, device=self.device)
        base_out = torch.zeros_like(out)
        ito_info = []
        decode_s = 0.0  # the output's own decoding, all windows (what a deadline must reserve)
        for w, start in enumerate(starts):
            length = min(window, total - start)
            previous = out[..., start:start + chain].cpu() if w > 0 else None
            head = out[..., :seam].cpu() if seam and w > 0 else None
            controls = window_controls(targets, mel, start, length, text_model, previous, head,
                                       is_last=w == len(starts) - 1, so_far=out[..., :start].cpu() if w else None)
            gen = torch.Generator(device=self.device).manual_seed(spec.seed * 1000 + w)
            x_T = torch.randn(spec.seeds, 1, mel.n_mels, window, generator=gen, device=self.device)
            noise_seed = draw_noise_seed(gen)  # DITTO-2's sampling noise: row i's is seeded noise_seed + i
            key = (spec.model, spec.method, spec.student, spec.seed, spec.seeds, total, w)
            warm = self.warm_start and key in self._last_x
            x_start = self._last_x[key] if warm else x_T
            cond = Cond(tags[None].expand(spec.seeds, -1), w=spec.cfg)
            x_best = first = x_T[:1]
            best_noise = noise_seed  # the decode reuses the noise of the row it decodes
            if controls and steps > 0:
                def cb(step: int, k: int, losses: dict[str, float], _w: int = w) -> None:
                    report("optimise", _w * k + step, k * len(starts), losses["total"])

                def checked() -> bool:  # every step (DITTO: every sampler call and CPU backward): cancelled? and
                    self.engine.yield_to_priority(is_cancelled)  # a deadline job waiting goes first
                    return is_cancelled is not None and is_cancelled()

                ito_start = time.perf_counter()
                stop_at = ito_stop_at(ito_start, ito_end, len(starts) - w) if spec.deadline_s else None
                should_stop = StepDeadline(stop_at) if stop_at is not None else None
                common = dict(callback=cb, is_cancelled=checked, tolerance=spec.tolerance, autocast=self.autocast,
                              should_stop=should_stop)
                if spec.method == "ditto":
                    res = ditto_optimise(model, x_start, cond, loss_function(controls), steps, spec.lr, **common)
                else:
                    res = ditto2_optimise(model, x_start, cond, loss_function(controls), steps, spec.lr, spec.surrogate,
                                          student_kind=spec.student, gamma=spec.gamma, noise_seed=noise_seed,
                                          **common)
                x_best = res.x_T
                best_noise = res.noise_seed if res.noise_seed is not None else noise_seed  # M = T: the surrogate's x0
                self._last_x[key] = res.x_T_batch
                while len(self._last_x) > 64:  # keep the most recent
                    self._last_x.pop(next(iter(self._last_x)))
                ito_info.append({"window": w, "start_frame": start, "steps_run": res.steps_run, "warm_start": warm,
                                 "best_seed": res.best_index, "noise_seed": best_noise if spec.method == "ditto2" else None,
                                 "surrogate_loss_before": res.initial_losses,
                                 "surrogate_loss_after": res.losses, "seconds": round(res.seconds, 3),
                                 "ito_budget_s": None if stop_at is None else round(stop_at - ito_start, 4),
                                 "deadline_stop": bool(should_stop is not None and res.steps_run < steps
                                                       and not (spec.tolerance > 0 and res.loss <= spec.tolerance))})
            lap("optimise")
            if is_cancelled is not None and is_cancelled():
                raise JobCancelled(f"cancelled before decoding window {w}")
            report("decode", w, len(starts), math.nan)
            t_decode = time.perf_counter()
            x0 = self._decode(model, spec, x_best, cond, best_noise)
            decode_s += time.perf_counter() - t_decode
            _crossfade_into(out, x0[0], start, chain if w else 0)
            if targets and not spec.deadline_s:  # the unoptimised output, decoded the same way: the "before" of
                # every loss (a job with a deadline spends no time on it)
                x0_base = x0 if x_best is first else self._decode(model, spec, x_T[:1], cond, noise_seed)
                _crossfade_into(base_out, x0_base[0], start, chain if w else 0)
            lap("decode")
            self.engine.yield_to_priority(is_cancelled)
            lap("wait")

        report("vocode", 0, 1, math.nan)
        with torch.no_grad():
            audio = b.mel_to_wav(out[None, ..., :frames].float())[0].cpu().numpy()
            base_audio = (b.mel_to_wav(base_out[None, ..., :frames].float())[0].cpu().numpy()
                          if self.measure_baseline and targets and steps > 0 else None)
        lap("vocode")

        clip_controls = window_controls(targets, mel, 0, total, text_model, is_last=True)
        losses = self._losses(clip_controls, out, base_out if targets and not spec.deadline_s else None)
        measured = {"output": measure_controls(targets, audio, mel.sample_rate, front, mel.min_db, mel.max_db, text_model)}
        if base_audio is not None:
            measured["unoptimised"] = measure_controls(targets, base_audio, mel.sample_rate, front, mel.min_db,
                                                       mel.max_db, text_model)
        lap("measure")

        report("write", 0, 1, math.nan)
        sr_out = spec.sample_rate_out or mel.sample_rate
        summary = {
            "spec": spec.to_dict(), "seed": spec.seed, "model": spec.model, "method": spec.method,
            "student": spec.student if spec.method == "ditto2" else None, "device": self.device,
            "steps": steps, "frames": frames, "windows": len(starts), "ito": ito_info,
            "targets": [{"type": t.kind, **t.info} for t in targets],
            "loss": losses, "metrics": measured, "timings_ms": {k: round(v, 1) for k, v in timings.items()},
            "untrained": spec.model == UNTRAINED,
        }
        if spec.deadline_s:
            summary["deadline"] = {"budget_s": spec.deadline_s, "reserved_s": round(reserved, 4)}
        wav = Path(out_prefix + ".wav") if out_prefix else safe_output_path(self.output_dir, spec.name, ".wav")
        write_wav(wav, _resample(audio, mel.sample_rate, sr_out), sr_out)
        lap("write")
        if self.plot and not spec.deadline_s:  # a job with a deadline spends no time on a plot
            from ditto_live.plots import plot_result

            plot_result(wav.with_suffix(".png"), out[0, :, :frames].cpu().numpy(), audio, mel.sample_rate, fr,
                        targets, title=f"{spec.method} {spec.model} seed {spec.seed}")
            summary["png"] = str(wav.with_suffix(".png"))
            lap("plot")
        summary["timings_ms"] = {k: round(v, 1) for k, v in timings.items()}
        summary.update(wav=str(wav), sample_rate=sr_out, seconds=round(frames / fr, 4))
        tail_s = (timings["vocode"] + timings["measure"] + timings["write"]) / 1000
        if cost_key not in self._warmed:  # a first run warms caches up (JIT, allocator): not a measure
            self._warmed.add(cost_key)
        elif costs is None:
            self._costs[cost_key] = StageCosts(decode_s / len(starts), tail_s / max(frames / fr, 1e-3))
        else:
            costs.update(decode_s / len(starts), tail_s / max(frames / fr, 1e-3))
        if spec.deadline_s:
            elapsed = time.perf_counter() - began
            summary["deadline"].update(elapsed_s=round(elapsed, 4), met=elapsed <= spec.deadline_s)
        write_json(wav.with_suffix(".json"), summary)
        return JobResult(wav, summary)

    def _decode(self, model, spec: JobSpec, x_T: Tensor, cond: Cond, noise_seed: int) -> Tensor:
        """x_T [1, 1, F, N] -> x0; DITTO-2 draws its sampling noise from ``noise_seed`` (the optimisation's for
        this row), so a decode with T = M gives exactly the output the surrogate optimised."""
        cond1 = Cond(cond.tags[:1], cond.w)
        if spec.method == "ditto":
            x0 = ditto_decode(model, x_T, cond1)
        else:
            x0 = ditto2_decode(model, x_T, cond1, spec.decode_steps, spec.gamma, spec.student, noise_seed=noise_seed)
        return x0.clamp(-1, 1)  # the mel's range; an untrained or overshooting model can leave it

    @staticmethod
    def _losses(controls, out: Tensor, base: Tensor | None) -> dict[str, dict[str, float]]:
        """Each control's loss on the final clip mel (after) and on the unoptimised one (before)."""
        if not controls:
            return {}
        with torch.no_grad():
            _, after = combined_loss(controls, out[None].float())
            before = combined_loss(controls, base[None].float())[1] if base is not None else {}
        return {k: {"before": float(before[k][0]) if k in before else None, "after": float(v[0])}
                for k, v in after.items()}
