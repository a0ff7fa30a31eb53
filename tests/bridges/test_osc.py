"""The OSC transport: messages survive encode/decode, malformed bytes raise one error type, and both
the UDP endpoint and the in-memory fake deliver datagrams with the sender's address."""

from __future__ import annotations

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from ditto_live.bridges.osc import (
    AllowList,
    MemoryNetwork,
    OscDecodeError,
    UdpEndpoint,
    decode_packet,
    encode_message,
    is_loopback,
)


def receive_messages(endpoint, timeout: float) -> list:
    """Decoded messages of the next datagram (empty on timeout), with its sender."""
    dgram = endpoint.receive(timeout)
    return [] if dgram is None else [(m, dgram.sender) for m in decode_packet(dgram.data)]


def test_message_round_trips_with_forced_type_tags():
    data = encode_message("/ditto/job/progress", ["j1", "optimise", 3, 70, 0.5], types="ssiif")
    (msg,) = decode_packet(data)
    assert msg.address == "/ditto/job/progress"
    assert msg.args == ("j1", "optimise", 3, 70, 0.5)
    assert b",ssiif" in data


def test_forced_float_tag_converts_an_int_and_int_tag_converts_a_float():
    (msg,) = decode_packet(encode_message("/x", [2, 3.0], types="fi"))
    assert msg.args == (2.0, 3) and isinstance(msg.args[0], float) and isinstance(msg.args[1], int)


def test_type_tag_count_must_match_arguments():
    with pytest.raises(ValueError, match="type tags"):
        encode_message("/x", [1, 2], types="i")


def test_bundles_are_flattened_in_order():
    bundle = OscBundleBuilder(IMMEDIATELY)
    for i in range(3):
        b = OscMessageBuilder("/m")
        b.add_arg(i)
        bundle.add_content(b.build())
    msgs = decode_packet(bundle.build().dgram)
    assert [m.args for m in msgs] == [(0,), (1,), (2,)]


@pytest.mark.parametrize("data", [b"", b"hello", b"/x\x00\x00,i\x00\x00\x00", b"#bundle\x00garbage",
                                  encode_message("/a", ["long string"])[:-3], b"\xff\xfe\x00\x00"])
def test_malformed_bytes_raise_osc_decode_error(data):
    with pytest.raises(OscDecodeError):
        decode_packet(data)


def test_udp_endpoints_exchange_messages_on_loopback():
    a, b = UdpEndpoint("127.0.0.1", 0), UdpEndpoint("127.0.0.1", 0)
    try:
        assert a.address[1] != 0 and a.address[1] != b.address[1]
        a.send("/hello", ["x", 1], b.address)
        [(msg, sender)] = receive_messages(b, 2.0)
        assert msg.args == ("x", 1) and sender == a.address
        assert b.receive(0.05) is None  # timeout, not an exception
    finally:
        a.close()
        b.close()


def test_udp_receive_after_close_returns_none():
    a = UdpEndpoint("127.0.0.1", 0)
    a.close()
    assert a.receive(0.05) is None


def test_memory_network_delivers_real_osc_bytes_and_refuses_a_taken_port():
    net = MemoryNetwork()
    a, b = net.endpoint(), net.endpoint(9000)
    a.send("/ping", ["t"], b.address)
    dgram = b.receive(1.0)
    assert dgram is not None and dgram.sender == a.address
    assert decode_packet(dgram.data)[0].args == ("t",)
    with pytest.raises(OSError):
        net.endpoint(9000)
    a.send("/lost", [], ("127.0.0.1", 1))  # nobody there: dropped like UDP, no error
    b.close()
    assert b.receive(1.0) is None  # close wakes a blocked receive


def test_allow_list_matches_addresses_and_networks_and_refuses_junk():
    allow = AllowList(["192.168.1.0/24", "10.0.0.2", "::1"])
    assert "192.168.1.77" in allow and "10.0.0.2" in allow and "::1" in allow
    assert "10.0.0.3" not in allow and "not-an-ip" not in allow and "192.168.2.1" not in allow
    assert not AllowList([]) and str(AllowList([])) == "nobody"
    with pytest.raises(ValueError):
        AllowList(["300.1.1.1"])


@pytest.mark.parametrize(("host", "loop"), [("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True),
                                            ("::1", True), ("0.0.0.0", False), ("192.168.1.5", False)])
def test_is_loopback(host, loop):
    assert is_loopback(host) is loop


def _bundle(*elements: bytes) -> bytes:
    import struct

    return b"#bundle\x00" + b"\x00" * 8 + b"".join(struct.pack(">i", len(e)) + e for e in elements)


def test_a_datagram_of_more_than_max_messages_is_one_error_not_a_flood():
    from ditto_live.bridges.osc import MAX_MESSAGES

    ping = encode_message("/ditto/server/ping", ["x"])
    assert len(decode_packet(_bundle(*[ping] * MAX_MESSAGES))) == MAX_MESSAGES
    with pytest.raises(OscDecodeError, match=f"more than {MAX_MESSAGES} messages"):
        decode_packet(_bundle(*[ping] * (MAX_MESSAGES + 1)))


def test_bundles_nest_a_few_levels_but_not_without_end():
    from ditto_live.bridges.osc import MAX_BUNDLE_DEPTH

    packet = encode_message("/ditto/server/ping", ["deep"])
    for _ in range(MAX_BUNDLE_DEPTH):
        packet = _bundle(packet)
    assert decode_packet(packet)[0].args == ("deep",)
    with pytest.raises(OscDecodeError, match="nested deeper"):
        decode_packet(_bundle(packet))


def test_an_ipv4_mapped_allow_entry_matches_the_ipv4_client_it_names():
    """Issue 28: ``--allow ::ffff:127.0.0.1`` never matched (clients are compared by their IPv4 address)."""
    allow = AllowList(["::ffff:127.0.0.1", "::ffff:192.168.1.0/120"])
    assert "127.0.0.1" in allow and "::ffff:127.0.0.1" in allow and "192.168.1.77" in allow
    assert "192.168.2.1" not in allow and "::1" not in allow
