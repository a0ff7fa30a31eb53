"""Continuous generation: chained outpainting into the audio output, faster than real time.

Each window continues the previous one under the live controls in force when it starts
(DESIGN.md §7): ``generate_window(spec, previous_window) -> window`` is injected (the server passes
:class:`RunnerWindows`, which chains the job runner's windows in memory; tests pass a fake). A producer thread generates window after window and
writes them into the output's ring buffer, which the sound card drains; when the generator falls
behind, the card plays silence and the underrun is counted and reported, not hidden.

Window splice. With ``overlap_seconds = o`` the first o seconds of every window after the first
re-generate the last o seconds of the previous window (the outpainting reference). Only the new
part is queued, except for a short equal-gain crossfade: the last ``crossfade`` samples of each
window are held back and faded into the matching samples of the next window, hiding any seam.

Buffering. The producer starts the next window as soon as the last one is queued, so the buffer is
full when a window starts generating: playback survives if one window takes less time to generate
than the buffer holds (``[audio] buffer_seconds``), and keeps up if windows are generated faster than
real time on average. The output starts when the first window is ready: nothing plays (and no
callback can run late) while the first window is made from cold, and underruns count from then.

Deadline. With ``budget_fraction`` f > 0 every window is a job with a deadline (``JobSpec.deadline_s``):
f times the audio it must replace before playback runs dry -- the new audio it adds, or what the
buffer holds when it starts if that is less (the first window: its new audio). The runner stops the
optimisation early to meet it (keeping its best x_T), so a window never takes longer to make than
it lasts, whatever K the spec asks for. Each window's generation time, new audio, budget and steps
run are logged (``window_log``) and summarised in ``stats()`` beside the underruns.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import numpy as np

from ditto_live.generation.jobspec import ControlSpec, JobSpec, clip_seconds, parse_job
from ditto_live.protocol import LIVE_CONTROLS
from ditto_live.runner.contract import WindowSource

log = logging.getLogger(__name__)

GenerateWindow = Callable[[JobSpec, "np.ndarray | None"], np.ndarray]  # (spec, previous [n]) -> [m]
STOPPED, RUNNING = "stopped", "running"
JOIN_TIMEOUT_S = 10.0  # how long stop() waits for a window in flight that cannot be cancelled
MIN_BUDGET_S = 0.05  # a window's smallest deadline (0 would mean none)
WINDOW_LOG = 512  # windows kept in window_log


def runway(new_audio_s: float, buffered_s: float | None) -> float:
    """Seconds a window has before playback runs dry: its new audio, or what is buffered when it starts
    if that is less (None: nothing plays yet)."""
    return new_audio_s if buffered_s is None else min(new_audio_s, buffered_s)


def window_budget(fraction: float, new_audio_s: float, buffered_s: float | None) -> float:
    """A window's deadline: ``fraction`` of its :func:`runway`."""
    return max(MIN_BUDGET_S, fraction * runway(new_audio_s, buffered_s))


# -- live controls -> the next window's spec -----------------------------------------------------------
def apply_live_controls(spec: JobSpec, controls: Mapping[str, float], index: int) -> JobSpec:
    """The spec of window ``index``: ``spec`` with the live controls in force.

    ``bpm`` and ``cfg`` replace the spec's; ``seed`` (live, else the spec's) is offset by the window
    index so windows differ but a run is reproducible; ``intensity`` (dB) replaces any intensity
    control with a flat target at that level, keeping its weight.
    """
    changes: dict[str, Any] = {"seed": int(controls.get("seed", spec.seed)) + index}
    if "bpm" in controls and 0 < controls["bpm"] <= 400:
        changes["bpm"] = float(controls["bpm"])
    if "cfg" in controls:
        changes["cfg"] = float(controls["cfg"])
    if "intensity" in controls:
        db = float(controls["intensity"])
        weight = next((c.weight for c in spec.controls if c.type == "intensity"), 1.0)
        flat = ControlSpec("intensity", weight, {"shape": "flat", "low_db": db, "high_db": db})
        changes["controls"] = tuple(c for c in spec.controls if c.type != "intensity") + (flat,)
    return dataclasses.replace(spec, **changes)


