"""A bounded soak (issue 16's "done when"): several clients at once over real UDP on 127.0.0.1 send valid
jobs (plain and chunked, with live controls set and reset), hostile requests (over the work budget,
poisoned controls, other clients' cancels, hostile paths, quota grabs, status floods) and malformed
datagrams, while one more client submits jobs without pause (issue 28's fair queue: the others' jobs are
never busy because of it). It ends with every valid job done, every hostile request refused at once, the
server's memory flat, and no orphan files. The default run uses the FakeRunner for ~20 s; ``-m slow`` runs the real
engine (the random-weight tiny model)."""

from __future__ import annotations

import json
import os
import random
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ditto_live.bridges.osc import encode_message
from ditto_live.runner.fake import FakeRunner

from .conftest import Client

REFUSE_WITHIN_S = 1.0  # a hostile request's refusal arrives within this
HOSTILE_JOBS = [  # (job JSON, the error code it must get)
    (json.dumps({"bars": 64, "bpm": 1}), "bad_request"),
    (json.dumps({"bars": 64, "bpm": 20}), "bad_request"),
    (json.dumps({"seconds": 60, "steps": 2000, "seeds": 16, "controls": [{"type": "loop"}]}), "bad_request"),
    (json.dumps({"seconds": 1, "name": "café"}), "bad_request"),
    ('{"\\ud800": 1}', "bad_request"),
    ("@/etc/passwd", "forbidden"),
    ("@~/.bashrc", "forbidden"),
    ("@relative/job.json", "forbidden"),
    (json.dumps({"controls": [{"type": "melody", "midi": "/etc/hostname"}]}), "forbidden"),
    ("{not json", "bad_request"),
]
POISON = [("bpm", 0.0), ("bpm", -5.0), ("cfg", 1e30), ("seed", 1e30), ("intensity", 1e30)]
MALFORMED = [b"", b"\x00" * 12, b"#bundle\x00" + b"\x00" * 8, b"#bundle\x00" + b"\x00" * 8 + struct.pack(">i", 0),
             b"/ditto/job/submit\x00\x00\x00,ss\x00", encode_message("/ditto/job/submit", [1, 2.0])]


REFUSALS: list[str] = []  # the code of every refusal seen (the soak checks there were plenty)


def rss_kb() -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))


def valid_client(client: Client, tag: str, until: float, job: Callable[[int], dict], done: list[str],
                 failures: list[str]) -> None:
    """Jobs one after another, every third chunked, with controls set and reset between them."""
    i = 0
    while time.monotonic() < until:
        job_id = f"{tag}-{i}"
        spec = json.dumps({**job(i), "name": tag})
        if i % 4 == 1:
            client.send("/ditto/control/set", "seed", float(i), types="sf")
            client.expect_address("/ditto/control/value")
        elif i % 4 == 3:
            client.send("/ditto/control/reset", "")
            client.expect_address("/ditto/control/state")
        if i % 3 == 2:
            pieces = [spec[k:k + 40] for k in range(0, len(spec), 40)]
            for k, piece in reversed(list(enumerate(pieces))):
                client.send("/ditto/job/chunk", job_id, k, len(pieces), piece)
        else:
            client.send("/ditto/job/submit", job_id, spec)
        reply = client.terminal(job_id, timeout=60)
        if reply.address != "/ditto/job/done":
            failures.append(f"valid {job_id}: {reply.args}")
        else:
            done.append(reply.args[1])
        i += 1


