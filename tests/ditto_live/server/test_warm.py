"""Readiness (issue 15's warm-up, reported by the server): while the runner's ``warm()`` runs, status says
``"engine": "warming"``, pings and status are answered, and jobs are accepted and wait; afterwards
``"engine": "ready"`` (with ``warm_error`` when warming raised), and the waiting jobs run."""

from __future__ import annotations

import json
import threading

from ditto_live.runner.fake import FakeRunner

from .conftest import job_json


class WarmingRunner(FakeRunner):
    """A FakeRunner whose ``warm()`` blocks until ``release`` is set (then raises ``fail`` if given)."""

    def __init__(self, *args, fail: Exception | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.release = threading.Event()
        self.warm_started = threading.Event()
        self.fail = fail

    def warm(self) -> dict[str, float]:
        self.warm_started.set()
        self.release.wait(10)
        if self.fail is not None:
            raise self.fail
        return {}


def engine_state(client) -> dict:
    client.send("/ditto/server/status")
    return json.loads(client.expect_address("/ditto/server/state").args[0])


def test_while_warming_pings_and_status_answer_and_jobs_wait_until_ready(make_server, client_for, out_dir):
    runner = WarmingRunner(out_dir, steps=2, step_s=0.001)
    server = make_server(runner=runner)
    client = client_for(server)
    assert runner.warm_started.wait(5)
    client.send("/ditto/server/ping", "early")
    assert client.expect_address("/ditto/server/pong", timeout=1.0).args[0] == "early"
    assert engine_state(client)["engine"] == "warming"
    client.send("/ditto/job/submit", "waits", job_json(name="waits"))
    assert client.expect_address("/ditto/job/accepted", "waits").args[1] == 0
    assert not runner.running.wait(0.3) and "waits" not in runner.steps_run  # held until warm() returns
    runner.release.set()
    assert client.terminal("waits").address == "/ditto/job/done"
    state = engine_state(client)
    assert state["engine"] == "ready" and "warm_error" not in state


def test_a_failed_warm_up_is_logged_and_reported_and_the_server_serves(make_server, client_for, out_dir):
    runner = WarmingRunner(out_dir, steps=2, step_s=0.001, fail=RuntimeError("no default model here"))
    runner.release.set()
    server = make_server(runner=runner)
    client = client_for(server)
    client.send("/ditto/job/submit", "after", job_json(name="after"))
    assert client.terminal("after").address == "/ditto/job/done"
    state = engine_state(client)
    assert state["engine"] == "ready" and state["warm_error"] == "RuntimeError: no default model here"


def test_a_job_cancelled_while_the_engine_warms_ends_at_once(make_server, client_for, out_dir):
    runner = WarmingRunner(out_dir, steps=2, step_s=0.001)
    server = make_server(runner=runner)
    client = client_for(server)
    client.send("/ditto/job/submit", "early", job_json(name="early"))
    client.expect_address("/ditto/job/accepted", "early")
    client.send("/ditto/job/cancel", "early")
    assert client.terminal("early", timeout=1.0).args[1] == "cancelled"
    runner.release.set()


def test_a_runner_with_nothing_to_warm_is_ready_at_once_and_warm_can_be_switched_off(make_server, client_for, out_dir):
    plain = make_server()
    assert engine_state(client_for(plain))["engine"] == "ready"
    runner = WarmingRunner(out_dir)
    off = make_server(runner=runner, warm=False)
    assert engine_state(client_for(off))["engine"] == "ready" and not runner.warm_started.is_set()
    runner.release.set()
