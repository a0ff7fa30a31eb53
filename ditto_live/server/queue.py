"""The job queue: a bounded line of jobs feeding ONE worker thread (the engine is one resource).

The line is fair: each owner (client) may have at most ``max_per_owner`` jobs waiting, and the worker
takes the owners' jobs in turn (the owner served longest ago first), so one client submitting without
pause neither fills the queue (others' jobs are never ``busy`` because of it) nor delays another's job by
more than one of its own.

Every job submitted ends exactly once, through ``JobEvents.finished``: with a result, or with an
error code (``cancelled``, ``bad_request``, ``forbidden``, ``not_found``, ``failed``) and a readable
message. Whatever a runner raises becomes such an error; the worker keeps serving. Progress from
the runner is throttled per job before it reaches ``JobEvents.progress``.

The worker calls ``Runner.run`` (the contract: ``ditto_live/runner/contract.py``; the engine's
``JobRunner`` and the in-memory ``FakeRunner`` implement it).
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ditto_live.engine.cancel import JobCancelled  # torch-free
from ditto_live.errors import UsageError
from ditto_live.generation.jobspec import JobSpec
from ditto_live.results import PathForbidden, check_output_path
from ditto_live.runner.contract import JobResult, Runner

log = logging.getLogger(__name__)

MAX_OWNERS_REMEMBERED = 1024  # owners whose last turn is remembered (the longest ago forgotten first)


class QueueFull(Exception):
    """The queue holds ``size`` waiting jobs already, or this owner its share."""


class DuplicateJob(Exception):
    """A job with this id is queued or running."""


@dataclass(eq=False)
class Job:
    job_id: str  # the client's id, unique among its owner's active jobs
    spec: JobSpec  # the validated request
    reply_to: Any = None  # its owner: opaque routing data for the caller (the server keeps addresses here)
    submitted: float = field(default_factory=time.monotonic)  # when it was accepted
    started: float | None = None  # when the worker took it
    cancel: threading.Event = field(default_factory=threading.Event)  # set to stop it
    extra_reply_to: list[Any] = field(default_factory=list)  # others to tell the outcome (cancellers)
    ended: bool = False  # its one finished event has been sent
    token: str = field(default_factory=lambda: secrets.token_hex(8))  # lets a holder other than the submitter cancel


class JobEvents(Protocol):
    def progress(self, job: Job, stage: str, step: int, total: int, loss: float) -> None: ...

    def finished(self, job: Job, result: JobResult | None, code: str | None, message: str) -> None: ...


def classify_error(exc: BaseException) -> tuple[str, str]:
    """Protocol error code and a one-line message for anything a runner raised."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, JobCancelled):
        return "cancelled", "cancelled"
    if isinstance(exc, PathForbidden):
        return "forbidden", text
    if isinstance(exc, FileNotFoundError):
        return "not_found", text
    if isinstance(exc, UsageError):
        return "bad_request", text
    if isinstance(exc, ValueError):  # what the engine raises for input it cannot use (a stereo 96 kHz WAV ...)
        return "bad_request", f"{type(exc).__name__}: {text}"
    if isinstance(exc, MemoryError) or "out of memory" in text.lower():
        return "failed", f"out of memory: {text}"
    return "failed", f"{type(exc).__name__}: {text}"


class ProgressThrottle:
    """Lets one progress event through per ``interval_s`` (the first always passes)."""

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._last = -math.inf

    def ready(self) -> bool:
        now = self._clock()
        if now - self._last >= self.interval_s:
            self._last = now
            return True
        return False


