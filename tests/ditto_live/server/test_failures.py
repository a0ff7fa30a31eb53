"""A failing job becomes an error reply with a code and a readable message, and the server keeps
serving: runner exceptions (NaN, out of memory, crashes, bad input), invalid specs, duplicate ids,
a result outside the output folder. Also: progress throttling, reply_port, and the allow-list."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ditto_live.bridges.osc import MemoryNetwork, UdpEndpoint
from ditto_live.config import ServerConfig
from ditto_live.errors import UsageError
from ditto_live.runner.contract import JobResult
from ditto_live.runner.fake import FakeRunner
from ditto_live.server.server import Server

from .conftest import Client, job_json


@pytest.mark.parametrize(("exc", "code", "words"), [
    (FloatingPointError("loss is NaN at step 2"), "failed", "NaN"),
    (MemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), "failed", "out of memory"),
    (RuntimeError("CUDA error: out of memory"), "failed", "out of memory"),
    (RuntimeError("something broke"), "failed", "RuntimeError: something broke"),
    (ValueError("reference WAV is stereo 96 kHz"), "bad_request", "stereo"),
    (ZeroDivisionError("division by zero"), "failed", "ZeroDivisionError"),
])
def test_runner_exception_becomes_an_error_and_the_next_job_succeeds(exc, code, words, make_server, client_for,
                                                                     out_dir):
    server = make_server(runner=FakeRunner(out_dir, steps=4, step_s=0.001, failures={"boom": exc}))
    client = client_for(server)
    client.send("/ditto/job/submit", "bad", job_json(name="boom"))
    client.send("/ditto/job/submit", "good", job_json(name="fine"))
    err = client.terminal("bad")
    assert err.address == "/ditto/job/error" and err.args[1] == code and words in err.args[2], err
    assert client.terminal("good").address == "/ditto/job/done"
    assert server.alive


@pytest.mark.parametrize(("spec", "words"), [
    ("{not json", "not JSON"),
    (json.dumps({"controls": [{"type": "intensity"}]}), "intensity needs shape or points"),
    (json.dumps({"sedd": 3}), "job.sedd: unknown key"),
    (json.dumps({"steps": "many"}), "job.steps"),
    (json.dumps([1, 2]), "expected a JSON object"),
    (json.dumps({"name": "../../etc/x"}), "job.name"),
    ("[" * 100_00, "not JSON"),
])
def test_invalid_spec_is_bad_request_naming_the_problem(spec, words, make_server, client_for):
    server = make_server(max_payload_bytes=20_000)
    client = client_for(server)
    client.send("/ditto/job/submit", "inv", spec)
    err = client.terminal("inv")
    assert err.args[1] == "bad_request" and words in err.args[2], err


def test_duplicate_job_id_is_refused_while_the_first_runs(make_server, client_for, out_dir):
    server = make_server(runner=FakeRunner(out_dir, steps=20, step_s=0.01))
    client = client_for(server)
    client.send("/ditto/job/submit", "dup", job_json())
    client.expect_address("/ditto/job/accepted", "dup")
    client.send("/ditto/job/submit", "dup", job_json())
    err = client.expect_address("/ditto/job/error", "dup")
    assert err.args[1] == "bad_request" and "already" in err.args[2]
    assert client.terminal("dup").address == "/ditto/job/done"  # the first one is unaffected


def test_bad_job_ids_are_refused(make_server, client_for):
    server = make_server()
    client = client_for(server)
    client.send("/ditto/job/submit", "", job_json())
    assert client.expect_address("/ditto/job/error").args[1] == "bad_request"
    client.send("/ditto/job/submit", "x" * 65, job_json())
    assert client.expect_address("/ditto/job/error").args[1] == "bad_request"


class EscapingRunner(FakeRunner):
    """A broken runner that reports a result outside the output folder."""

    def run(self, spec, progress, is_cancelled):
        return JobResult(Path("/etc/hostname"), {})


def test_a_result_outside_the_output_folder_is_refused(make_server, client_for, out_dir):
    server = make_server(runner=EscapingRunner(out_dir))
    client = client_for(server)
    client.send("/ditto/job/submit", "esc", job_json())
    err = client.terminal("esc")
    assert err.args[1] == "forbidden" and "outside the output folder" in err.args[2]


def test_progress_is_throttled_to_the_configured_interval(make_server, client_for, out_dir):
    server = make_server(runner=FakeRunner(out_dir, steps=30, step_s=0.02), progress_interval_s=0.2)
    client = client_for(server)
    t0 = time.monotonic()
    client.send("/ditto/job/submit", "thr", job_json())
    client.terminal("thr")
    elapsed = time.monotonic() - t0
    progress = [m for m in client.seen if m.address == "/ditto/job/progress"]
    assert 1 <= len(progress) <= int(elapsed / 0.2) + 1  # 30+ events from the runner, few replies


def test_replies_go_to_the_configured_reply_port(make_server, client_for):
    listener = UdpEndpoint("127.0.0.1", 0)
    try:
        server = make_server(reply_port=listener.address[1])
        sender = client_for(server)
        sender.send("/ditto/server/ping", "rp")
        assert sender.endpoint.receive(0.3) is None  # nothing back to the sending port
        assert Client(listener, server.address).expect_address("/ditto/server/pong").args[0] == "rp"
    finally:
        listener.close()


def lan_server(tmp_path, allow, client_host):
    net = MemoryNetwork(host=client_host)
    config = ServerConfig(host="0.0.0.0", port=9010, allow=allow, output_dir=str(tmp_path),
                          allowed_roots=(str(tmp_path),))
    server = Server(config, FakeRunner(tmp_path, steps=1, step_s=0.0), endpoint=net.endpoint(9010)).start()
    return server, Client(net.endpoint(), server.address)


def test_beyond_loopback_datagrams_from_outside_the_allow_list_are_dropped(tmp_path):
    server, client = lan_server(tmp_path, allow=("192.168.1.0/24",), client_host="10.0.0.7")
    try:
        client.send("/ditto/server/ping", "x")
        assert client.endpoint.receive(0.3) is None and server.dropped == 1
    finally:
        server.stop()


def test_beyond_loopback_an_allowed_network_is_served(tmp_path):
    server, client = lan_server(tmp_path, allow=("192.168.1.0/24",), client_host="192.168.1.20")
    try:
        client.send("/ditto/server/ping", "x")
        assert client.expect_address("/ditto/server/pong").args[0] == "x" and server.dropped == 0
    finally:
        server.stop()


def test_binding_beyond_loopback_without_an_allow_list_is_refused(tmp_path):
    with pytest.raises(UsageError, match="server.allow"):
        Server(ServerConfig(host="0.0.0.0", allow=(), output_dir=str(tmp_path)), FakeRunner(tmp_path))
    with pytest.raises(UsageError, match="server.allow"):
        Server(ServerConfig(host="0.0.0.0", allow=("not-an-ip",), output_dir=str(tmp_path)), FakeRunner(tmp_path))


def test_ping_is_answered_while_a_job_runs(make_server, client_for, out_dir):
    server = make_server(runner=FakeRunner(out_dir, steps=50, step_s=0.02))
    client = client_for(server)
    client.send("/ditto/job/submit", "busy-worker", job_json())
    client.expect_address("/ditto/job/progress", "busy-worker")
    t0 = time.monotonic()
    client.send("/ditto/server/ping", "quick")
    client.expect_address("/ditto/server/pong")
    assert time.monotonic() - t0 < 0.2
    client.send("/ditto/server/status")
    state = json.loads(client.expect_address("/ditto/server/state").args[0])
    assert state["running"] == "busy-worker" and state["model"] == "fake"
    client.send("/ditto/job/cancel", "busy-worker")
    client.terminal("busy-worker")


def test_submit_job_in_process_raises_the_protocol_code_and_replies_to_subscribers(make_server, client_for):
    from ditto_live.server.server import RequestError

    server = make_server()
    watcher = client_for(server)
    watcher.send("/ditto/client/subscribe", watcher.endpoint.address[1])
    watcher.expect_address("/ditto/client/subscribed")
    assert server.submit_job("inproc", {"seconds": 1.0}) == 0
    assert watcher.terminal("inproc").address == "/ditto/job/done"
    with pytest.raises(RequestError) as err:
        server.submit_job("inproc2", {"sedd": 1})
    assert err.value.code == "bad_request"
    with pytest.raises(RequestError) as err:
        server.submit_job("inproc3", "@/etc/passwd")
    assert err.value.code == "forbidden"


def test_live_controls_fill_in_what_a_job_leaves_out_and_never_override_it(make_server, client_for, out_dir):
    server = make_server()
    client = client_for(server)
    for name, value in (("seed", 11), ("cfg", 4.5), ("bpm", 90), ("intensity", -12)):
        client.send("/ditto/control/set", name, value, types="sf")
        assert client.expect_address("/ditto/control/value").args[0] == name
    assert server.live_controls == {"seed": 11.0, "cfg": 4.5, "bpm": 90.0, "intensity": -12.0}
    client.send("/ditto/job/submit", "lc", json.dumps({"seconds": 1.0, "bpm": 140, "name": "lc"}))
    sidecar = json.loads(client.terminal("lc").args[2])["sidecar"]
    job = json.loads(open(sidecar).read())["job"]
    assert (job["seed"], job["cfg"], job["bpm"]) == (11, 4.5, 140)  # the job's own bpm wins
    client.send("/ditto/control/set", "tempo", 1.0)
    assert client.expect_address("/ditto/error").args[0] == "bad_request"
    client.send("/ditto/control/set", "cfg", float("nan"))
    assert client.expect_address("/ditto/error").args[0] == "bad_request"
