"""A burst of 500 job requests over real UDP: the bounded queue answers the overflow with "busy" at
once, every accepted job completes with one done, and a second burst leaves memory where the first
left it (tracemalloc before/after)."""

from __future__ import annotations

import gc
import time
import tracemalloc

from ditto_live.bridges.osc import decode_packet
from ditto_live.runner.fake import FakeRunner

from .conftest import job_json

N = 500


def burst(client, tag: str, status: list[str]) -> None:
    """Send N submits as fast as possible, then read until every request has its terminal reply."""
    spec = job_json(name="burst")
    for i in range(N):
        client.send("/ditto/job/submit", f"{tag}{i}", spec)
    pending = N
    deadline = time.monotonic() + 30
    while pending and time.monotonic() < deadline:
        dgram = client.endpoint.receive(0.5)
        if dgram is None:
            continue
        for msg in decode_packet(dgram.data):
            i = int(msg.args[0][len(tag):])
            if msg.address == "/ditto/job/accepted":
                assert status[i] == "", (i, status[i])
                status[i] = "accepted"
            elif msg.address == "/ditto/job/done":
                assert status[i] == "accepted", (i, status[i])
                status[i] = "done"
                pending -= 1
            elif msg.address == "/ditto/job/error":
                assert status[i] == "" and msg.args[1] == "busy", (i, status[i], msg.args)
                status[i] = "busy"
                pending -= 1
    assert pending == 0, f"{pending} requests got no terminal reply"


def test_burst_of_500_gets_busy_errors_completes_accepted_jobs_and_does_not_grow(make_server, client_for,
                                                                                  out_dir):
    server = make_server(runner=FakeRunner(out_dir, steps=2, step_s=0.002, seconds=0.05), queue_size=8,
                         max_queued_per_client=8)  # the whole queue to one client: its bound is what is tested
    client = client_for(server)
    first, second = [""] * N, [""] * N  # preallocated so the measurement sees only the server
    burst(client, "a", first)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        burst(client, "b", second)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    for status in (first, second):
        assert set(status) == {"done", "busy"}, set(status)
        assert status.count("busy") > 0 and status.count("done") >= 9  # the queue (8) + the running one
    diffs = after.compare_to(before, "lineno")
    growth = sum(s.size_diff for s in diffs)
    # the bounded job history (256 entries) accounts for ~12 KB; a leak of 40 B per request would add 20 KB
    assert growth < 32 * 1024, f"memory grew by {growth} bytes over a burst of {N}"
    assert server.alive and server._queue.snapshot()["queued"] == []
    assert len(list(out_dir.glob("burst-*.wav"))) == first.count("done") + second.count("done")