def refused(client: Client, pred: Callable, what: str, failures: list[str], codes: tuple[str, ...] = ()) -> None:
    """The reply matching ``pred`` arrives within REFUSE_WITHIN_S with one of ``codes`` (any when empty)."""
    t0 = time.monotonic()
    try:
        reply = client.expect(pred, timeout=REFUSE_WITHIN_S)
    except AssertionError:
        failures.append(f"hostile {what}: no refusal within {REFUSE_WITHIN_S} s")
        return
    got = reply.args[1] if reply.address == "/ditto/job/error" else reply.args[0]
    if codes and got not in codes:
        failures.append(f"hostile {what}: {reply.address} {reply.args} (expected {' or '.join(codes)})")
    if time.monotonic() - t0 > REFUSE_WITHIN_S:
        failures.append(f"hostile {what}: refused late")
    REFUSALS.append(got)


def forget(client: Client) -> None:
    """Drop what a grab or a flood brought back, so the next refusal is matched fresh."""
    client.drain(0.05)
    client._unmatched.clear()


def hostile_client(client: Client, until: float, failures: list[str]) -> None:
    rng = random.Random(7)
    n = 0
    while time.monotonic() < until:
        n += 1
        kind = n % 6
        if kind == 0:
            spec, code = HOSTILE_JOBS[n % len(HOSTILE_JOBS)]
            client.send("/ditto/job/submit", f"h{n}", spec)
            refused(client, lambda m, j=f"h{n}": m.address == "/ditto/job/error" and m.args[0] == j, spec, failures,
                    (code,))
        elif kind == 1:
            name, value = POISON[n % len(POISON)]
            client.send("/ditto/control/set", name, value, types="sf")
            refused(client, lambda m, c=name: m.address == "/ditto/error" and f"control {c} " in m.args[1],
                    f"control {name}={value}", failures, ("bad_request",))
        elif kind == 2:  # another client's job (its ids follow a pattern, as if read from a status)
            victim = f"v0-{n // 12}"
            client.send("/ditto/job/cancel", victim)
            refused(client, lambda m, v=victim: m.address == "/ditto/job/error" and m.args[0] == v, "cancel", failures,
                    ("forbidden", "not_found"))
        elif kind == 3:  # grab chunk slots: the fifth is busy, the rest expire
            client.send("/ditto/job/chunk", f"grab{n}", 0, 2, "{")
            forget(client)
        elif kind == 4 and n % 12 == 4:  # subscribe the server to itself (issue 28's reply loop): refused
            client.send("/ditto/client/subscribe", client.server[1])
            refused(client, lambda m: m.address == "/ditto/error" and "own port" in m.args[1], "self-subscription",
                    failures, ("bad_request",))
        elif kind == 4:  # grab subscriptions past the quota
            client.send("/ditto/client/subscribe", 20000 + n % 9)
            forget(client)
        else:  # a status flood
            for _ in range(20):
                client.send("/ditto/server/status")
            forget(client)
        time.sleep(rng.uniform(0.0, 0.02))


def malformed_client(client: Client, until: float, failures: list[str]) -> None:
    n = 0
    while time.monotonic() < until:
        data = MALFORMED[n % len(MALFORMED)]
        n += 1
        if not data:
            continue  # an empty UDP datagram: some kernels never deliver it
        client.send_raw(data)
        refused(client, lambda m: m.address in ("/ditto/error", "/ditto/job/error"), f"malformed {data[:20]!r}",
                failures)
        time.sleep(0.01)


def flood_client(client: Client, until: float, job: Callable[[int], dict], done: list[str],
                 failures: list[str]) -> None:
    """Submit without waiting for replies (busy is its lot once it holds its share); collect what it got done."""
    sent = 0
    ended: set[str] = set()
    busy = 0

    def collect(timeout: float) -> None:
        nonlocal busy
        for m in client.drain(timeout):
            if m.address in ("/ditto/job/done", "/ditto/job/error") and m.args[0] not in ended:
                ended.add(m.args[0])
                if m.address == "/ditto/job/done":
                    done.append(m.args[1])
                busy += m.address == "/ditto/job/error" and m.args[1] == "busy"

    while time.monotonic() < until:
        client.send("/ditto/job/submit", f"flood-{sent}", json.dumps({**job(sent), "name": "flood"}))
        sent += 1
        collect(0.01)
    deadline = time.monotonic() + 60
    while len(ended) < sent and time.monotonic() < deadline:
        collect(0.2)
    if len(ended) != sent:
        failures.append(f"flood: {sent - len(ended)} of {sent} jobs without a terminal reply")
    if busy == 0:
        failures.append(f"flood: {sent} jobs and never busy: it did not flood")


