"""EngineLock: one holder at a time, its work on a thread of its own, and background work that waits for a quiet
engine."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

from ditto_live.engine.ito import JobCancelled
from ditto_live.runner.engine_lock import EngineLock


def test_wait_free_returns_at_once_on_an_engine_never_held():
    lock = EngineLock()
    t0 = time.monotonic()
    lock.wait_free(quiet_s=5.0)
    assert time.monotonic() - t0 < 0.5


def test_wait_free_waits_out_the_quiet_period_after_the_last_release():
    lock = EngineLock()
    with lock.hold():
        pass
    released = time.monotonic()
    lock.wait_free(quiet_s=0.3)
    assert time.monotonic() - released >= 0.3
    t0 = time.monotonic()
    lock.wait_free(quiet_s=0.0)  # no quiet asked: free is enough
    assert time.monotonic() - t0 < 0.1


def test_a_job_taking_the_engine_during_the_quiet_period_restarts_it():
    """Jobs sent back to back leave the engine free for milliseconds: the waiter must not slip in there."""
    lock = EngineLock()
    with lock.hold():
        pass
    second_released = threading.Event()
    ended: list[float] = []

    def second_job():
        time.sleep(0.1)  # inside the first job's quiet period
        with lock.hold():
            time.sleep(0.3)
            ended.append(time.monotonic())
        second_released.set()

    threading.Thread(target=second_job).start()
    lock.wait_free(quiet_s=1.0)  # long beside the 0.1 s before the second job: a slow thread start still fits
    returned = time.monotonic()
    assert second_released.wait(5)
    assert returned - ended[0] >= 1.0  # a quiet period after the second job's release, not the first's


def test_run_does_the_work_on_a_thread_of_its_own_that_holds_the_engine():
    lock = EngineLock()
    seen: dict[str, object] = {}

    def another_job_tries() -> None:
        try:
            lock.acquire(is_cancelled=lambda: True)  # gives up at once, but only while the engine is held
            seen["held"] = False
            lock.release()
        except JobCancelled:
            seen["held"] = True

    def work(cancelled) -> str:
        seen["thread"] = threading.get_ident()
        other = threading.Thread(target=another_job_tries)
        other.start()
        other.join()
        return "value"

    assert lock.run(work) == "value"
    assert seen["thread"] != threading.get_ident() and seen["held"] is True
    another_job_tries()  # released with the work
    assert seen["held"] is False


def test_run_raises_in_the_caller_what_the_work_raised():
    lock = EngineLock()

    def work(cancelled) -> None:
        raise ValueError("bad job")

    with pytest.raises(ValueError, match="bad job"):
        lock.run(work)
    with lock.hold():  # and the engine is free again
        pass


def test_run_is_cancelled_while_it_waits_for_the_engine():
    lock = EngineLock()
    lock.acquire()
    try:
        with pytest.raises(JobCancelled):
            lock.run(lambda cancelled: None, is_cancelled=lambda: True)
    finally:
        lock.release()


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGINT"),
                    reason="Ctrl-C reaches the main thread")
def test_an_interrupted_caller_stops_the_work_and_raises_once_its_thread_has_ended():
    """Ctrl-C during ``generate``: the job stops at its next check and the interrupt is raised only after the
    engine's thread has ended (an exit beneath a running torch thread aborts the process)."""
    lock = EngineLock()
    seen: dict[str, float] = {}

    def work(cancelled) -> None:
        give_up = time.monotonic() + 10
        while not cancelled() and time.monotonic() < give_up:
            time.sleep(0.01)
        seen["noticed"] = float(cancelled())
        time.sleep(0.2)  # the step in flight
        seen["ended"] = time.monotonic()

    ctrl_c = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))  # while the job runs
    ctrl_c.start()
    with pytest.raises(KeyboardInterrupt):
        lock.run(work, name="engine-under-test")
    ctrl_c.join()
    assert seen["noticed"] == 1.0 and time.monotonic() >= seen["ended"]
    with lock.hold():  # the engine is free again
        pass


def _threads_now() -> int:
    return len(os.listdir("/proc/self/task"))


def _threads_settle(expected: int, timeout_s: float = 3.0) -> int:
    """The process's thread count, once it is ``expected`` or ``timeout_s`` has passed (exits are asynchronous)."""
    end = time.monotonic() + timeout_s
    while _threads_now() != expected and time.monotonic() < end:
        time.sleep(0.02)
    return _threads_now()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts the process's threads in /proc")
def test_a_long_lived_caller_keeps_no_openmp_team_after_run():
    """The job worker and the stream's producer live on between jobs: an OpenMP team left in either makes libgomp
    stop spin-waiting in the engine's (two threads slower than one). The same work on the caller's own thread
    leaves a team behind, which is what this test would see without ``run``."""
    import torch

    def parallel_work(cancelled=None) -> None:
        torch.set_num_threads(2)
        x = torch.ones(4_000_000)
        for _ in range(5):
            x = x * 1.0001 + 0.5  # large enough for a parallel region

    lock = EngineLock()
    counts: dict[str, int] = {}

    def caller() -> None:  # a long-lived thread, as the server's job worker
        baseline = _threads_now()
        lock.run(parallel_work)
        counts["after run"] = _threads_settle(baseline) - baseline
        parallel_work()  # on the caller's own thread
        counts["after own work"] = _threads_now() - baseline

    worker = threading.Thread(target=caller)
    worker.start()
    worker.join()
    assert counts["after run"] == 0
    assert counts["after own work"] >= 1  # the team OpenMP keeps for the caller: what run spares it


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts the process's threads in /proc")
def test_a_plain_holder_stepping_aside_ends_its_openmp_team_so_the_window_runs_the_only_one():
    """A job that started before a stream keeps running between windows: its paused thread's team beside the
    window's would make libgomp stop spin-waiting in both (windows about twice as slow). Threads by id: other
    threads ending meanwhile do not count."""
    import torch

    lock = EngineLock()
    ready, done = threading.Event(), threading.Event()
    seen: dict[str, set[str]] = {}

    def parallel_region() -> set[str]:  # -> the threads it started
        before = _thread_ids()
        torch.ones(4_000_000) * 1.0001 + 0.5  # large enough for parallel regions
        return _thread_ids() - before

    def plain(cancelled) -> None:  # the job: a team of two, then steps until a window has come and gone
        torch.set_num_threads(2)
        seen["job's team"] = parallel_region()
        ready.set()
        while not lock.yield_to_priority():
            time.sleep(0.005)
        seen["job's team after the window"] = parallel_region()  # a new one
        done.wait(5.0)

    def window(cancelled) -> None:  # the window's own thread runs while the job's team ends
        end = time.monotonic() + 3.0
        while seen["job's team"] & _thread_ids() and time.monotonic() < end:
            time.sleep(0.02)
        seen["during the window"] = _thread_ids()

    job = threading.Thread(target=lambda: lock.run(plain))
    job.start()
    ready.wait(10.0)
    lock.run(window, priority=True)
    done.set()
    job.join()
    assert seen["job's team"] and not seen["job's team"] & seen["during the window"]
    assert seen["job's team after the window"]


def _thread_ids() -> set[str]:
    return set(os.listdir("/proc/self/task"))


def test_priority_within_says_whether_a_stream_window_holds_waits_or_released_lately():
    lock = EngineLock()
    with lock.hold():  # plain holders are not a stream
        assert not lock.priority_within(60.0)
    assert not lock.priority_within(60.0)
    with lock.hold(priority=True):
        assert lock.priority_within(0.0)
    assert lock.priority_within(60.0) and not lock.priority_within(0.0)
