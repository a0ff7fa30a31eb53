"""Cancel: a queued job ends at once with "cancelled"; a running job ends with "cancelled" within one
step of the runner; only the submitter, or a holder of the token sent in accepted, may cancel (and
then hears the outcome too); unknown ids are not_found; stopping the server cancels what is left, each job still getting its one terminal reply."""

from __future__ import annotations

import time

from ditto_live.runner.fake import FakeRunner

from .conftest import job_json


def slow_runner(out_dir, steps=200, step_s=0.02):
    return FakeRunner(out_dir, steps=steps, step_s=step_s)


def test_cancel_of_a_queued_job_answers_at_once_and_the_running_job_finishes(make_server, client_for, out_dir):
    runner = slow_runner(out_dir, steps=15, step_s=0.02)
    server = make_server(runner=runner)
    client = client_for(server)
    client.send("/ditto/job/submit", "first", job_json(name="first"))
    client.send("/ditto/job/submit", "second", job_json(name="second"))
    assert client.expect_address("/ditto/job/accepted", "second").args[1] == 1
    t0 = time.monotonic()
    client.send("/ditto/job/cancel", "second")
    err = client.terminal("second")
    assert err.address == "/ditto/job/error" and err.args[1] == "cancelled"
    assert time.monotonic() - t0 < 0.25  # did not wait for "first" (0.3 s of steps)
    assert client.terminal("first").address == "/ditto/job/done"
    assert "second" not in runner.steps_run
    client.send("/ditto/job/status", "second")
    assert client.expect_address("/ditto/job/state", "second").args[1] == "error"


def test_cancel_of_a_running_job_stops_it_within_one_step(make_server, client_for, out_dir):
    runner = slow_runner(out_dir, steps=200, step_s=0.02)
    server = make_server(runner=runner)
    client = client_for(server)
    client.send("/ditto/job/submit", "long", job_json(name="long"))
    client.expect(lambda m: m.address == "/ditto/job/progress" and m.args[2] >= 3)
    steps_at_cancel = runner.steps_run["long"]
    client.send("/ditto/job/cancel", "long")
    err = client.terminal("long")
    assert err.address == "/ditto/job/error" and err.args[1] == "cancelled"
    assert runner.steps_run["long"] <= steps_at_cancel + 1 < 200
    assert not list(out_dir.glob("long-*.wav"))  # a cancelled job leaves no result
    runner.steps = 2
    client.send("/ditto/job/submit", "after", job_json(name="after"))  # the worker keeps serving
    assert client.terminal("after").address == "/ditto/job/done"


def test_another_client_cannot_cancel_a_job_without_its_token(make_server, client_for, out_dir):
    runner = slow_runner(out_dir, steps=30, step_s=0.01)
    server = make_server(runner=runner)
    submitter, stranger = client_for(server), client_for(server)
    submitter.send("/ditto/job/submit", "mine", job_json(name="mine"))
    submitter.expect_address("/ditto/job/progress", "mine")
    stranger.send("/ditto/job/cancel", "mine")  # job ids are per client: the stranger has no job "mine"
    refusal = stranger.terminal("mine")
    assert refusal.args[1] == "not_found" and "of this client" in refusal.args[2]
    stranger.send("/ditto/job/revoke", "mine", "0" * 16)  # a guessed token: as if no such job (no oracle)
    assert stranger.terminal("mine").args[1] == "not_found"
    assert submitter.terminal("mine").address == "/ditto/job/done"  # the job ran to the end
    assert runner.steps_run["mine"] == 30


def test_the_holder_of_the_token_cancels_and_both_it_and_the_submitter_hear_it(make_server, client_for, out_dir):
    server = make_server(runner=slow_runner(out_dir))
    submitter, holder = client_for(server), client_for(server)
    submitter.send("/ditto/job/submit", "shared", job_json(name="shared"))
    token = submitter.expect_address("/ditto/job/accepted", "shared").args[2]
    submitter.expect_address("/ditto/job/progress", "shared")
    holder.send("/ditto/job/revoke", "shared", token)
    for c in (submitter, holder):
        assert c.terminal("shared").args[1] == "cancelled"
    assert [m.address for m in submitter.drain(0.1)].count("/ditto/job/error") == 0  # one terminal only


def test_cancel_of_an_unknown_job_is_not_found(make_server, client_for):
    server = make_server()
    client = client_for(server)
    client.send("/ditto/job/cancel", "never-submitted")
    assert client.terminal("never-submitted").args[1] == "not_found"


def test_cancel_drops_a_partial_chunked_payload(make_server, client_for):
    server = make_server()
    client = client_for(server)
    client.send("/ditto/job/chunk", "half", 0, 2, job_json()[:10])
    client.send("/ditto/job/cancel", "half")
    assert client.terminal("half").args[1] == "cancelled"
    client.send("/ditto/job/chunk", "half", 1, 2, job_json()[10:])  # the rest alone is a new partial
    assert client.drain(0.2) == []


def test_stopping_the_server_cancels_running_and_queued_jobs_with_one_reply_each(make_server, client_for, out_dir):
    server = make_server(runner=slow_runner(out_dir), max_queued_per_client=3)
    client = client_for(server)
    for i in range(3):
        client.send("/ditto/job/submit", f"s{i}", job_json(name=f"s{i}"))
        client.expect_address("/ditto/job/accepted", f"s{i}")
    server.stop()
    for i in range(3):
        assert client.terminal(f"s{i}").args[1] == "cancelled"
    terminals = [m for m in client.drain(0.2) if m.address in ("/ditto/job/done", "/ditto/job/error")]
    assert terminals == []


def test_job_ids_are_per_client_so_two_clients_may_use_the_same_id(make_server, client_for, out_dir):
    server = make_server(runner=slow_runner(out_dir, steps=10, step_s=0.01))
    a, b = client_for(server), client_for(server)
    a.send("/ditto/job/submit", "take-1", job_json(name="a"))
    b.send("/ditto/job/submit", "take-1", job_json(name="b"))  # squatting an id blocks no one
    assert a.expect_address("/ditto/job/accepted", "take-1") and b.expect_address("/ditto/job/accepted", "take-1")
    b.send("/ditto/job/cancel", "take-1")  # cancels b's own job only
    assert b.terminal("take-1").args[1] == "cancelled"
    done = a.terminal("take-1")
    assert done.address == "/ditto/job/done" and "/a-" in done.args[1]
    a.send("/ditto/job/status", "take-1")
    b.send("/ditto/job/status", "take-1")
    assert a.expect_address("/ditto/job/state").args[1] == "done"
    assert b.expect_address("/ditto/job/state").args[1] == "error"
