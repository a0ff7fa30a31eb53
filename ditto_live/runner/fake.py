"""The in-memory fake runner, for tests and for trying the protocol without a model (``serve --fake``).

:class:`FakeRunner` implements :class:`ditto_live.runner.contract.Runner` with no engine: each job takes
``steps`` sleeps of ``step_s``, honours cancellation every step and writes a real small WAV (a tone whose
loudness follows the seed, so results differ); stream windows are the same tone, in memory.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from ditto_live.engine.cancel import JobCancelled  # torch-free
from ditto_live.generation.jobspec import JobSpec
from ditto_live.results import write_result
from ditto_live.runner.contract import IsCancelled, JobResult, Progress, Window


def _tone(seed: int, seconds: float, sample_rate: int) -> np.ndarray:
    """A 440 Hz tone whose level follows ``seed`` -> [seconds * sample_rate] float64."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (0.1 + 0.4 * ((seed % 7) / 6)) * np.sin(2 * np.pi * 440.0 * t)


class FakeRunner:
    """A model-free runner: ``steps`` sleeps of ``step_s``, cancellable every step, then a real WAV.

    ``failures`` maps a job ``name`` to the exception that job raises mid-run (tests of the error path).
    """

    def __init__(self, output_dir: str | Path, steps: int = 5, step_s: float = 0.01, seconds: float = 0.25,
                 sample_rate: int = 22050, failures: dict[str, BaseException] | None = None) -> None:
        self.output_dir = Path(output_dir)  # where results go
        self.steps = steps  # optimisation steps each job pretends to take
        self.step_s = step_s  # sleep per step
        self.seconds = seconds  # length of the WAV written
        self.sample_rate = sample_rate  # its rate
        self.failures = dict(failures or {})  # job name -> exception raised at the middle step
        self.running = threading.Event()  # set while a job runs (tests wait on it)
        self.steps_run: dict[str, int] = {}  # job name -> steps executed by the last job of that name
        self.device = "cpu"  # where the fake "runs"

    @property
    def description(self) -> dict[str, str]:
        return {"model": "fake", "device": self.device}

    def warm(self) -> dict[str, float]:
        """Nothing to load: ready at once."""
        return {}

    def run(self, spec: JobSpec, progress: Progress, is_cancelled: IsCancelled) -> JobResult:
        t0 = time.perf_counter()
        self.running.set()
        try:
            progress("parse", 1, 1, 0.0)
            loss = 1.0
            self.steps_run[spec.name] = 0
            for step in range(self.steps):
                if is_cancelled():
                    raise JobCancelled(f"cancelled at step {step}")
                if step == self.steps // 2 and spec.name in self.failures:
                    raise self.failures[spec.name]
                time.sleep(self.step_s)
                self.steps_run[spec.name] = step + 1
                loss *= 0.8
                progress("optimise", step + 1, self.steps, loss)
            progress("write", 1, 1, loss)
            tone = _tone(spec.seed, self.seconds, self.sample_rate)
            audio = tone * np.linspace(0.2, 1.0, tone.size)
            elapsed = time.perf_counter() - t0
            wav, meta = write_result(self.output_dir, spec.name, audio, self.sample_rate,
                                     {"job": spec.to_dict(), "runner": "fake", "loss": loss,
                                      "timings": {"total_s": elapsed}})
            return JobResult(wav, {"seed": spec.seed, "steps": self.steps, "loss": loss,
                                   "timings": {"total_s": round(elapsed, 4)}, "sidecar": str(meta)})
        finally:
            self.running.clear()

    def model_format(self, name: str = "default") -> tuple[int, float]:
        """(sample rate, seconds of a window) of the stream's windows."""
        return self.sample_rate, self.seconds

    def window(self, spec: JobSpec, opening: object | None, overlap_s: float, is_cancelled: IsCancelled) -> Window:
        """A stream window in memory: the tone of ``run``, cancellable every step (ditto_live/server/stream.py)."""
        steps = 0
        for steps in range(self.steps):
            if is_cancelled():
                raise JobCancelled(f"cancelled at step {steps}")
            time.sleep(self.step_s)
        audio = _tone(spec.seed, self.seconds, self.sample_rate).astype(np.float32)
        return Window(audio, self.sample_rate, None, {"ito": [{"steps_run": steps + 1 if self.steps else 0}]})
