"""Findings 3 and 4 of issue 16 (reply spoofing and reflection, shared-slot exhaustion): replies go only to
the sender and the subscriptions it made; subscriptions and chunk slots are per client, with quotas and
expiry; replies to one datagram are bounded by its size; status floods are rate limited."""

from __future__ import annotations

import json
import struct
import time

from ditto_live.bridges.osc import MAX_MESSAGES, UdpEndpoint, decode_packet, encode_message
from ditto_live.server.clients import (
    REPLY_FLOOR_BYTES,
    UDP_OVERHEAD,
    ClientTable,
    Confirmation,
    QuotaExceeded,
    ReplyBudget,
    TokenBucket,
)

from .conftest import Client, job_json


def bundle(*messages: bytes) -> bytes:
    return b"#bundle\x00" + b"\x00" * 7 + b"\x01" + b"".join(struct.pack(">i", len(m)) + m for m in messages)


def received_bytes(client: Client, quiet_s: float = 0.3) -> int:
    """Bytes received until quiet (the messages land in ``client.seen``)."""
    total = 0
    while (dgram := client.endpoint.receive(quiet_s)) is not None:
        total += len(dgram.data)
        client.seen += decode_packet(dgram.data)
    return total


def test_a_subscription_hears_only_the_replies_of_the_client_that_made_it(make_server, client_for):
    server = make_server()
    victim, snoop = client_for(server), client_for(server)
    ear = UdpEndpoint("127.0.0.1", 0)
    try:
        snoop.subscribe(ear)
        victim.send("/ditto/job/submit", "private", job_json(name="private"))
        assert victim.terminal("private").address == "/ditto/job/done"
        heard = Client(ear, server.address).drain(0.3)
        assert [m for m in heard if m.args and m.args[0] == "private"] == []
        snoop.send("/ditto/job/submit", "shared", job_json(name="shared"))  # its own job: the subscription hears it
        snoop.terminal("shared")
        assert any(m.address == "/ditto/job/done" for m in Client(ear, server.address).drain(0.3))
    finally:
        ear.close()


def test_subscriptions_are_a_quota_per_client_so_one_client_cannot_take_them_all(make_server, client_for):
    server = make_server(max_subscriptions=2)
    hog, other = client_for(server), client_for(server)
    ears = [UdpEndpoint("127.0.0.1", 0) for _ in range(3)]
    for ear in ears[:2]:
        assert hog.subscribe(ear).args == (ear.address[1], 1)
    hog.send("/ditto/client/subscribe", ears[2].address[1])
    error = hog.expect_address("/ditto/error")
    assert error.args[0] == "busy" and "server.max_subscriptions" in error.args[1]
    assert other.subscribe(other.endpoint).args[1] == 1
    for ear in ears:
        ear.close()


def test_an_idle_client_without_jobs_is_forgotten_with_its_subscriptions(make_server, client_for):
    server = make_server(client_ttl_s=0.4)
    client = client_for(server)
    client.subscribe(client.endpoint)
    server.notify_stream_state("running", 0)
    assert client.expect_address("/ditto/stream/state").args[0] == "running"
    deadline = time.monotonic() + 5
    while len(server._clients) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(server._clients) == 0
    server.notify_stream_state("stopped", 0)
    assert client.drain(0.3) == []  # its subscription expired with it


def test_chunk_slots_are_a_quota_per_client(make_server, client_for):
    server = make_server(max_chunked=2)
    hog, other = client_for(server), client_for(server)
    for i in range(2):
        hog.send("/ditto/job/chunk", f"p{i}", 0, 2, job_json()[:10])
    hog.send("/ditto/job/chunk", "p2", 0, 2, job_json()[:10])
    error = hog.terminal("p2")
    assert error.args[1] == "busy" and "server.max_chunked" in error.args[2]
    text = job_json(name="fine")
    other.send("/ditto/job/chunk", "fine", 0, 2, text[:10])
    other.send("/ditto/job/chunk", "fine", 1, 2, text[10:])
    assert other.terminal("fine").address == "/ditto/job/done"


def test_resending_a_piece_does_not_keep_a_chunk_slot_alive(make_server, client_for):
    server = make_server(chunk_timeout_s=0.6)
    client = client_for(server)
    t0 = time.monotonic()
    for _ in range(8):  # a piece every 0.15 s: the slot still expires 0.6 s after the first
        client.send("/ditto/job/chunk", "held", 0, 2, job_json()[:10])
        time.sleep(0.15)
    error = client.terminal("held", timeout=2.0)
    assert error.args[1] == "bad_request" and "of the first" in error.args[2]
    assert time.monotonic() - t0 < 1.6


