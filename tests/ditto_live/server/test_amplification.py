"""Issue 28, amplification: from a host that has not confirmed it receives what the server sends (a forged
source address cannot), the replies to any datagram -- every request row, any arguments, bundles, garbage --
take at most twice its bytes on the wire (28 bytes of IP and UDP header counted on both sides), to all
destinations together. A confirmed host gets the full status; a subscription takes effect only once its
code, sent to the subscribed port, comes back."""

from __future__ import annotations

import json
import struct
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ditto_live.bridges.osc import Datagram, MemoryEndpoint, MemoryNetwork, encode_message
from ditto_live.config import ServerConfig
from ditto_live.protocol import BY_ADDRESS, MESSAGES
from ditto_live.runner.fake import FakeRunner
from ditto_live.server.clients import UDP_OVERHEAD
from ditto_live.server.server import Server

from .conftest import Client, FakeMidiTake, FakeStream, job_json

REQUESTS = [m for m in MESSAGES if m.direction == "request"]
SENDER = ("127.0.0.1", 41000)  # the (possibly forged) source: never confirmed in this module


class MeteredEndpoint:
    """An endpoint that counts the wire bytes sent from the calling thread (the receive path's replies; a
    job's later replies come from the worker and are not the datagram's)."""

    def __init__(self, inner: MemoryEndpoint) -> None:
        self.inner = inner
        self.sent: dict[int, int] = {}  # thread id -> wire bytes

    @property
    def address(self) -> tuple[str, int]:
        return self.inner.address

    def send(self, address: str, args: Any, to: tuple[str, int], types: str | None = None) -> None:
        self.send_raw(encode_message(address, args, types), to)

    def send_raw(self, data: bytes, to: tuple[str, int]) -> None:
        ident = threading.get_ident()
        self.sent[ident] = self.sent.get(ident, 0) + len(data) + UDP_OVERHEAD
        self.inner.send_raw(data, to)

    def receive(self, timeout: float | None) -> Datagram | None:
        return self.inner.receive(timeout)

    def close(self) -> None:
        self.inner.close()


class BlockedRunner(FakeRunner):
    """Its warm-up never ends, so accepted jobs wait (no worker replies interleave with the measurement)."""

    def warm(self) -> None:
        threading.Event().wait(3600)


@pytest.fixture(scope="module")
def metered(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    net = MemoryNetwork()
    endpoint = MeteredEndpoint(net.endpoint(9010))
    config = ServerConfig(port=0, output_dir=str(out), allowed_roots=(str(out),), queue_size=64,
                          max_queued_per_client=64)
    server = Server(config, BlockedRunner(out), stream=FakeStream(), midi=FakeMidiTake(), endpoint=endpoint,
                    warm=True)
    server._warm = False  # no warm-up thread: the gate below holds jobs instead
    server.start()
    server._queue.close_gate()
    yield server, endpoint
    server._queue.open_gate()
    server.stop()


def wire_ratio(server: Server, endpoint: MeteredEndpoint, data: bytes, sender=SENDER) -> float:
    ident = threading.get_ident()
    before = endpoint.sent.get(ident, 0)
    server.handle_datagram(Datagram(data, sender))
    return (endpoint.sent.get(ident, 0) - before) / (len(data) + UDP_OVERHEAD)


def bundle(*messages: bytes) -> bytes:
    return b"#bundle\x00" + b"\x00" * 7 + b"\x01" + b"".join(struct.pack(">i", len(m)) + m for m in messages)


text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
VALUES: dict[str, Any] = {"s": text, "i": st.integers(-2**31, 2**31 - 1), "f": st.floats(allow_nan=False, width=32)}
SPECS = st.sampled_from(["", "{}", job_json(), job_json(seeds=64), '{"bars": 64, "bpm": 1}', "@/etc/passwd", "{x"])


@st.composite
def request(draw) -> bytes:
    """One request row with arguments of its declared types (job specs valid or not), or of any type."""
    row = draw(st.sampled_from(REQUESTS))
    if draw(st.booleans()):
        args = [draw(SPECS) if name == "spec" else draw(VALUES[tag]) for name, tag in row.args]
        return encode_message(row.address, args, "".join(t for _, t in row.args))
    return encode_message(row.address, draw(st.lists(st.one_of(text, st.integers(-100, 100)), max_size=4)))


datagram = st.one_of(request(), st.lists(request(), min_size=1, max_size=64).map(lambda ms: bundle(*ms)),
                     st.binary(max_size=64))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=datagram)
def test_replies_to_an_unconfirmed_host_are_at_most_twice_its_datagram_on_the_wire(metered, data):
    server, endpoint = metered
    assert not server._clients.confirmed(SENDER[0])
    assert wire_ratio(server, endpoint, data) <= 2.0


@pytest.mark.parametrize("row", REQUESTS, ids=lambda m: m.address)
def test_each_request_rows_smallest_form_stays_within_twice(metered, row):
    """Every row with its smallest arguments (the highest ratio a request can reach) from a fresh port."""
    server, endpoint = metered
    args = ["" if t == "s" else 1 for _, t in row.args]
    if row.address in ("/ditto/client/subscribe", "/ditto/client/unsubscribe"):
        args = [41999]
    data = encode_message(row.address, args, "".join(t for _, t in row.args))
    assert wire_ratio(server, endpoint, data, ("127.0.0.1", 42000 + REQUESTS.index(row))) <= 2.0


