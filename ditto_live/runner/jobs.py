"""The job runner every front end shares (CLI ``generate``, the OSC server, ``demo``, the live stream).

``JobRunner.run(spec, progress, is_cancelled)`` runs the one pipeline (``ditto_live/generation/pipeline.py``) on
the engine, vocodes, writes the WAV and its JSON sidecar atomically, and returns: the result is
delivered as soon as the audio exists. Each control's adherence on the vocoded audio
(``ditto_live/judges/measure.py``) and the plot follow on a background thread, which rewrites the sidecar
atomically (``JobResult.wait()`` waits for it; ``measure=False`` turns it off for live use).
``JobRunner.window(...)`` is the live stream's window: the same pipeline, chained in memory, no file.
``JobRunner.warm()`` loads a model, prepares its backend and compiles the measurement code, so that
a server's first job costs what its later ones do.

One runner serves several threads (the server's job worker and the stream's producer): the model
cache is locked and the engine is held through :class:`EngineLock`, whose work runs on a thread of its own
that ends with it (one OpenMP team in the process: ``EngineLock.run``). A deadline (``JobSpec.deadline_s``)
stops the optimisation early, keeping its best x_T, so that the measured decode, vocode and write
times (``runner/costs.py``) still fit in the budget. Model loading is ``generation/models.py``'s; the
measurement after delivery is ``runner/measurement.py``'s.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ditto_live.controls import KINDS, TextAudio
from ditto_live.engine.backends import default_autocast
from ditto_live.generation.jobspec import JobSpec, JobSpecError, parse_job
from ditto_live.generation.models import UNTRAINED_PRESETS, Bundle, default_loader, pick_device
from ditto_live.generation.pipeline import (
    Backends,
    Engine,
    Generated,
    Plan,
    clip_losses,
    generate,
    plan_job,
    vocode,
)
from ditto_live.generation.targets import TextModel
from ditto_live.judges.measure import measure_controls
from ditto_live.results import resample, safe_output_path, write_json, write_wav
from ditto_live.runner.contract import JobResult, Progress, Window
from ditto_live.runner.costs import DeadlineCosts
from ditto_live.runner.cpu import ThreadChoice, ThreadGovernor
from ditto_live.runner.engine_lock import EngineLock
from ditto_live.runner.measurement import MEASURE_QUIET_S, BackgroundMeasurer, MeasureSettings, rounded

if TYPE_CHECKING:
    from ditto_live.engine.audio import MelFrontEnd
    from ditto_live.generation.laion import LaionClapText
    from ditto_live.generation.text_encoder import SentenceEmbedder

log = logging.getLogger(__name__)

STREAM_GAP_S = 10.0  # a stream window this recent (or one waiting) means a live stream plays: plain jobs beside it
#                      leave the audio a core (ThreadGovernor.apply's streaming); windows come every few seconds


def tail_of(opening: object | None) -> torch.Tensor | None:
    """A stream window's opening as this runner handed it out (the last ``Window.tail``: mel [1, F, o]);
    the contract keeps it opaque."""
    if opening is not None and not isinstance(opening, torch.Tensor):
        raise TypeError(f"a window opens with the last window's tail, not a {type(opening).__name__}")
    return opening


class JobRunner:
    """Runs jobs on one device; model bundles are loaded once and kept. Safe to call from several
    threads: they take turns on the engine (:class:`EngineLock`)."""

    def __init__(self, bundle_loader: Callable[[str, str], Bundle] | None = None, output_dir: str = "~/ditto_live_out",
                 allowed_roots: Iterable[str] = ("~",), device: str = "cpu", plot: bool = False,
                 measure_baseline: bool = False, autocast: bool | None = None,
                 sentence_encoder: SentenceEmbedder | None = None,
                 warm_start: bool = False, laion_clap: str = "", backend: str = "auto", measure: bool = True,
                 warm_model: str = "default", governor: ThreadGovernor | None = None):
        self.bundle_loader = bundle_loader
        self.output_dir = output_dir
        self.allowed_roots = tuple(allowed_roots)
        self.device = pick_device(device)
        self.warm_model = warm_model  # what warm() prepares ("" = nothing)
        self.governor = governor  # chooses each job's threads from the free cores (None: torch's as set)
        self.threads: ThreadChoice | None = None  # what the governor chose for the job running or last run
        self.sentence_encoder = sentence_encoder  # captions -> sentence embeddings (None: the shipped MiniLM)
        self.laion_clap = laion_clap  # path of a LAION-CLAP checkpoint for the text control ("" = the bundle's own)
        # bf16 autocast of the model calls during optimisation; None: on a CPU with native bf16 (backends.py)
        self.context = Engine(self.device, autocast=default_autocast(self.device) if autocast is None else autocast,
                              backends=Backends(backend, self.device), warm_start=warm_start)
        self.engine = EngineLock()  # jobs take turns on the engine; deadline jobs first
        self.ready = threading.Event()  # set once warm() has run (or was never asked for)
        self._laion: LaionClapText | None = None
        self._bundles: dict[str, Bundle] = {}
        self._bundles_lock = threading.Lock()  # one load per bundle, never a half-built cache
        self._fronts: dict[str, MelFrontEnd] = {}  # model name -> its MelFrontEnd on the device
        self._costs = DeadlineCosts()  # what a deadline reserves for decode, vocode and write
        # after delivery: adherence (off for live use), the unoptimised output's too, a PNG per result
        self._measurer = BackgroundMeasurer(MeasureSettings(measure, measure_baseline, plot),
                                            lambda: self.engine.wait_free(MEASURE_QUIET_S))

    @property
    def description(self) -> dict[str, str]:
        """The server's status beyond ``device`` (the Runner contract): the engine's threads and why."""
        return {} if self.threads is None else {"threads": self.threads.reason}

    @property
    def autocast(self) -> bool:
        return self.context.autocast

    def bundle(self, name: str) -> Bundle:
        with self._bundles_lock:
            if name not in self._bundles:
                self._bundles[name] = (self.bundle_loader or default_loader)(name, self.device)
            return self._bundles[name]

    def model_format(self, name: str = "default") -> tuple[int, float]:
        """(sample rate, seconds of one model window) of a model: what a stream of its windows plays."""
        mel = self.bundle(name).mel_config
        return mel.sample_rate, mel.window_seconds

    # -- one job ------------------------------------------------------------------------------------
    def run(self, spec: JobSpec, progress: Progress | None = None, is_cancelled: Callable[[], bool] | None = None,
            out_prefix: str | None = None) -> JobResult:
        """Run one job to a WAV and its sidecar, holding the engine (a deadline job with priority);
        the measurement follows on a background thread."""
        began = time.perf_counter()
        report = progress or (lambda *a: None)

        def held(cancelled: Callable[[], bool]) -> tuple[Plan, Generated, np.ndarray, JobResult]:
            plan, gen, audio, timings, reserved = self._generate(spec, report, cancelled, began)
            result = self._deliver(plan, gen, audio, timings, reserved, began, out_prefix, report)
            self._learn_costs(plan, gen, (timings["vocode"] + timings["write"]) / 1000)
            return plan, gen, audio, result

        plan, gen, audio, result = self.engine.run(held, spec.deadline_s > 0, is_cancelled)
        if self._measurer.settings.wanted(plan):
            result.measured = self._measurer.submit(plan, gen, audio, result)
        return result

    def window(self, spec: JobSpec, opening: object | None, overlap_s: float,
               is_cancelled: Callable[[], bool]) -> Window:
        """One window of a live stream, in memory: it opens with ``opening`` (the last window's
        ``Window.tail``; None for the first) and returns its audio and its own tail of ``overlap_s``."""
        began = time.perf_counter()
        if opening is not None:  # a continuation: painting controls give way to the chain
            keep = tuple(c for c in spec.controls if not KINDS[c.type].yields_to_chain)
            spec = dataclasses.replace(spec, controls=keep)

        def held(cancelled: Callable[[], bool]) -> Window:  # every torch op on the engine's thread, the losses too
            plan, gen, audio, timings, _ = self._generate(spec, lambda *a: None, cancelled, began, tail_of(opening),
                                                          window=True)
            self._learn_costs(plan, gen, timings["vocode"] / 1000)
            losses = clip_losses(plan, gen, tail_of(opening))
            summary = {"ito": gen.windows, "loss": losses, "timings_ms": rounded(timings), "steps": plan.steps}
            if self.threads is not None:
                summary["cpu"] = self.threads.to_dict()
            overlap = max(1, int(round(overlap_s * plan.mel.frame_rate)))
            return Window(audio, plan.mel.sample_rate, gen.tail(overlap), summary)

        return self.engine.run(held, spec.deadline_s > 0, is_cancelled)

    def _plan(self, spec: JobSpec, continuing: bool) -> Plan:
        b = self.bundle(spec.model)
        return plan_job(spec, b, self.device, self.allowed_roots, self._front(spec.model, b),
                        lambda: self._text_model(b), continuing)

    def _front(self, name: str, b: Bundle) -> MelFrontEnd:
        """The model's mel front end on the device, built once per model (its filterbank comes from librosa)."""
        with self._bundles_lock:
            if name not in self._fronts:
                from ditto_live.engine.audio import MelFrontEnd

                self._fronts[name] = MelFrontEnd(b.mel_config).to(self.device)
            return self._fronts[name]

    def _generate(self, spec: JobSpec, report: Progress, is_cancelled: Callable[[], bool] | None, began: float,
                  opening: torch.Tensor | None = None,
                  window: bool = False) -> tuple[Plan, Generated, np.ndarray, dict[str, float], float]:
        """Plan, generate and vocode under the engine lock (``window``: a live stream's). -> (plan, generated,
        audio, timings ms, reserved s)"""
        timings = {"wait": (time.perf_counter() - began) * 1000}
        streaming = window or (spec.deadline_s <= 0 and self.engine.priority_within(STREAM_GAP_S))
        if self.governor is not None:  # in this thread, which runs the job: OpenMP's count is per thread
            self.threads = self.governor.apply(streaming)
        t0 = time.perf_counter()
        report("parse", 0, 1, math.nan)
        plan = self._plan(spec, continuing=opening is not None)
        timings["parse"] = (time.perf_counter() - t0) * 1000
        reserved = self._costs.reserved_s(spec, len(plan.starts), plan.seconds)
        ito_end = began + spec.deadline_s - reserved if spec.deadline_s else None

        def check() -> bool:  # every step: a deadline job waiting goes first; the threads follow the load; cancelled?
            if self.engine.yield_to_priority(is_cancelled) and self.governor is not None:
                self.governor.paused()  # a window ran in this step's time
            if self.governor is not None and not streaming and (changed := self.governor.adapt()) is not None:
                self.threads = changed
            return is_cancelled is not None and is_cancelled()

        report("target", 0, 1, math.nan)
        gen = generate(plan, self.context, report, check, ito_end, opening,
                       unoptimised=not spec.deadline_s, between_windows=lambda: self.engine.yield_to_priority(is_cancelled))
        for stage, ms in gen.timings_ms.items():
            timings[stage] = timings.get(stage, 0.0) + ms
        report("vocode", 0, 1, math.nan)
        t0 = time.perf_counter()
        audio = vocode(plan.bundle, gen.mel)
        timings["vocode"] = (time.perf_counter() - t0) * 1000
        return plan, gen, audio, timings, reserved

    def _learn_costs(self, plan: Plan, gen: Generated, tail_s: float) -> None:
        """Update what a deadline reserves for decoding and the tail (vocode, write) after optimising."""
        decode_s = sum(w["decode_s"] for w in gen.windows) / len(plan.starts)
        self._costs.learn(plan.spec, decode_s, tail_s, plan.seconds)

    def _deliver(self, plan: Plan, gen: Generated, audio: np.ndarray, timings: dict[str, float], reserved: float,
                 began: float, out_prefix: str | None, report: Progress) -> JobResult:
        """Write the WAV and the sidecar (losses, seeds, timings; measurement pending)."""
        spec, mel = plan.spec, plan.mel
        report("write", 0, 1, math.nan)
        t0 = time.perf_counter()
        sr_out = spec.sample_rate_out or mel.sample_rate
        wav = Path(out_prefix + ".wav") if out_prefix else safe_output_path(self.output_dir, spec.name, ".wav")
        write_wav(wav, resample(audio, mel.sample_rate, sr_out), sr_out)
        timings["write"] = (time.perf_counter() - t0) * 1000
        summary = {
            "spec": spec.to_dict(), "seed": spec.seed, "model": spec.model, "method": spec.method,
            "student": spec.student if plan.method.chain is None else None, "device": self.device,
            "backend": self.context.backends.name, "steps": plan.steps, "lr": plan.lr,
            "decode_steps": plan.decode_steps,
            "frames": plan.frames,
            "windows": len(plan.starts), "ito": gen.windows, "targets": [{"type": t.kind, **t.info} for t in plan.targets],
            "loss": clip_losses(plan, gen), "metrics": {}, "measurement": "pending" if self._measurer.settings.measure else "off",
            "timings_ms": rounded(timings), "untrained": spec.model in UNTRAINED_PRESETS,
            "wav": str(wav), "sample_rate": sr_out, "seconds": round(plan.seconds, 4),
        }
        if self.threads is not None:
            summary["cpu"] = self.threads.to_dict()
        if spec.deadline_s:
            elapsed = time.perf_counter() - began
            summary["deadline"] = {"budget_s": spec.deadline_s, "reserved_s": round(reserved, 4),
                                   "elapsed_s": round(elapsed, 4), "met": elapsed <= spec.deadline_s}
        write_json(wav.with_suffix(".json"), summary)
        return JobResult(wav, summary)

    # -- warm-up -------------------------------------------------------------------------------------------
    def warm(self, model: str | None = None) -> dict[str, float]:
        """Load ``model`` (default: ``warm_model``), prepare the backend on a short job of a window's shape,
        and compile the measurement code (librosa's numba kernels), so that a fresh server's first job costs
        what its later ones do. -> seconds per stage"""
        took: dict[str, float] = {}
        t0 = time.perf_counter()
        model = self.warm_model if model is None else model
        try:
            if not model:
                return took
            self.bundle(model)
            took["load_s"] = time.perf_counter() - t0
            job = {"model": model, "steps": 2, "name": "warm", "controls": [
                {"type": "intensity", "shape": "crescendo"}, {"type": "structure", "form": "AB"},
                {"type": "melody", "notes": [[60, 0, 1], [64, 1, 1]]}]}
            spec = parse_job(job)
            t1 = time.perf_counter()
            plan, gen, audio, _, _ = self.engine.run(lambda cancelled: self._generate(spec, lambda *a: None,
                                                                                      cancelled, t1))
            took["engine_s"] = time.perf_counter() - t1
            t2 = time.perf_counter()
            if self._measurer.settings.measure:
                measure_controls(plan.targets, audio, plan.front)
            took["measure_s"] = time.perf_counter() - t2
            log.info("warm: %s", {k: round(v, 2) for k, v in took.items()})
            return took
        finally:
            self.ready.set()

    def _text_model(self, b: Bundle) -> TextAudio:
        if self.laion_clap:
            if self._laion is None:
                from ditto_live.generation.laion import load_laion_clap

                self._laion = load_laion_clap(self.laion_clap, b.mel_to_wav, b.mel_config.sample_rate, self.device)
            return self._laion
        if b.clap is None:
            raise JobSpecError("the text control needs a text-audio model; this model bundle has none")
        from ditto_live.generation.text_encoder import default_encoder

        return TextModel(b.clap, self.sentence_encoder or default_encoder())

