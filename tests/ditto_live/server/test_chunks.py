"""Chunked payloads: pieces reassemble in any order; the limits (pieces, bytes, payloads in flight,
idle time) hold; through the server a long job spent in chunks over UDP runs, and broken or stale
chunk streams end with one error reply."""

from __future__ import annotations

import json
import random

import pytest

from ditto_live.server.chunks import ChunkAssembler, ChunkError


def split_payload(text: str, piece_chars: int) -> list[str]:
    """A client's side: a payload in pieces of at most ``piece_chars`` characters."""
    return [text[i:i + piece_chars] for i in range(0, len(text), piece_chars)] or [""]


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_pieces_reassemble_in_any_order_and_repeats_are_harmless():
    text = "".join(chr(ord("a") + i % 26) for i in range(1000)) + "é"
    pieces = split_payload(text, 64)
    order = list(range(len(pieces)))
    random.Random(0).shuffle(order)
    asm = ChunkAssembler(max_chunks=64, max_payload_bytes=10_000, timeout_s=5)
    results = [asm.add("k", i, len(pieces), pieces[i]) for i in order[:-1]]
    assert results == [None] * (len(pieces) - 1)
    assert asm.add("k", order[0], len(pieces), pieces[order[0]]) is None  # a duplicated datagram
    assert asm.add("k", order[-1], len(pieces), pieces[order[-1]]) == text
    assert len(asm) == 0


@pytest.mark.parametrize(("index", "total", "code"), [
    (0, 100, "too_large"), (0, 0, "bad_request"), (5, 5, "bad_request"), (-1, 3, "bad_request")])
def test_index_and_total_limits(index, total, code):
    asm = ChunkAssembler(max_chunks=10, max_payload_bytes=1000, timeout_s=5)
    with pytest.raises(ChunkError) as err:
        asm.add("k", index, total, "x")
    assert err.value.code == code and len(asm) == 0


def test_payload_byte_limit_counts_utf8_and_forgets_the_payload():
    asm = ChunkAssembler(max_chunks=10, max_payload_bytes=100, timeout_s=5)
    asm.add("k", 0, 3, "é" * 40)  # 80 bytes
    with pytest.raises(ChunkError) as err:
        asm.add("k", 1, 3, "é" * 11)  # +22 bytes
    assert err.value.code == "too_large" and "k" not in asm


def test_a_total_that_changes_midway_is_refused():
    asm = ChunkAssembler(max_chunks=10, max_payload_bytes=100, timeout_s=5)
    asm.add("k", 0, 3, "a")
    with pytest.raises(ChunkError, match="disagrees"):
        asm.add("k", 1, 4, "b")


def test_payloads_in_flight_are_limited():
    asm = ChunkAssembler(max_chunks=10, max_payload_bytes=100, timeout_s=5, max_pending=2)
    asm.add("a", 0, 2, "x")
    asm.add("b", 0, 2, "x")
    with pytest.raises(ChunkError) as err:
        asm.add("c", 0, 2, "x")
    assert err.value.code == "busy"
    assert asm.add("a", 1, 2, "y") == "xy"  # the others are untouched


def test_idle_partial_payloads_expire():
    clock = Clock()
    asm = ChunkAssembler(max_chunks=10, max_payload_bytes=100, timeout_s=2.0, clock=clock)
    asm.add("old", 0, 3, "a")
    clock.t = 1.5
    asm.add("new", 0, 2, "a")
    assert asm.expire() == []
    clock.t = 2.5
    assert asm.expire() == [("old", 1, 3)]
    assert "new" in asm and "old" not in asm


# -- through the server -------------------------------------------------------------------------------
def long_job() -> str:
    notes = [[60 + i % 12, i * 0.25, 0.25] for i in range(600)]
    return json.dumps({"seconds": 2.0, "name": "chunked",
                       "controls": [{"type": "melody", "notes": notes, "unit": "beats"}]})


def test_a_long_spec_sent_in_shuffled_chunks_over_udp_runs(make_server, client_for):
    text = long_job()
    assert len(text) > 8000  # too big for a comfortable datagram
    pieces = split_payload(text, 1000)
    server = make_server()
    client = client_for(server)
    order = list(range(len(pieces)))
    random.Random(1).shuffle(order)
    for i in order:
        client.send("/ditto/job/chunk", "ch", i, len(pieces), pieces[i])
    assert client.expect_address("/ditto/job/accepted", "ch")
    done = client.terminal("ch")
    assert done.address == "/ditto/job/done" and "chunked-" in done.args[1]


def test_too_many_chunks_and_too_many_bytes_are_too_large(make_server, client_for):
    server = make_server(max_chunks=4, max_payload_bytes=3000)
    client = client_for(server)
    client.send("/ditto/job/chunk", "many", 0, 5, "{")
    assert client.terminal("many").args[1] == "too_large"
    client.send("/ditto/job/chunk", "fat", 0, 2, "x" * 2000)
    client.send("/ditto/job/chunk", "fat", 1, 2, "x" * 2000)
    assert client.terminal("fat").args[1] == "too_large"


def test_a_stale_partial_payload_ends_with_an_error(make_server, client_for):
    server = make_server(chunk_timeout_s=0.3)
    client = client_for(server)
    client.send("/ditto/job/chunk", "stale", 0, 3, "{")
    err = client.terminal("stale", timeout=3.0)
    assert err.args[1] == "bad_request" and "1 of 3" in err.args[2]


def test_chunks_that_join_into_an_invalid_spec_get_bad_request(make_server, client_for):
    server = make_server()
    client = client_for(server)
    client.send("/ditto/job/chunk", "junk", 0, 2, '{"steps": ')
    client.send("/ditto/job/chunk", "junk", 1, 2, '"lots"}')
    err = client.terminal("junk")
    assert err.args[1] == "bad_request" and "job.steps" in err.args[2]