def soak(server, client_for, out_dir: Path, seconds: float, job: Callable[[int], dict], valid: int = 3) -> int:
    """Run the mixed traffic for ``seconds``; assert the outcome; -> valid jobs done."""
    done: list[str] = []
    failures: list[str] = []
    prime = client_for(server)  # one job first: the engine's caches (model, allocator, JIT) are not growth
    prime.send("/ditto/job/submit", "prime", json.dumps({**job(0), "name": "prime"}))
    first = prime.terminal("prime", timeout=120)
    assert first.address == "/ditto/job/done", first.args
    done.append(first.args[1])
    until = time.monotonic() + seconds
    valid_clients = [client_for(server) for _ in range(valid)]
    hostile, broken, flood = client_for(server), client_for(server), client_for(server)
    threads = [threading.Thread(target=valid_client, args=(c, f"v{k}", until, job, done, failures))
               for k, c in enumerate(valid_clients)]
    threads += [threading.Thread(target=hostile_client, args=(hostile, until, failures)),
                threading.Thread(target=malformed_client, args=(broken, until, failures)),
                threading.Thread(target=flood_client, args=(flood, until, job, done, failures))]
    rss = []
    REFUSALS.clear()
    for t in threads:
        t.start()
    time.sleep(seconds / 3)
    rss.append(rss_kb())
    for t in threads:
        t.join(seconds + 90)
    rss.append(rss_kb())
    assert not failures, failures[:10]
    assert len(REFUSALS) > 10 * seconds and "forbidden" in REFUSALS and "bad_request" in REFUSALS
    assert server.alive
    wavs = sorted(out_dir.glob("*.wav"))
    assert len(wavs) == len(done) > 0
    assert all(w.with_suffix(".json").is_file() for w in wavs), "a WAV without its sidecar"
    assert [p for p in out_dir.rglob("*.part")] == [], "temp files left"
    growth_mb = (rss[1] - rss[0]) / 1024
    assert growth_mb < 40, f"RSS grew {growth_mb:.1f} MB over the soak"
    assert len(server._clients) <= valid + 4  # the valid ones, the hostile, the malformed, the flood, the primer
    return len(done)


def test_soak_mixed_valid_hostile_and_malformed_traffic_from_several_clients(make_server, client_for, out_dir):
    runner = FakeRunner(out_dir, steps=3, step_s=0.003, seconds=0.05)
    server = make_server(runner=runner, chunk_timeout_s=2.0, queue_size=8)
    seconds = float(os.environ.get("DITTO_SOAK_S", "20"))
    jobs = soak(server, client_for, out_dir, seconds,
                lambda i: {"seconds": 0.5, "controls": [{"type": "intensity", "shape": "swell"}]})
    assert jobs >= 30


@pytest.mark.slow
def test_soak_with_the_real_engine(make_server, client_for, out_dir, tmp_path):
    from ditto_live.runner.jobs import JobRunner

    runner = JobRunner(output_dir=str(out_dir), allowed_roots=(str(tmp_path),), device="cpu", measure=False,
                       warm_model="")
    server = make_server(runner=runner, chunk_timeout_s=2.0, allow_untrained=True)
    seconds = float(os.environ.get("DITTO_SOAK_S", "120"))
    soak(server, client_for, out_dir, seconds, lambda i: {
        "model": "tiny-untrained", "seconds": 1.0, "steps": 3, "decode_steps": 1, "seed": i,
        "controls": [{"type": "intensity", "shape": "crescendo"}]}, valid=2)