# -- splicing -----------------------------------------------------------------------------------------
def linear_crossfade(tail: np.ndarray, head: np.ndarray) -> np.ndarray:
    """Fade ``tail`` out and ``head`` in over their common length ([n] each -> [n]).

    Equal-gain (the gains sum to 1): the overlap of an outpainted window is meant to match the
    previous window's end, so the two are correlated and equal-gain keeps the level constant.
    """
    ramp = (np.arange(len(tail), dtype=np.float32) + 0.5) / max(len(tail), 1)
    return tail * (1.0 - ramp) + head * ramp


class Splicer:
    """Turns successive windows into one continuous signal (see the module doc).

    ``push(window) -> samples ready to play``; the last ``crossfade`` samples stay held back.
    """

    def __init__(self, overlap: int, crossfade: int):
        if crossfade > overlap:
            raise ValueError(f"crossfade ({crossfade}) must not exceed the overlap ({overlap})")
        self.overlap = overlap  # samples of each window (after the first) that repeat the previous end
        self.crossfade = crossfade  # samples faded across each seam
        self._held: np.ndarray | None = None  # [crossfade] end of the previous window

    def push(self, window: np.ndarray) -> np.ndarray:
        w = np.asarray(window, dtype=np.float32).reshape(-1)  # [m]
        if self._held is None:
            body = w
        else:
            if len(w) <= self.overlap + self.crossfade:
                raise ValueError(f"window of {len(w)} samples is not longer than overlap + crossfade")
            seam = linear_crossfade(self._held, w[self.overlap - self.crossfade:self.overlap])
            body = np.concatenate([seam, w[self.overlap:]])
        if self.crossfade:
            self._held = body[-self.crossfade:].copy()
            return body[:-self.crossfade]
        self._held = body[:0]
        return body


class _Resampler:
    """Model rate -> device rate, continuous across windows (soxr's streaming resampler)."""

    def __init__(self, rate_in: int, rate_out: int):
        self._stream = None
        if rate_in != rate_out:
            import soxr  # a librosa dependency

            self._stream = soxr.ResampleStream(rate_in, rate_out, 1, dtype="float32", quality="HQ")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x if self._stream is None else self._stream.resample_chunk(x, last=False)


