"""Issue 28, reply loops: the server never answers a reply and never sends to its own address, so a client
that subscribes the server to itself, a reply port equal to the server's port, or two servers answering
each other cannot keep it busy."""

from __future__ import annotations

import time

import pytest

from ditto_live.bridges.osc import Datagram, MemoryNetwork, encode_message
from ditto_live.config import ConfigError, ServerConfig
from ditto_live.runner.fake import FakeRunner
from ditto_live.server.server import Server

from .conftest import Client


def cpu_seconds_over(seconds: float) -> float:
    """CPU time this process spends while the test sleeps ``seconds`` (the in-process server's threads)."""
    t0 = time.process_time()
    time.sleep(seconds)
    return time.process_time() - t0


def test_subscribing_the_servers_own_port_is_refused_and_the_server_is_idle_a_second_later(make_server, client_for):
    server = make_server()
    client = client_for(server)
    client.send("/ditto/client/subscribe", server.address[1])
    error = client.expect_address("/ditto/error")
    assert error.args[0] == "bad_request" and "own port" in error.args[1]
    for _ in range(100):  # the trigger: every ping would have started one more loop
        client.send("/ditto/server/ping", "loop")
    client.drain(0.3)
    assert cpu_seconds_over(1.0) < 0.15  # idle: no datagram going round
    assert server.self_sends_refused == 0  # nothing was even addressed to itself: the subscription never existed


def test_a_datagram_that_claims_the_servers_own_address_is_never_answered(tmp_path):
    """On a network where sources can be forged, a ping 'from' the server itself would make it answer itself."""
    net = MemoryNetwork()
    config = ServerConfig(port=0, output_dir=str(tmp_path), allowed_roots=(str(tmp_path),))
    server = Server(config, FakeRunner(tmp_path, steps=1, step_s=0.0), endpoint=net.endpoint(9010)).start()
    try:
        server.handle_datagram(Datagram(encode_message("/ditto/server/ping", ["x"]), server.address))
        assert server.replies_dropped == 1
        assert cpu_seconds_over(0.5) < 0.1
    finally:
        server.stop()


def test_replies_sent_to_the_server_are_dropped_so_two_servers_cannot_loop(make_server, client_for):
    a, b = make_server(), make_server()
    b_socket = b._endpoint  # a datagram from B's own socket, as when A's reply port pointed at B
    assert b_socket is not None
    b_socket.send("/ditto/server/ping", ["ping-pong"], a.address)  # A answers B's "request" with a pong ...
    time.sleep(0.5)
    assert b.replies_dropped == 1  # ... which B drops without answering
    b_socket.send("/ditto/nothing/here", [1], a.address)  # A answers /ditto/error; B drops that too
    time.sleep(0.5)
    assert b.replies_dropped == 2 and a.replies_dropped == 0
    assert cpu_seconds_over(1.0) < 0.15


@pytest.mark.parametrize("address", ["/ditto/server/pong", "/ditto/job/done", "/ditto/error", "/ditto/client/challenge"])
def test_every_reply_row_sent_to_the_server_is_counted_and_unanswered(make_server, client_for, address):
    from ditto_live.protocol import BY_ADDRESS

    server = make_server()
    client = client_for(server)
    row = BY_ADDRESS[address]
    client.send(address, *["x" if t == "s" else 1 for _, t in row.args], types="".join(t for _, t in row.args))
    assert client.drain(0.3) == []
    assert server.replies_dropped == 1


def test_reply_port_equal_to_the_port_is_refused():
    with pytest.raises(ConfigError, match="reply_port"):
        ServerConfig(port=9010, reply_port=9010)


def test_reply_port_equal_to_the_port_chosen_at_start_is_refused(tmp_path):
    from ditto_live.bridges.osc import UdpEndpoint
    from ditto_live.errors import UsageError

    endpoint = UdpEndpoint("127.0.0.1", 0)  # port 0 in the settings: the port is only known once bound
    config = ServerConfig(port=0, reply_port=endpoint.address[1], output_dir=str(tmp_path))
    with pytest.raises(UsageError, match="reply_port"):
        Server(config, FakeRunner(tmp_path), endpoint=endpoint).start()


def test_with_a_reply_port_a_client_still_hears_its_replies_there(make_server, client_for):
    from ditto_live.bridges.osc import UdpEndpoint

    ear = UdpEndpoint("127.0.0.1", 0)
    try:
        server = make_server(reply_port=ear.address[1])
        client = client_for(server)
        client.send("/ditto/server/ping", "via-reply-port")
        assert Client(ear, server.address).expect_address("/ditto/server/pong").args[0] == "via-reply-port"
    finally:
        ear.close()
