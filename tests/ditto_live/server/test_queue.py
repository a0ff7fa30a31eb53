"""The job queue on its own: error classification (including the engine's JobCancelled), progress
throttling, positions, and exactly one finished event per job."""

from __future__ import annotations

import threading

import pytest

from ditto_live.generation.jobspec import JobSpec, JobSpecError
from ditto_live.results import PathForbidden
from ditto_live.runner.fake import FakeRunner
from ditto_live.server.queue import Job, JobQueue, ProgressThrottle, QueueFull, classify_error


def test_the_engines_job_cancelled_is_classified_as_cancelled():
    from ditto_live.engine.ito import JobCancelled

    assert classify_error(JobCancelled("at step 3")) == ("cancelled", "cancelled")


@pytest.mark.parametrize(("exc", "code"), [
    (JobSpecError("job.steps: expected 0..2000"), "bad_request"), (PathForbidden("x"), "forbidden"),
    (FileNotFoundError("no such bundle"), "not_found"), (MemoryError(), "failed"),
    (RuntimeError("CUDA out of memory"), "failed"), (FloatingPointError("NaN"), "failed"),
    (KeyError("a bug"), "failed"), (ValueError("stereo WAV"), "bad_request"),
])
def test_classify_error_codes(exc, code):
    got, message = classify_error(exc)
    assert got == code and message


def test_progress_throttle_lets_one_event_through_per_interval():
    now = [0.0]
    throttle = ProgressThrottle(0.25, clock=lambda: now[0])
    passed = []
    for i in range(100):
        now[0] = i * 0.01  # 1 s of events every 10 ms
        passed.append(throttle.ready())
    assert sum(passed) == 4 and passed[0]


class Events:
    def __init__(self):
        self.finished_calls: list[tuple[str, str | None]] = []
        self.done = threading.Event()

    def progress(self, job, stage, step, total, loss):
        pass

    def finished(self, job, result, code, message):
        self.finished_calls.append((job.job_id, code))
        if len(self.finished_calls) == 3:
            self.done.set()


def test_positions_overflow_and_one_finished_event_per_job(tmp_path):
    events = Events()
    runner = FakeRunner(tmp_path, steps=10, step_s=0.01)
    q = JobQueue(runner, events, size=2, progress_interval_s=0.0, output_dir=tmp_path)
    positions = [q.submit(Job("a", JobSpec())), q.submit(Job("b", JobSpec()))]  # worker not started yet
    with pytest.raises(QueueFull):
        q.submit(Job("c", JobSpec()))
    q.start()
    assert runner.running.wait(2) and q.state("a") == "running"
    assert q.submit(Job("d", JobSpec())) == 2  # behind the running "a" and the waiting "b"
    assert events.done.wait(5)
    q.stop()
    assert positions == [0, 1]
    assert sorted(events.finished_calls) == [("a", None), ("b", None), ("d", None)]
    assert q.state("a") == "done" and q.state("zzz") == "unknown"


class DeafRunner:
    """Ignores cancellation for ``seconds`` (a stage that never checks), then returns a result."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.started = threading.Event()
        self.returned = threading.Event()

    def run(self, spec, progress, is_cancelled):
        self.started.set()
        threading.Event().wait(self.seconds)
        self.returned.set()
        raise RuntimeError("finished late")


def test_a_job_that_ignores_cancel_past_the_stop_timeout_still_gets_exactly_one_event(tmp_path):
    events = Events()
    runner = DeafRunner(0.6)
    q = JobQueue(runner, events, size=2, progress_interval_s=0.0)
    q.start()
    q.submit(Job("deaf", JobSpec()))
    assert runner.started.wait(2)
    q.stop(timeout=0.1)
    assert events.finished_calls == [("deaf", "cancelled")]
    assert runner.returned.wait(2)
    threading.Event().wait(0.1)  # let the worker reach its own _finish
    assert events.finished_calls == [("deaf", "cancelled")]
