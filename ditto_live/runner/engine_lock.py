"""The engine as one resource: jobs take turns, deadline (priority) jobs first.

Two jobs at once would each run at half speed on a small CPU, and the live stream would fall behind;
so one job holds the engine at a time, a job with a deadline (a stream window) goes first, and a job
without one steps aside between optimisation steps while a deadline job waits.

The engine's work runs on a thread of its own that ends with it, and a job that steps aside ends its OpenMP
team first, so that the process keeps one team (why: :meth:`EngineLock.run`).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar, cast

from ditto_live.engine.ito import JobCancelled
from ditto_live.runner.cpu import release_openmp_team

T = TypeVar("T")


class _Outcome(Generic[T]):
    """What a thread's work returned or raised, for the thread that waits on it."""

    def __init__(self) -> None:
        self.value: T | None = None
        self.error: BaseException | None = None


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
        self._released_at = -math.inf  # time.monotonic() of the last release
        self._priority_at = -math.inf  # time.monotonic() of the last priority holder's release (or now, held)
        self.yields = 0  # times a plain holder stepped aside (tests and logs)

    @contextlib.contextmanager
    def hold(self, priority: bool = False, is_cancelled: Callable[[], bool] | None = None) -> Iterator[None]:
        self.acquire(priority, is_cancelled)
        try:
            yield
        finally:
            self.release()

    def run(self, work: Callable[[Callable[[], bool]], T], priority: bool = False,
            is_cancelled: Callable[[], bool] | None = None, name: str = "ditto-engine") -> T:
        """Hold the engine and run ``work(cancelled)`` on a new thread that ends with it; the caller waits.
        -> its value (what it raises is raised here). ``cancelled`` is the check the work makes between steps:
        ``is_cancelled``, or the caller was interrupted (Ctrl-C), in which case the work stops at its next
        check and the interrupt is raised once its thread has ended (torch torn down beneath a running
        thread aborts the process).

        Why a thread of its own: OpenMP gives every thread that runs a parallel region a team of helper
        threads for the rest of that thread's life, and libgomp stops spin-waiting in every team once the
        process's OpenMP threads outnumber its cores, so that each team sleeps and wakes at each of a step's
        thousands of parallel regions. A second long-lived thread that had run the engine (the server's job
        worker, beside the stream's producer) therefore halved the speed of the other: a stream window took
        3.3 s after one job had run on the worker, 1.7-2.0 s before (2-core Xeon, two threads; docs/bench.md).
        A thread per hold takes its team with it, and the engine's team is the process's only one."""
        outcome: _Outcome[T] = _Outcome()
        interrupted = threading.Event()
        ended = threading.Event()  # not Thread.join: one interrupted can leave the thread reported as ended

        def cancelled() -> bool:
            return interrupted.is_set() or (is_cancelled is not None and is_cancelled())

        def held() -> None:
            try:
                with self.hold(priority, cancelled):
                    outcome.value = work(cancelled)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller, which raises it
                outcome.error = exc
            finally:
                ended.set()

        thread = threading.Thread(target=held, name=name, daemon=True)
        try:
            thread.start()
            ended.wait()
        except BaseException:  # the caller was interrupted: stop the work, let its thread end, then raise
            interrupted.set()
            while thread.ident is not None and not ended.is_set():
                try:
                    ended.wait()
                except BaseException:  # noqa: BLE001 - a second interrupt waits for the same end
                    continue
            raise
        thread.join()  # it has ended its work; its OpenMP team ends with it, before the next hold makes one
        if outcome.error is not None:
            raise outcome.error
        return cast(T, outcome.value)  # the work returned (it ended without an error)

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
            if self._holder_priority:
                self._priority_at = time.monotonic()
            self._holder, self._holder_priority = None, False
            self._released_at = time.monotonic()
            self._cond.notify_all()

    def priority_within(self, seconds: float) -> bool:
        """Whether a priority holder (a stream window) holds the engine, waits for it or released it less than
        ``seconds`` ago: a live stream plays."""
        with self._cond:
            return (self._holder_priority or self._priority_waiting > 0
                    or time.monotonic() - self._priority_at < seconds)

    def wait_free(self, quiet_s: float = 0.0) -> None:
        """Block until no job holds the engine and none has for ``quiet_s`` seconds: background work of the
        same process (the measurement) runs between jobs only, since beside a job it would take turns with it
        on Python's GIL (a served structure job beside a busy core: 2.5 s alone, up to 7 s while the last job
        was measured). The quiet period keeps it out of the few milliseconds between jobs sent back to back:
        a stage begun there runs on beside the next job (2-core Xeon, idle, two threads: a melody job 2.62 s
        while the last one was measured, 1.79 s without measurement). While a job holds the engine the waiter
        sleeps until the release, without polling: a low-priority thread that wakes to take the GIL mid-job can
        be descheduled holding it, and the job waits for it."""
        with self._cond:
            while True:
                if self._holder is not None:
                    self._cond.wait()  # release() notifies
                    continue
                left = self._released_at + quiet_s - time.monotonic()
                if left <= 0:
                    return
                self._cond.wait(left)

    def yield_to_priority(self, is_cancelled: Callable[[], bool] | None = None) -> bool:
        """Called by the holder between steps: if it is a plain holder and a priority holder waits,
        hand over and take the engine back afterwards. -> whether it stepped aside. Its OpenMP team ends
        first, so that the priority holder's is the process's only one (:func:`release_openmp_team`)."""
        with self._cond:
            if self._holder != threading.get_ident() or self._holder_priority or not self._priority_waiting:
                return False
            self.yields += 1
        release_openmp_team()
        self.release()
        self.acquire(False, is_cancelled)
        return True