def test_the_issues_cases_empty_datagram_status_and_four_subscriptions(metered):
    server, endpoint = metered
    assert wire_ratio(server, endpoint, b"\x00") == 0  # too small to pay for any error: counted, not answered
    status = encode_message("/ditto/server/status")
    assert wire_ratio(server, endpoint, status) <= 2.0
    spoofed = ("127.0.0.1", 43000)
    for port in (43001, 43002, 43003, 43004):  # a forger asks for four subscriptions of the victim's host
        assert wire_ratio(server, endpoint, encode_message("/ditto/client/subscribe", [port], "i"), spoofed) <= 2.0
    assert server._clients.subscribers_of(spoofed) == []  # none took effect: nobody sent a code back
    assert wire_ratio(server, endpoint, status, spoofed) <= 2.0


def test_an_unconfirmed_host_gets_the_short_status_with_the_code_that_confirms_it(make_server, client_for):
    server = make_server(confirmed=False)
    client = client_for(server)
    client.send("/ditto/server/status")
    short = json.loads(client.expect_address("/ditto/server/state").args[0])
    assert set(short) == {"version", "engine", "code"}
    other = client_for(server)  # any port of the host may send the code back
    other.send("/ditto/client/confirm", short["code"])
    assert other.expect_address("/ditto/client/subscribed").args[1] == 1
    client.send("/ditto/server/status")
    full = json.loads(client.expect_address("/ditto/server/state").args[0])
    assert "limits" in full and "code" not in full


def test_a_wrong_code_confirms_nothing(make_server, client_for):
    server = make_server(confirmed=False)
    client = client_for(server)
    client.send("/ditto/client/confirm", "0123456789abcdef")
    assert client.expect_address("/ditto/error").args[0] == "forbidden"
    assert not server._clients.confirmed("127.0.0.1")


def test_another_client_cannot_subscribe_a_port_it_does_not_read(make_server, client_for):
    """Issue 28: B subscribed to A's port made A receive B's done for A's job id."""
    server = make_server()
    a, b = client_for(server), client_for(server)
    b.send("/ditto/client/subscribe", a.endpoint.address[1])  # the code goes to A's port, which ignores it
    assert b.expect_address("/ditto/client/subscribed").args == (a.endpoint.address[1], 0)  # pending only
    a.send("/ditto/job/submit", "take", job_json(name="a"))
    b.send("/ditto/job/submit", "take", job_json(name="b"))
    assert "/a-" in a.terminal("take").args[1]
    b.terminal("take")
    heard = a.drain(0.3)
    assert [m for m in a.seen if m.address in ("/ditto/job/done", "/ditto/job/error")] == [
        m for m in a.seen if m.address == "/ditto/job/done" and "/a-" in m.args[1]]
    assert not [m for m in heard if m.address == "/ditto/job/done"]


def test_a_confirmed_subscription_hears_the_clients_replies(make_server, client_for):
    from ditto_live.bridges.osc import UdpEndpoint

    server = make_server(confirmed=False)
    client = client_for(server)
    ear = UdpEndpoint("127.0.0.1", 0)
    try:
        assert client.subscribe(ear).args == (ear.address[1], 1)
        assert server._clients.confirmed("127.0.0.1")  # the code came back: the host receives
        client.send("/ditto/server/ping", "both")
        assert Client(ear, server.address).expect_address("/ditto/server/pong").args[0] == "both"
    finally:
        ear.close()


def test_status_is_limited_per_host_whatever_the_source_port(make_server, client_for):
    server = make_server(status_per_s=2)
    clients = [client_for(server) for _ in range(10)]
    for c in clients:  # one request from each of ten ports: the host's burst is 4
        c.send("/ditto/server/status")
    answered = sum(any(m.address == "/ditto/server/state" for m in c.drain(0.3)) for c in clients)
    assert answered == 4


def test_the_reply_budget_covers_all_destinations_together(make_server, client_for):
    from ditto_live.bridges.osc import UdpEndpoint

    server = make_server()
    client = client_for(server)
    ears = [UdpEndpoint("127.0.0.1", 0) for _ in range(4)]
    try:
        for ear in ears:
            client.subscribe(ear)
        for ear in ears:
            Client(ear, server.address).drain(0.1)
        request = bundle(*[encode_message("/ditto/server/status")] * 10)  # ~1.2 KB of status each, 5 destinations
        client.send_raw(request)
        total = sum(len(d.data) + UDP_OVERHEAD for ep in [client.endpoint, *ears]
                    for d in iter(lambda ep=ep: ep.receive(0.3), None))
        assert total <= 8192 + 1024  # the floor for all five together, plus the one notice of what was withheld
    finally:
        for ear in ears:
            ear.close()


def test_a_type_tags_row_exists_for_every_reply_the_budget_may_cut():
    from ditto_live.protocol import TERMINAL_ERRORS

    assert all(BY_ADDRESS[a].direction == "reply" and BY_ADDRESS[a].args[-1][0] == "message" for a in TERMINAL_ERRORS)
