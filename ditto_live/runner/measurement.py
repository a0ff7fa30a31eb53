"""Measurement after delivery: each control's adherence on the delivered audio, and the plot, on a
background thread of lower priority that rewrites the sidecar when it is done (DESIGN.md §7: deliver first).
Each of its stages (the output's metrics, the unoptimised output's, the plot) waits until no job has held the
engine for ``MEASURE_QUIET_S``: a thread of the same process shares the GIL with the job's thread, and measuring beside a job slowed
it by up to 2.8x (docs/bench.md); lowering the thread's CPU priority does not lower its share of the GIL.

:class:`BackgroundMeasurer` holds one worker thread; more than ``MAX_PENDING_MEASUREMENTS`` delivered jobs
waiting means the next is not measured (its sidecar says so). A measurement that fails never takes the
delivered job down: its sidecar records the failure.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from ditto_live.generation.pipeline import Generated, Plan, vocode
from ditto_live.judges.measure import measure_controls
from ditto_live.results import write_json
from ditto_live.runner.contract import JobResult
from ditto_live.runner.cpu import background_thread

log = logging.getLogger(__name__)

MEASURE_QUIET_S = 1.0  # a stage starts once no job has held the engine for this long (not between back-to-back jobs)
MAX_PENDING_MEASUREMENTS = 4  # more delivered jobs waiting to be measured: the next is not measured


@dataclass(frozen=True)
class MeasureSettings:
    measure: bool  # each control's adherence on the delivered audio
    baseline: bool  # also vocode and measure the unoptimised output
    plot: bool  # a PNG of the spectrogram with target vs achieved curves (not for deadline jobs)

    def wanted(self, plan: Plan) -> bool:
        """Whether a delivered job of ``plan`` has anything to measure or plot."""
        return (self.measure and bool(plan.targets)) or (self.plot and not plan.spec.deadline_s)


def rounded(timings: dict[str, float]) -> dict[str, float]:
    """Stage timings in ms, to 0.1 ms (what sidecars record)."""
    return {k: round(v, 1) for k, v in timings.items()}


class BackgroundMeasurer:
    """Measures delivered jobs one at a time on a thread of idle priority and one torch thread (started on first
    use: ``background_thread``), each stage once ``wait_for_engine`` returns (the runner's: when no job holds
    the engine)."""

    def __init__(self, settings: MeasureSettings, wait_for_engine: Callable[[], None] = lambda: None) -> None:
        self.settings = settings
        self.wait_for_engine = wait_for_engine  # blocks while a job runs
        self._executor: ThreadPoolExecutor | None = None
        self._pending = 0  # measurements submitted and not finished
        self._lock = threading.Lock()

    def submit(self, plan: Plan, gen: Generated, audio: np.ndarray, result: JobResult) -> Future[None] | None:
        """Queue the measurement of a delivered job (audio [n]); None when too many are waiting."""
        with self._lock:
            if self._pending >= MAX_PENDING_MEASUREMENTS:
                result.summary["measurement"] = "skipped (too many jobs waiting to be measured)"
                write_json(result.wav_path.with_suffix(".json"), result.summary)
                return None
            self._pending += 1
        return self.executor().submit(self._measure, plan, gen, audio, result)

    def executor(self) -> ThreadPoolExecutor:
        """The measurement's one thread, started on first use."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, "ditto-measure", initializer=background_thread)
            return self._executor

    def _measure(self, plan: Plan, gen: Generated, audio: np.ndarray, result: JobResult) -> None:
        """Measure each control on the delivered audio (and the unoptimised one), plot, rewrite the sidecar."""
        try:
            summary = dict(result.summary)
            timings = dict(summary["timings_ms"])
            metrics, took = self._metrics(plan, gen, audio)
            timings.update(took)
            if self.settings.plot and not plan.spec.deadline_s:
                self.wait_for_engine()
                t1 = time.perf_counter()
                summary["png"] = self._plot(plan, gen, audio, result)
                timings["plot"] = (time.perf_counter() - t1) * 1000
            summary.update(metrics=metrics, measurement="done", timings_ms=rounded(timings))
            write_json(result.wav_path.with_suffix(".json"), summary)
            result.summary = summary
        except Exception as exc:  # a measurement never takes the delivered job down with it
            log.exception("measuring %s failed", result.wav_path)
            result.summary = dict(result.summary, measurement=f"failed: {type(exc).__name__}: {exc}")
            write_json(result.wav_path.with_suffix(".json"), result.summary)
        finally:
            with self._lock:
                self._pending -= 1

    def _metrics(self, plan: Plan, gen: Generated, audio: np.ndarray) -> tuple[dict[str, Any], dict[str, float]]:
        """-> ({"output": ..., "unoptimised": ...} per control, {"measure": ms}) ({} when not measuring)."""
        if not (self.settings.measure and plan.targets):
            return {}, {}
        took = 0.0

        def measure(a: Callable[[], np.ndarray]) -> dict[str, float]:
            nonlocal took
            self.wait_for_engine()
            t0 = time.perf_counter()
            measured = measure_controls(plan.targets, a(), plan.front, plan.text_model)
            took += time.perf_counter() - t0
            return measured

        metrics: dict[str, Any] = {"output": measure(lambda: audio)}
        if self.settings.baseline and gen.unoptimised is not None and plan.steps > 0:
            unoptimised = gen.unoptimised
            metrics["unoptimised"] = measure(lambda: vocode(plan.bundle, unoptimised))
        return metrics, {"measure": took * 1000}

    @staticmethod
    def _plot(plan: Plan, gen: Generated, audio: np.ndarray, result: JobResult) -> str:
        """The result's PNG beside its WAV -> its path."""
        from ditto_live.judges.plots import plot_result

        spec = plan.spec
        png = result.wav_path.with_suffix(".png")
        plot_result(png, gen.mel[0].cpu().numpy(), audio, plan.front, plan.targets,
                    title=f"{spec.method} {spec.model} seed {spec.seed}")
        return str(png)
