"""Issue 28, a fair queue: each client may have at most ``max_queued_per_client`` jobs waiting, and the worker
takes the clients' jobs in turn, so one client submitting without pause can neither make another's job
``busy`` nor put more than one of its own jobs before it. (The 20 s soak runs it with a flood.)"""

from __future__ import annotations

import threading

import pytest

from ditto_live.generation.jobspec import JobSpec
from ditto_live.runner.fake import FakeRunner
from ditto_live.server.queue import Job, JobQueue, QueueFull

from .conftest import job_json


class Order:
    """Records the order jobs finish in."""

    def __init__(self, expected: int) -> None:
        self.ended: list[str] = []
        self.expected = expected
        self.all_done = threading.Event()

    def progress(self, job, stage, step, total, loss):
        pass

    def finished(self, job, result, code, message):
        self.ended.append(job.job_id)
        if len(self.ended) == self.expected:
            self.all_done.set()


def test_one_owner_may_hold_only_its_share_of_the_queue(tmp_path):
    q = JobQueue(FakeRunner(tmp_path), Order(0), size=8, progress_interval_s=0.0, max_per_owner=2)
    q.submit(Job("a1", JobSpec(), reply_to="A"))
    q.submit(Job("a2", JobSpec(), reply_to="A"))
    with pytest.raises(QueueFull, match="max_queued_per_client"):
        q.submit(Job("a3", JobSpec(), reply_to="A"))
    assert q.submit(Job("b1", JobSpec(), reply_to="B")) == 2  # another client still gets in


def test_owners_are_served_in_turn_not_in_submission_order(tmp_path):
    order = Order(6)
    q = JobQueue(FakeRunner(tmp_path, steps=1, step_s=0.0), order, size=8, progress_interval_s=0.0,
                 output_dir=tmp_path, max_per_owner=4)
    for job_id, owner in [("a1", "A"), ("a2", "A"), ("a3", "A"), ("b1", "B"), ("b2", "B"), ("c1", "C")]:
        q.submit(Job(job_id, JobSpec(), reply_to=owner))  # the worker is not started yet: all wait
    q.start()
    assert order.all_done.wait(10)
    q.stop()
    assert order.ended == ["a1", "b1", "c1", "a2", "b2", "a3"]


def test_a_client_submitting_without_pause_cannot_make_anothers_job_busy(make_server, client_for, out_dir):
    server = make_server(runner=FakeRunner(out_dir, steps=5, step_s=0.01, seconds=0.05), queue_size=8)
    flood, other = client_for(server), client_for(server)
    for i in range(40):  # far more than the queue holds
        flood.send("/ditto/job/submit", f"f{i}", job_json(name="flood"))
    other.send("/ditto/job/submit", "mine", job_json(name="other"))
    accepted = other.expect(lambda m: m.args and m.args[0] == "mine")
    assert accepted.address == "/ditto/job/accepted", accepted.args
    assert accepted.args[1] <= 3  # behind at most the running job and the flood's two waiting ones
    assert other.terminal("mine", timeout=10).address == "/ditto/job/done"
    codes = [flood.terminal(f"f{i}", timeout=10) for i in range(40)]
    assert {m.args[1] for m in codes if m.address == "/ditto/job/error"} == {"busy"}
