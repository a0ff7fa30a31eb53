"""The runner's contract: what the server, its job queue and the live stream may ask of a job runner.

``Runner`` is written here once; :class:`ditto_live.runner.jobs.JobRunner` (the engine) and
:class:`ditto_live.runner.fake.FakeRunner` (in memory, for tests and ``serve --fake``) implement it. The
stream needs only the window half (:class:`WindowSource`). The types a runner hands back live here too:
``JobResult`` (a written WAV and its summary), ``Window`` (one in-memory stream window) and ``Progress``.
Torch- and numpy-free at import: the server and the CLI import this without the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # annotations only: the CLI imports this module and must not wait for numpy
    from concurrent.futures import Future

    import numpy as np

    from ditto_live.generation.jobspec import JobSpec

Progress = Callable[[str, int, int, float], None]  # (stage, step, total, loss)
IsCancelled = Callable[[], bool]  # asked between steps; True stops the job with JobCancelled


@dataclass
class JobResult:
    """A delivered job: its WAV exists; the measurement may still follow (``wait``)."""

    wav_path: Path  # the written WAV (under the output folder)
    summary: dict[str, Any]  # JSON-able; what the sidecar holds (updated when the measurement lands)
    measured: Future[None] | None = field(default=None, repr=False)  # the measurement after delivery

    def wait(self, timeout: float | None = None) -> dict[str, Any]:
        """Wait for the measurement (if any) and return the final summary."""
        if self.measured is not None:
            self.measured.result(timeout)
        return self.summary


@dataclass
class Window:
    """One stream window from a runner (``runner.window(spec, opening, overlap_s, is_cancelled)``)."""

    audio: np.ndarray  # [n] the window's audio, its opening overlap included
    sample_rate: int  # its rate (the model's)
    tail: object  # what the next window opens with, opaque to the stream (the engine: the last mel frames)
    summary: dict[str, Any] = field(default_factory=dict)  # steps run, losses, timings


class WindowSource(Protocol):
    """What the live stream asks of a runner: in-memory windows of a model's format."""

    def model_format(self, name: str = "default") -> tuple[int, float]:
        """(sample rate, seconds of one model window) of a model: what a stream of its windows plays."""
        ...

    def window(self, spec: JobSpec, opening: object | None, overlap_s: float, is_cancelled: IsCancelled) -> Window:
        """One window that opens with ``opening`` (the last window's ``Window.tail``; None for the first)
        and hands out its own tail of ``overlap_s`` seconds; raises ``JobCancelled`` when cancelled."""
        ...


class Runner(WindowSource, Protocol):
    """Runs jobs to WAVs for the server (``run``), warms up before the first (``warm``), describes itself
    in the status reply (``device``, ``description``) and feeds the stream (``WindowSource``)."""

    device: str  # where jobs run ("cpu", "cuda", ...)

    @property
    def description(self) -> dict[str, str]:
        """Fields this runner adds to the server's status JSON (may be empty)."""
        ...

    def run(self, spec: JobSpec, progress: Progress, is_cancelled: IsCancelled) -> JobResult:
        """Run one job to a WAV and its sidecar; raises on failure (``JobCancelled`` once ``is_cancelled()``)."""
        ...

    def warm(self) -> object:
        """Load and prepare what the first job needs, so that it costs what later ones do (may do nothing)."""
        ...
