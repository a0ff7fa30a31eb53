"""Fixtures for the server tests: a server on an ephemeral loopback port with a FakeRunner, and an
OSC client that collects replies."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ditto_live.bridges.osc import OscEndpoint, OscMessage, UdpEndpoint, decode_packet
from ditto_live.config import ServerConfig
from ditto_live.runner.fake import FakeRunner
from ditto_live.server.server import Server

INTENSITY_JOB = {"seconds": 1.0, "seed": 3, "controls": [{"type": "intensity", "shape": "crescendo"}]}


def job_json(**overrides: Any) -> str:
    return json.dumps({**INTENSITY_JOB, **overrides})


class FakeStream:
    """A stand-in for ditto_live/server/stream.py: remembers what it was told."""

    def __init__(self) -> None:
        self.current = "stopped"
        self.started_with: list[Any] = []
        self.controls: dict[str, float] = {}

    def start(self, spec: Any) -> None:
        self.started_with.append(spec)
        self.current = "running"

    def stop(self) -> None:
        self.current = "stopped"

    def state(self) -> tuple[str, int]:
        return self.current, 0

    def set_control(self, name: str, value: float) -> None:
        self.controls[name] = value

    def stats(self) -> dict[str, Any]:
        return {"state": self.current, "underruns": 0}


class FakeMidiTake:
    """A stand-in for ditto_live/server/midi_control.py's take: two notes, or empty after reset()."""

    def __init__(self) -> None:
        self.notes = [[60, 0.0, 1.0], [64, 1.0, 1.0]]

    def take_job(self, base: dict[str, Any] | None = None) -> dict[str, Any]:
        if not self.notes:
            raise ValueError("the MIDI take is empty")
        controls = [c for c in (base or {}).get("controls", []) if c.get("type") != "melody"]
        return {**(base or {}), "bars": 1, "controls": controls + [{"type": "melody", "notes": self.notes}]}

    def reset(self) -> None:
        self.notes = []

    def take_state(self) -> tuple[int, float]:
        return len(self.notes), 120.0


class Client:
    """An OSC client on its own endpoint; ``expect`` reads replies until one matches."""

    def __init__(self, endpoint: OscEndpoint, server: tuple[str, int]) -> None:
        self.endpoint = endpoint
        self.server = server
        self.seen: list[OscMessage] = []  # every reply received
        self._unmatched: list[OscMessage] = []  # replies no expect() has returned yet

    def send(self, address: str, *args: Any, types: str | None = None) -> None:
        self.endpoint.send(address, list(args), self.server, types)

    def send_raw(self, data: bytes) -> None:
        self.endpoint.send_raw(data, self.server)

    def expect(self, pred: Callable[[OscMessage], bool], timeout: float = 5.0) -> OscMessage:
        """The first not-yet-matched reply satisfying ``pred`` (earlier replies are searched first)."""
        deadline = time.monotonic() + timeout
        while True:
            for i, msg in enumerate(self._unmatched):
                if pred(msg):
                    return self._unmatched.pop(i)
            if time.monotonic() >= deadline:
                break
            dgram = self.endpoint.receive(min(0.2, max(0.0, deadline - time.monotonic())))
            if dgram is not None:
                msgs = decode_packet(dgram.data)
                self.seen += msgs
                self._unmatched += msgs
        raise AssertionError(f"no matching reply within {timeout} s; seen: {self.seen[-10:]}")

    def expect_address(self, address: str, job_id: str | None = None, timeout: float = 5.0) -> OscMessage:
        return self.expect(lambda m: m.address == address and (job_id is None or m.args[0] == job_id), timeout)

    def terminal(self, job_id: str, timeout: float = 5.0) -> OscMessage:
        """The job's terminal reply (done or error)."""
        return self.expect(lambda m: m.address in ("/ditto/job/done", "/ditto/job/error")
                           and m.args[0] == job_id, timeout)

    def subscribe(self, ear: OscEndpoint) -> OscMessage:
        """Subscribe ``ear``'s port the way a client does: ask, read the code ``ear`` gets, send it back
        (its own port on a confirmed host needs no code). -> the ``subscribed ... 1`` reply."""
        port = ear.address[1]

        def on(m: OscMessage) -> bool:
            return m.address == "/ditto/client/subscribed" and m.args == (port, 1)

        self.send("/ditto/client/subscribe", port)
        if ear is self.endpoint:
            got = self.expect(lambda m: on(m) or m.address == "/ditto/client/challenge")
            if on(got):
                return got
        else:
            got = Client(ear, self.server).expect_address("/ditto/client/challenge")
        self.send("/ditto/client/confirm", got.args[0])
        return self.expect(on)

    def confirm_host(self) -> None:
        """Confirm this client's host the way a client does: the short status's code, sent back."""
        self.send("/ditto/server/status")
        state = json.loads(self.expect_address("/ditto/server/state").args[0])
        if "code" in state:
            self.send("/ditto/client/confirm", state["code"])
            self.expect_address("/ditto/client/subscribed")

    def drain(self, quiet_s: float = 0.2) -> list[OscMessage]:
        """Read until nothing arrives for ``quiet_s``."""
        got: list[OscMessage] = []
        while (dgram := self.endpoint.receive(quiet_s)) is not None:
            msgs = decode_packet(dgram.data)
            self.seen += msgs
            self._unmatched += msgs
            got += msgs
        return got


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    return d


@pytest.fixture
def make_server(tmp_path: Path, out_dir: Path):
    """Build and start servers (stopped at teardown): make_server(runner=..., stream=..., warm=..., **config)."""
    servers: list[Server] = []

    def make(runner: Any = None, stream: Any = None, endpoint: Any = None, chunk_timeout_s: float = 30.0,
             live_controls: dict[str, float] | None = None, midi: Any = None, warm: bool = True,
             confirmed: bool = True, **cfg: Any) -> Server:
        defaults = dict(host="127.0.0.1", port=0, output_dir=str(out_dir), allowed_roots=(str(tmp_path),),
                        progress_interval_s=0.0)
        config = ServerConfig(**{**defaults, **cfg})
        runner = runner if runner is not None else FakeRunner(out_dir, steps=4, step_s=0.005)
        server = Server(config, runner, stream=stream, endpoint=endpoint, chunk_timeout_s=chunk_timeout_s,
                        live_controls=live_controls, midi=midi, warm=warm)
        servers.append(server.start())
        if confirmed:  # as if the test's host had sent back its code (test_amplification.py covers the rest)
            server._clients.confirm_host(server.address[0])
        return server

    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def client_for():
    """client_for(server) -> a Client on a fresh UDP port (closed at teardown)."""
    endpoints: list[UdpEndpoint] = []

    def make(server: Server) -> Client:
        ep = UdpEndpoint("127.0.0.1", 0)
        endpoints.append(ep)
        return Client(ep, server.address)

    yield make
    for ep in endpoints:
        ep.close()
