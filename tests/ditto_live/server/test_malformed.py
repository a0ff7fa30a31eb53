"""Hostile and broken datagrams never crash the server: random bytes, truncated messages, wrong
argument types, unknown addresses and oversized packets are answered with an error (or nothing),
and every well-formed job request sent after them still gets exactly one terminal reply."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ditto_live.bridges.osc import MemoryNetwork, decode_packet, encode_message
from ditto_live.config import ServerConfig
from ditto_live.protocol import BY_ADDRESS, MESSAGES
from ditto_live.runner.fake import FakeRunner
from ditto_live.server.server import Server

from .conftest import Client, job_json

REQUEST_ADDRESSES = [m.address for m in MESSAGES if m.direction == "request"]
TERMINAL = ("/ditto/job/done", "/ditto/job/error")

# strings without NUL (OSC strings end at the first NUL) and without lone surrogates (not UTF-8): python-osc
# cannot even build such a message, so no client can send it
osc_text = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40)
osc_value = st.one_of(osc_text, st.integers(-2**31, 2**31 - 1), st.floats(width=32),
                      st.binary(min_size=1, max_size=20), st.booleans(), st.none())


@st.composite
def wrong_args(draw):
    """A request address with arguments of random types and count."""
    address = draw(st.sampled_from(REQUEST_ADDRESSES))
    args = draw(st.lists(osc_value, max_size=5))
    if address == "/ditto/client/subscribe":  # keep replies inside the fake network
        args = [a for a in args if not isinstance(a, int) or isinstance(a, bool)]
    return encode_message(address, args)


@st.composite
def truncated(draw):
    address = draw(st.sampled_from(REQUEST_ADDRESSES))
    data = encode_message(address, ["x" * draw(st.integers(0, 30))] * len(BY_ADDRESS[address].args),
                          "s" * len(BY_ADDRESS[address].args))
    return data[: draw(st.integers(0, max(0, len(data) - 1)))]


unknown_address = st.text(alphabet="abcdefghijklmnop/_", min_size=1, max_size=40).map(
    lambda s: encode_message("/" + s, [1]))
oversized = st.integers(66_000, 70_000).map(lambda n: encode_message("/ditto/job/submit", ["big", "x" * n]))
malformed = st.one_of(st.binary(max_size=300), truncated(), wrong_args(), unknown_address, oversized)


@pytest.fixture(scope="module")
def fake_net_server(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    net = MemoryNetwork()
    config = ServerConfig(port=0, output_dir=str(out), allowed_roots=(str(out),), progress_interval_s=0.0,
                          max_payload_bytes=20_000)
    server = Server(config, FakeRunner(out, steps=1, step_s=0.0), endpoint=net.endpoint(9010)).start()
    client = Client(net.endpoint(), server.address)
    yield server, client, net
    server.stop()


@pytest.fixture
def fresh(fake_net_server):
    """The shared fake-network server and a new client of its own (no replies from other tests)."""
    server, _, net = fake_net_server
    client = Client(net.endpoint(), server.address)
    yield server, client
    client.endpoint.close()


_ids = itertools.count()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packet=malformed)
def test_malformed_packets_never_crash_and_jobs_still_end_once(fake_net_server, packet):
    server, client, _ = fake_net_server
    client.send_raw(packet)
    job_id = f"ok-{next(_ids)}"
    client.send("/ditto/job/submit", job_id, job_json())
    assert client.terminal(job_id).address == "/ditto/job/done"
    assert server.alive


def test_after_the_fuzzing_every_job_had_exactly_one_terminal_reply(fake_net_server):
    server, client, _ = fake_net_server
    client.drain(0.3)
    counts = Counter(m.args[0] for m in client.seen if m.address in TERMINAL and str(m.args[0]).startswith("ok-"))
    assert counts and set(counts.values()) == {1}
    assert server.alive


@pytest.mark.parametrize("address", REQUEST_ADDRESSES)
def test_wrong_types_for_each_request_get_a_bad_request_error(fresh, address):
    server, client = fresh
    row = BY_ADDRESS[address]
    wrong = [3.5 if t == "s" else "text" for _, t in row.args] or ["surplus"]
    if address.startswith("/ditto/job/") and address != "/ditto/job/status":
        # a readable job id, so the error names the job; the rest stays wrong (or surplus)
        wrong = ["wt-" + address.rsplit("/", 1)[1]] + (wrong[1:] or [3.5])
    client.send(address, *wrong)
    reply = client.expect(lambda m: m.address in ("/ditto/error", "/ditto/job/error"))
    code = reply.args[1] if reply.address == "/ditto/job/error" else reply.args[0]
    assert code == "bad_request", reply
    if reply.address == "/ditto/job/error":
        assert reply.args[0] == wrong[0]


def test_an_unknown_address_is_not_found_and_a_reply_address_is_dropped_unanswered(fresh):
    server, client = fresh
    client.send("/ditto/no/such", 1)
    assert client.expect_address("/ditto/error").args[0] == "not_found"
    before = server.replies_dropped
    client.send("/ditto/job/done", "x", "y", "z")  # a reply: answering it could loop between two peers
    client.send("/ditto/error", "bad_request", "echo")
    assert client.drain(0.3) == [] and server.replies_dropped == before + 2


def test_an_oversized_datagram_is_too_large(fresh):
    _, client = fresh
    client.send_raw(encode_message("/ditto/job/submit", ["big", "x" * 70_000]))
    assert client.expect_address("/ditto/error").args[0] == "too_large"


def test_a_spec_over_the_payload_limit_is_too_large(fresh):
    _, client = fresh
    client.send("/ditto/job/submit", "huge", job_json(name="x") + " " * 30_000)
    reply = client.expect_address("/ditto/job/error", "huge")
    assert reply.args[1] == "too_large"


@pytest.mark.parametrize("packet", [b"", b"\x00" * 8, b"#bundle\x00\x00", b"/ditto/server/ping\x00\x00,s",
                                    encode_message("/ditto/server/ping", [1.5]), b"\xff" * 1000])
def test_malformed_packets_over_real_udp_leave_ping_answered(packet, make_server, client_for):
    server = make_server()
    client = client_for(server)
    client.send_raw(packet)
    client.send("/ditto/server/ping", "still-there")
    pong = client.expect_address("/ditto/server/pong")
    assert pong.args[0] == "still-there" and server.alive
    errors = [m for m in client.drain(0.1) + client.seen if m.address == "/ditto/error"]
    if packet:  # an empty UDP datagram also gets an error, but only non-empty ones are asserted
        assert errors, "a malformed datagram went unanswered"
    assert all(decode_packet(encode_message(e.address, list(e.args))) for e in errors)
