"""EngineLock: one holder at a time, and background work that waits for a quiet engine."""

from __future__ import annotations

import threading
import time

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