class JobQueue:
    """A bounded FIFO of jobs and the single worker thread that runs them."""

    def __init__(self, runner: Runner, events: JobEvents, size: int, progress_interval_s: float,
                 output_dir: str | Path | None = None, history: int = 256, max_per_owner: int | None = None) -> None:
        self.runner = runner
        self.events = events
        self.size = size  # most jobs waiting (the running one not counted)
        self.max_per_owner = size if max_per_owner is None else max_per_owner  # most jobs one owner has waiting
        self.progress_interval_s = progress_interval_s
        self.output_dir = output_dir  # when set, a result outside it is refused
        self._history_size = history  # finished job states remembered for /ditto/job/status
        self._pending: deque[Job] = deque()
        self._running: Job | None = None
        self._served: dict[Any, int] = {}  # owner -> when the worker last took its job (a turn counter)
        self._turn = 0  # jobs taken so far
        self._history: OrderedDict[tuple[Any, str], str] = OrderedDict()  # (owner, job id) -> done | error
        self._cond = threading.Condition()
        self._stopping = False
        self._open = True  # the worker may take jobs (closed while the engine warms up)
        self._thread = threading.Thread(target=self._work, name="ditto-worker", daemon=True)

    # -- control, from any thread ---------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel every job (each still gets its terminal event) and join the worker."""
        with self._cond:
            self._stopping = True
            dropped = list(self._pending)
            self._pending.clear()
            if self._running is not None:
                self._running.cancel.set()
            self._cond.notify_all()
        for job in dropped:
            self._finish(job, None, "cancelled", "server shutting down")
        if self._thread.is_alive():
            self._thread.join(timeout)
        with self._cond:
            stuck = self._running
        if stuck is not None:  # a stage that does not check cancellation outlived the timeout
            log.warning("job %s still running after %.0f s; telling its client it is cancelled", stuck.job_id, timeout)
            self._finish(stuck, None, "cancelled", "server shutting down")

    def close_gate(self) -> None:
        """Hold jobs in the queue (accepted, not started) until :meth:`open_gate` (the engine warms up)."""
        with self._cond:
            self._open = False

    def open_gate(self) -> None:
        with self._cond:
            self._open = True
            self._cond.notify_all()

    def submit(self, job: Job, on_queued: Callable[[int], None] | None = None) -> int:
        """Queue a job; its position (0 = starts now). Raises QueueFull or DuplicateJob.

        ``on_queued(position)`` runs before the worker can see the job, so an "accepted" reply sent
        from it always precedes the job's progress and terminal replies."""
        with self._cond:
            if self._stopping:
                raise QueueFull("server shutting down")
            if self._find(job.job_id, job.reply_to) is not None:
                raise DuplicateJob(f"job {job.job_id!r} is already queued or running")
            if len(self._pending) >= self.size:
                raise QueueFull(f"queue full ({self.size} waiting)")
            if job.reply_to is not None and sum(j.reply_to == job.reply_to for j in self._pending) >= self.max_per_owner:
                raise QueueFull(f"this client has {self.max_per_owner} job(s) waiting already "
                                "(server.max_queued_per_client): the rest of the queue is for other clients")
            position = len(self._pending) + (1 if self._running is not None else 0)
            if on_queued is not None:
                on_queued(position)
            self._pending.append(job)
            self._cond.notify_all()
            return position

    def cancel(self, job_id: str, requester: Any = None, owner: Any = None) -> str | None:
        """Cancel ``owner``'s job: 'queued' (it ends now), 'running' (it ends within one step) or None
        (unknown). A ``requester`` other than the owner also hears the outcome."""
        with self._cond:
            job = self._find(job_id, owner)
            if job is None:
                return None
            if job is self._running:
                if requester is not None and requester != job.reply_to:
                    job.extra_reply_to.append(requester)
                job.cancel.set()
                return "running"
            self._pending.remove(job)
        if requester is not None and requester != job.reply_to:
            job.extra_reply_to.append(requester)
        self._finish(job, None, "cancelled", "cancelled while queued")
        return "queued"

    def _find(self, job_id: str, owner: Any) -> Job | None:
        """``owner``'s queued or running job with this id (call holding the lock)."""
        if self._running is not None and (self._running.job_id, self._running.reply_to) == (job_id, owner):
            return self._running
        return next((j for j in self._pending if (j.job_id, j.reply_to) == (job_id, owner)), None)

    def find(self, job_id: str, owner: Any = None) -> Job | None:
        """``owner``'s queued or running job with this id."""
        with self._cond:
            return self._find(job_id, owner)

    def find_any(self, job_id: str) -> list[Job]:
        """Every queued or running job with this id, whoever owns it."""
        with self._cond:
            jobs = [self._running] if self._running is not None else []
            return [j for j in jobs + list(self._pending) if j.job_id == job_id]

    def jobs_of(self, owner: Any) -> dict[str, Any]:
        """``owner``'s jobs: {"queued": [ids in order], "running": id or None}."""
        with self._cond:
            running = self._running if self._running is not None and self._running.reply_to == owner else None
            return {"queued": [j.job_id for j in self._pending if j.reply_to == owner],
                    "running": running.job_id if running is not None else None}

    def state(self, job_id: str, owner: Any = None) -> str:
        """queued | running | done | error | unknown, of ``owner``'s job with this id."""
        with self._cond:
            job = self._find(job_id, owner)
            if job is not None:
                return "running" if job is self._running else "queued"
            return self._history.get((owner, job_id), "unknown")

    def snapshot(self) -> dict[str, Any]:
        with self._cond:
            return {"queued": [j.job_id for j in self._pending],
                    "running": self._running.job_id if self._running else None, "queue_size": self.size}

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- the worker -------------------------------------------------------------------------------
    def _next(self) -> Job | None:
        with self._cond:
            while not (self._pending and self._open) and not self._stopping:
                self._cond.wait()
            if self._stopping:
                return None
            job = self._running = self._take_turn()
            job.started = time.monotonic()
            return job

    def _take_turn(self) -> Job:
        """The next job: the oldest of the owner whose job was taken longest ago (call holding the lock)."""
        job = min(self._pending, key=lambda j: self._served.get(j.reply_to, -1))
        self._pending.remove(job)
        self._turn += 1
        self._served[job.reply_to] = self._turn
        if len(self._served) > MAX_OWNERS_REMEMBERED:  # forget the owners served longest ago
            for owner in sorted(self._served, key=self._served.__getitem__)[: len(self._served) // 2]:
                del self._served[owner]
        return job

    def _work(self) -> None:
        while (job := self._next()) is not None:
            result, code, message = None, None, ""
            try:
                result = self._run(job)
            except Exception as exc:  # anything a job raises is that job's error, never the server's
                code, message = classify_error(exc)
                if job.cancel.is_set() and code != "cancelled":
                    code, message = "cancelled", f"cancelled ({message})"
                if code != "cancelled":
                    log.warning("job %s failed: %s", job.job_id, message, exc_info=code == "failed")
            with self._cond:
                self._running = None
            self._finish(job, result, code, message)

    def _run(self, job: Job) -> JobResult:
        throttle = ProgressThrottle(self.progress_interval_s)

        def progress(stage: str, step: int, total: int, loss: float) -> None:
            if throttle.ready():
                try:
                    self.events.progress(job, stage, int(step), int(total), float(loss))
                except Exception:  # a reply that cannot be sent must not fail the job
                    log.exception("progress event for %s failed", job.job_id)

        result = self.runner.run(job.spec, progress, job.cancel.is_set)
        if self.output_dir is not None:
            path = check_output_path(result.wav_path, self.output_dir)
            if not path.is_file():
                raise FileNotFoundError(f"the runner reported {path} but wrote no file there")
        return result

    def _finish(self, job: Job, result: JobResult | None, code: str | None, message: str) -> None:
        """Record the outcome and send the job's one finished event (later calls do nothing)."""
        with self._cond:
            if job.ended:
                return
            job.ended = True
            key = (job.reply_to, job.job_id)
            self._history[key] = "done" if code is None else "error"
            self._history.move_to_end(key)
            while len(self._history) > self._history_size:
                self._history.popitem(last=False)
        try:
            self.events.finished(job, result, code, message)
        except Exception:
            log.exception("finished event for %s failed", job.job_id)