# -- the stream ----------------------------------------------------------------------------------------
class Stream:
    """Continuous mode: chained outpainting into an audio output (``AudioOut``; tests use an in-memory one).

    ``start(spec)`` / ``stop()`` / ``state() -> (state, underruns)`` back the server's
    ``/ditto/stream/start|stop`` and ``/ditto/stream/state``. ``live_controls`` is read before every
    window (the server's dict; the MIDI bridge and ``/ditto/control/set`` write it).
    """

    def __init__(self, generate_window: GenerateWindow, audio_out: Any,
                 live_controls: Mapping[str, float] | None = None, model_rate: int = 22050,
                 overlap_seconds: float = 0.0, crossfade_seconds: float = 0.02,
                 on_state: Callable[[str, int], None] | None = None, budget_fraction: float = 0.0,
                 model_window_s: float = 512 * 256 / 22050):
        self.generate_window = generate_window
        self.audio_out = audio_out  # has .ring, .sample_rate, .start(), .stop(), .underruns, .write()
        self.live_controls: Mapping[str, float] = {} if live_controls is None else live_controls
        self.model_rate = model_rate  # sample rate of the generated windows
        self.model_window_s = model_window_s  # one model window: the length of a spec that gives none
        self.overlap = int(round(overlap_seconds * model_rate))  # samples re-generated per window
        self.crossfade = min(int(round(crossfade_seconds * model_rate)), self.overlap)
        self.on_state = on_state  # called (state, underruns) when the stream starts or stops
        self.budget_fraction = budget_fraction  # window deadline = this x the audio it must cover; 0 = none
        self.window_log: list[dict[str, Any]] = []  # per window: generate_s, audio_s, budget_s, steps_run, ...
        self.windows = 0  # windows generated in the current run
        self.generate_seconds: list[float] = []  # generation time of each window, this run
        self.window_seconds: list[float] = []  # new audio each window added, this run
        self.last_error: str | None = None  # why the last run ended, when it failed
        self._state = STOPPED
        self._underruns_at_stop = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._audio_lock = threading.Lock()  # the producer starts the output, _halt stops it
        self._audio_started = False  # the output of this run has started (its counters are this run's)

    # -- control -------------------------------------------------------------------------------------
    def start(self, spec: JobSpec | Mapping[str, Any] | None = None) -> None:
        """Start (or restart) continuous generation from ``spec`` (a JobSpec or a job dict)."""
        spec = spec if isinstance(spec, JobSpec) else parse_job(dict(spec or {}))
        with self._lock:
            self._halt()
            self.audio_out.ring.clear()
            self.windows, self.generate_seconds, self.window_seconds, self.window_log = 0, [], [], []
            self.last_error = None
            self._stop = threading.Event()
            self._state = RUNNING  # the output starts with the first window (see _produce)
            self._audio_started = False
            self._thread = threading.Thread(target=self._produce, args=(spec, self._stop),
                                            name="ditto-stream", daemon=True)
            self._thread.start()
        log.info("stream started: %s", spec.name)
        self._notify()

    def stop(self) -> None:
        """Stop generating and playing; ``state()`` keeps this run's underrun count."""
        with self._lock:
            was_running = self._state == RUNNING
            self._halt()
        if was_running:
            self._notify()

    def set_control(self, name: str, value: float) -> None:
        """Set a live control (the server calls this on ``/ditto/control/set``); the next window uses it."""
        if name not in LIVE_CONTROLS:
            raise ValueError(f"unknown live control {name!r}; expected one of {', '.join(LIVE_CONTROLS)}")
        if not isinstance(self.live_controls, MutableMapping):
            raise TypeError("this stream's live controls are read-only")
        self.live_controls[name] = float(value)

    def state(self) -> tuple[str, int]:
        """(``"running"`` | ``"stopped"``, underruns in the current or last run)."""
        if self._state == RUNNING:
            return RUNNING, int(self.audio_out.underruns) if self._audio_started else 0
        return STOPPED, self._underruns_at_stop

    def stats(self) -> dict[str, Any]:
        """Counters for status replies and benchmarks: underruns beside per-window generation time vs
        the audio each window added (``late``: windows that took longer than the audio they covered)."""
        gen, new = sum(self.generate_seconds), sum(self.window_seconds)
        ring = self.audio_out.ring
        rate = self.audio_out.sample_rate
        state, underruns = self.state()
        log_ = list(self.window_log)
        steps = [w["steps_run"] for w in log_ if w.get("steps_run") is not None]
        return {"state": state, "underruns": underruns, "windows": self.windows,
                "ring_underruns": ring.underruns, "silence_s": ring.underrun_frames / rate,
                "device_underflows": getattr(self.audio_out, "device_underflows", 0) if self._audio_started else 0,
                "real_time_factor": gen / new if new else None, "buffered_s": ring.available() / rate,
                "frames_played": ring.frames_read, "budget_fraction": self.budget_fraction,
                "generate_s_max": max(self.generate_seconds[1:], default=None),  # the first window starts cold
                "window_audio_s": new / len(self.window_seconds) if self.window_seconds else None,
                "late_windows": sum(1 for w in log_[1:] if w["late"]),
                "steps_run_min": min(steps, default=None), "steps_run_mean": sum(steps) / len(steps) if steps else None,
                "last_window": log_[-1] if log_ else None, "last_error": self.last_error}

    def _halt(self) -> None:
        """Stop the producer and the output (caller holds the lock)."""
        self._stop.set()
        cancel = getattr(self.generate_window, "cancel", None)  # cut a window in flight short
        if cancel is not None and self._thread is not None:
            cancel()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=JOIN_TIMEOUT_S)
            if thread.is_alive():
                log.warning("stream generator still busy after %.0f s; it will exit when its window is done",
                            JOIN_TIMEOUT_S)
        if self._state == RUNNING:
            self._underruns_at_stop = int(self.audio_out.underruns) if self._audio_started else 0
            if self.window_seconds:
                log.info("stream stopped after %d windows: %d underruns, real-time factor %.2f, slowest window "
                         "%.2f s for %.2f s of audio", self.windows, self._underruns_at_stop,
                         sum(self.generate_seconds) / sum(self.window_seconds), max(self.generate_seconds),
                         sum(self.window_seconds) / len(self.window_seconds))
        self.audio_out.ring.disarm()
        with self._audio_lock:
            self.audio_out.stop()
        self._state = STOPPED

    def _notify(self) -> None:
        if self.on_state is not None:
            self.on_state(*self.state())

    # -- producer --------------------------------------------------------------------------------------
    def _produce(self, spec: JobSpec, stop: threading.Event) -> None:
        splicer = Splicer(self.overlap, self.crossfade)
        resample = _Resampler(self.model_rate, self.audio_out.sample_rate)
        previous: np.ndarray | None = None
        out_rate = self.audio_out.sample_rate
        try:
            while not stop.is_set():
                window_spec = apply_live_controls(spec, dict(self.live_controls), self.windows)
                armed = self.audio_out.ring.armed
                buffered = self.audio_out.ring.available() / out_rate if armed else None
                new_s = (clip_seconds(window_spec, self.model_window_s) if previous is None
                         else len(previous) / self.model_rate - self.overlap / self.model_rate)
                budget = window_budget(self.budget_fraction, new_s, buffered) if self.budget_fraction > 0 else None
                if budget is not None:
                    window_spec = dataclasses.replace(window_spec, deadline_s=round(budget, 4))
                t0 = time.perf_counter()
                window = np.asarray(self.generate_window(window_spec, previous), dtype=np.float32).reshape(-1)
                elapsed = time.perf_counter() - t0
                if stop.is_set():  # stopped (or restarted) while this window was generated
                    break
                if not np.isfinite(window).all():
                    raise ValueError(f"window {self.windows} holds NaN or inf")
                fresh = splicer.push(np.clip(window, -1.0, 1.0))
                previous = window
                summary = getattr(self.generate_window, "last_summary", None)
                self.windows += 1
                self.generate_seconds.append(elapsed)
                self.window_seconds.append(len(fresh) / self.model_rate)
                self.window_log.append({"window": self.windows - 1, "generate_s": round(elapsed, 4),
                                        "audio_s": round(len(fresh) / self.model_rate, 4),
                                        "buffered_s": None if buffered is None else round(buffered, 4),
                                        "budget_s": None if budget is None else round(budget, 4),
                                        "steps_run": _steps_run(summary), "steps": _steps_asked(summary),
                                        "threads": _threads(summary), "loss": _adherence(summary),
                                        "late": elapsed > runway(len(fresh) / self.model_rate, buffered)})
                del self.window_log[:-WINDOW_LOG]
                log.debug("window %d: %.2f s of audio in %.2f s", self.windows, len(fresh) / self.model_rate, elapsed)
                chunk = resample(fresh)
                if self.windows == 1:  # the output starts once audio is queued: no callbacks (none late)
                    chunk = chunk[self.audio_out.ring.write(chunk):]  # during the cold first window, and
                    with self._audio_lock:  # no silence ahead of it
                        if stop.is_set():
                            break
                        self.audio_out.start()
                        self._audio_started = True
                self.audio_out.write(chunk, should_stop=stop.is_set)
                if not self.audio_out.ring.armed and not stop.is_set():
                    self.audio_out.ring.arm()  # the first window is queued: from now on gaps count
        except Exception as exc:  # the generator failed: report it and stop cleanly
            if stop.is_set():  # cancelled by stop(): not an error
                return
            log.exception("stream stopped by an error")
            self.last_error = f"{type(exc).__name__}: {exc}"
            if not stop.is_set() and self._lock.acquire(timeout=5.0):
                try:
                    if self._stop is stop:
                        self._halt()
                finally:
                    self._lock.release()
            self._notify()


