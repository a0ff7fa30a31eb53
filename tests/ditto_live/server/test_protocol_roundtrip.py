"""Every row of the protocol table round-trips through real UDP on 127.0.0.1: each request is
answered with one of the replies its row names, every reply row is produced by some request, and
every reply carries exactly the OSC types its row declares."""

from __future__ import annotations

import pytest

from ditto_live.protocol import BY_ADDRESS, MESSAGES, PROTOCOL_VERSION

from .conftest import FakeMidiTake, FakeStream, job_json

_PY_TYPE = {"s": str, "i": int, "f": float}

# a well-formed example argument list for every request row
EXAMPLES = {
    "/ditto/server/ping": ["tok"],
    "/ditto/server/status": [],
    "/ditto/job/submit": ["rt-submit", job_json()],
    "/ditto/job/chunk": ["rt-chunk", 0, 1, job_json()],
    "/ditto/job/cancel": ["rt-nothing"],
    "/ditto/job/revoke": ["rt-nothing", "0" * 16],
    "/ditto/job/status": ["rt-nothing"],
    "/ditto/control/set": ["intensity", -18.0],
    "/ditto/control/reset": ["cfg"],
    "/ditto/stream/start": [job_json()],
    "/ditto/stream/stop": [],
    "/ditto/midi/take": ["rt-take", ""],
    "/ditto/midi/reset": [],
    "/ditto/client/subscribe": [0],  # port filled in by the test
    "/ditto/client/unsubscribe": [0],
    "/ditto/client/confirm": ["0" * 16],  # a code the server never sent: forbidden
}
REQUESTS = [m for m in MESSAGES if m.direction == "request"]


def assert_matches_row(msg):
    row = BY_ADDRESS[msg.address]
    assert row.direction == "reply"
    assert len(msg.args) == len(row.args), msg
    for (name, tag), value in zip(row.args, msg.args):
        assert type(value) is _PY_TYPE[tag], f"{msg.address}.{name}: {value!r} is not '{tag}'"


def test_every_request_row_has_an_example():
    assert set(EXAMPLES) == {m.address for m in REQUESTS}


@pytest.mark.parametrize("row", REQUESTS, ids=lambda m: m.address)
def test_request_is_answered_with_a_reply_its_row_names(row, make_server, client_for):
    server = make_server(stream=FakeStream(), midi=FakeMidiTake())
    client = client_for(server)
    args = list(EXAMPLES[row.address])
    if "port" in [n for n, _ in row.args]:
        args = [client.endpoint.address[1] + 1]
    client.send(row.address, *args, types="".join(t for _, t in row.args))
    first = client.expect(lambda m: True)
    assert first.address in row.replies, (row.address, first)
    assert_matches_row(first)
    if "/ditto/job/done" in row.replies and row.address not in ("/ditto/job/cancel", "/ditto/job/revoke"):
        done = client.terminal(args[0])
        assert done.address == "/ditto/job/done"
        assert_matches_row(done)
    if row.address == "/ditto/server/ping":
        assert first.args == ("tok", PROTOCOL_VERSION)


def test_every_reply_row_is_produced_and_typed_as_declared(make_server, client_for):
    stream = FakeStream()
    server = make_server(stream=stream, midi=FakeMidiTake())
    client = client_for(server)
    sub = client_for(server)
    for address, args in EXAMPLES.items():
        if address.startswith("/ditto/client/") and "port" in [n for n, _ in BY_ADDRESS[address].args]:
            args = [sub.endpoint.address[1]]
        client.send(address, *args, types="".join(t for _, t in BY_ADDRESS[address].args))
    client.send("/ditto/nothing/here", 1)  # -> /ditto/error
    client.send("/ditto/job/submit", "rt-bad", "{not json")  # -> /ditto/job/error
    client.terminal("rt-submit")
    client.terminal("rt-chunk")
    client.terminal("rt-take")
    client.terminal("rt-bad")
    client.drain()
    sub.drain()  # the subscribed port got the challenge (only there)
    seen = {m.address for m in client.seen + sub.seen}
    assert seen == {m.address for m in MESSAGES if m.direction == "reply"}
    for m in client.seen + sub.seen:
        assert_matches_row(m)
    assert stream.current == "stopped" and len(stream.started_with) == 1
    assert server.live_controls == {"intensity": pytest.approx(-18.0)}
    assert stream.controls == {"intensity": pytest.approx(-18.0)}