def test_a_bundle_of_status_requests_cannot_make_more_replies_than_its_own_size(make_server, client_for):
    server = make_server(status_per_s=1000)  # the budget alone, without the rate limit
    client = client_for(server)
    request = bundle(*[encode_message("/ditto/server/status")] * MAX_MESSAGES)
    client.send_raw(request)
    got = received_bytes(client)
    assert got <= max(REPLY_FLOOR_BYTES, len(request)) + 512  # plus the one notice of what was withheld
    assert any(m.address == "/ditto/error" and m.args[0] == "busy" and "withheld" in m.args[1] for m in client.seen)


def test_the_issues_65_kb_bundle_of_2030_status_requests_is_one_error(make_server, client_for):
    server = make_server()
    client = client_for(server)
    request = bundle(*[encode_message("/ditto/server/status")] * 2030)
    assert len(request) > 40_000
    client.send_raw(request)
    assert received_bytes(client) < 600
    assert [m.args[0] for m in client.seen] == ["bad_request"]
    assert f"more than {MAX_MESSAGES} messages" in client.seen[0].args[1]


def test_a_status_flood_is_rate_limited_with_one_notice_a_second(make_server, client_for):
    server = make_server(status_per_s=4)
    client = client_for(server)
    for _ in range(60):
        client.send("/ditto/server/status")
    client.drain(0.5)
    states = [m for m in client.seen if m.address == "/ditto/server/state"]
    notices = [m for m in client.seen if m.address == "/ditto/error"]
    assert 8 <= len(states) <= 12  # a burst of 8, then 4 a second
    assert 1 <= len(notices) <= 2 and "server.status_per_s" in notices[0].args[1]
    client.send("/ditto/server/ping", "still-there")  # pings are not rate limited
    assert client.expect_address("/ditto/server/pong").args[0] == "still-there"


def test_status_names_only_the_asking_clients_jobs(make_server, client_for, out_dir):
    from ditto_live.runner.fake import FakeRunner

    server = make_server(runner=FakeRunner(out_dir, steps=40, step_s=0.01))
    owner, other = client_for(server), client_for(server)
    owner.send("/ditto/job/submit", "secret-id", job_json(name="s"))
    owner.expect_address("/ditto/job/progress", "secret-id")
    other.send("/ditto/server/status")
    theirs = json.loads(other.expect_address("/ditto/server/state").args[0])
    assert theirs["running"] is None and theirs["busy"] is True and "secret-id" not in json.dumps(theirs)
    owner.send("/ditto/server/status")
    assert json.loads(owner.expect_address("/ditto/server/state").args[0])["running"] == "secret-id"
    owner.terminal("secret-id")


def test_the_client_table_forgets_the_longest_idle_client_without_a_job_when_full():
    now = [0.0]
    busy = {("h", 1)}
    table = ClientTable(max_clients=2, ttl_s=100, max_subscriptions=1, status_per_s=1,
                        has_jobs=lambda a: a in busy, clock=lambda: now[0])
    table.touch(("h", 1))
    table.touch(("h", 2))
    table.touch(("h", 3))  # ("h", 1) is older but has a job: ("h", 2) makes room
    assert table.describe(("h", 1))["clients"] == 2 and table.controls_of(("h", 2)) == {}
    code = table.subscribe(("h", 3), 7)
    assert table.subscribers_of(("h", 3)) == []  # pending until its code comes back
    assert table.confirm(("h", 99), code) == Confirmation("h", ("h", 3), 7)
    assert table.subscribers_of(("h", 3)) == [("h", 7)] and table.confirmed("h")
    try:
        table.subscribe(("h", 3), 8)
        raise AssertionError("a second subscription passed a quota of one")
    except QuotaExceeded as exc:
        assert "server.max_subscriptions" in str(exc)
    now[0] = 200.0
    assert table.expire() == [("h", 3)]  # idle without a job; ("h", 1) still has one


def test_a_token_bucket_allows_its_burst_then_its_rate():
    now = [0.0]
    bucket = TokenBucket(rate=2, burst=4, clock=lambda: now[0])
    assert [bucket.take() for _ in range(5)] == [True] * 4 + [False]
    now[0] = 0.5
    assert bucket.take() and not bucket.take()


def test_a_reply_budget_is_the_larger_of_the_floor_and_the_request_for_all_destinations_together():
    small, large = ReplyBudget(20), ReplyBudget(10_000)
    assert small.limit == REPLY_FLOOR_BYTES and large.limit == 10_000 + UDP_OVERHEAD
    assert small.allow(REPLY_FLOOR_BYTES // 2 - UDP_OVERHEAD, destinations=2) and not small.allow(1)
    assert small.withheld == 1


def test_an_unconfirmed_hosts_budget_is_twice_its_request_on_the_wire():
    budget = ReplyBudget(100, confirmed=False)
    assert budget.limit == 2 * (100 + UDP_OVERHEAD)
    assert not budget.allow(2 * 100 + UDP_OVERHEAD + 1)
    assert budget.allow(2 * 100 + UDP_OVERHEAD) and not budget.allow(0)