def _steps_run(summary: Mapping[str, Any] | None) -> int | None:
    """Optimisation steps a job's summary reports (all its windows), None when it does not say."""
    ito = (summary or {}).get("ito")
    return sum(int(w.get("steps_run", 0)) for w in ito) if isinstance(ito, list) else None


def _steps_asked(summary: Mapping[str, Any] | None) -> int | None:
    """The K the window's spec asked for (``steps_run`` falls short of it when the deadline stops ITO)."""
    steps = (summary or {}).get("steps")
    return int(steps) if isinstance(steps, int) else None


def _threads(summary: Mapping[str, Any] | None) -> int | None:
    """The torch threads the window ran on (the server's choice, ``summary["cpu"]``)."""
    cpu = (summary or {}).get("cpu")
    return int(cpu["threads"]) if isinstance(cpu, dict) and "threads" in cpu else None


def _adherence(summary: Mapping[str, Any] | None) -> dict[str, float] | None:
    """Each control's loss on the window's output (the job summary's ``loss[name]["after"]``)."""
    loss = (summary or {}).get("loss")
    return {k: v["after"] for k, v in loss.items()} if isinstance(loss, dict) else None


# -- the real generator: the job runner's windows, chained in memory ---------------------------------------
class RunnerWindows:
    """``generate_window`` backed by a job runner's in-memory windows (``JobRunner.window``): window k > 0
    opens with the last ``overlap_seconds`` of window k - 1 (the runner's own tail, no file), under the
    spec's other controls. ``cancel()`` (called by ``Stream.stop``) stops the window in flight at its next
    optimisation step.
    """

    def __init__(self, runner: WindowSource, overlap_seconds: float, model_rate: int):
        self.runner = runner
        self.overlap_seconds = overlap_seconds  # seconds of the previous window that open the next
        self.model_rate = model_rate  # sample rate the stream expects
        self.last_summary: dict[str, Any] | None = None  # the last window's summary (steps run, losses)
        self._tail: object | None = None  # the last window's tail (opaque: the runner's)
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def __call__(self, spec: JobSpec, previous: np.ndarray | None) -> np.ndarray:
        self._cancel.clear()
        opening = self._tail if previous is not None else None  # a new run starts fresh
        window = self.runner.window(dataclasses.replace(spec, sample_rate_out=0), opening, self.overlap_seconds,
                                    self._cancel.is_set)
        if window.sample_rate != self.model_rate:
            raise ValueError(f"runner returned {window.sample_rate} Hz audio; the stream expects {self.model_rate} Hz")
        self._tail, self.last_summary = window.tail, dict(window.summary)
        return np.asarray(window.audio, dtype=np.float32).reshape(-1)


def open_stream(runner: WindowSource, audio_out: Any, model: str = "default", live_controls: Mapping[str, float] | None = None,
                overlap_seconds: float = 1.0, on_state: Callable[[str, int], None] | None = None,
                budget_fraction: float = 0.0) -> Stream:
    """The server's stream: :class:`RunnerWindows` of ``runner`` into ``audio_out`` (an ``AudioOut``), at
    the rate and window length of ``model`` (``runner.model_format(model)``)."""
    rate, model_window_s = runner.model_format(model)
    windows = RunnerWindows(runner, overlap_seconds, rate)
    return Stream(windows, audio_out, live_controls, model_rate=rate, overlap_seconds=overlap_seconds,
                  on_state=on_state, budget_fraction=budget_fraction, model_window_s=model_window_s)
