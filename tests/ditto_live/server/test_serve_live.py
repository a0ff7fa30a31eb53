"""`ditto-live serve --stream` and `serve --midi` end to end: the real server process, driven over real
OSC UDP, streaming into a private JACK dummy device and listening on a real JACK MIDI port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import mido
import pytest

from ditto_live.bridges.osc import UdpEndpoint
from tests.jack import jack_output_to, jack_server  # noqa: F401  (jack_server: pytest fixture)

from .conftest import Client
from .test_liblo_client import free_udp_port

C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]
STREAM_SPEC = {"model": "tiny-untrained", "seconds": 2.5, "steps": 6, "decode_steps": 1,
               "controls": [{"type": "intensity", "shape": "flat"}]}


def start_serve(tmp_path, *extra: str) -> tuple[subprocess.Popen, int]:
    port = free_udp_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ditto_live", "serve", "--port", str(port), "--output-dir", str(tmp_path / "out"),
         "--allowed-root", str(tmp_path), "--allow-untrained", *extra],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "serve.log", "w"),  # noqa: SIM115 (closed with the process)
        env={**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"})
    return proc, port


def connect(proc: subprocess.Popen, port: int, log_path, timeout: float = 90.0) -> Client:
    """A subscribed client once the server answers a ping (importing torch takes a while)."""
    client = Client(UdpEndpoint("127.0.0.1", 0), ("127.0.0.1", port))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"serve exited: {log_path.read_text()[-3000:]}"
        client.send("/ditto/server/ping", "up")
        try:
            client.expect_address("/ditto/server/pong", timeout=0.5)
            break
        except AssertionError:
            continue
    else:
        raise AssertionError(f"serve never answered: {log_path.read_text()[-3000:]}")
    client.confirm_host()  # the full status, and replies beyond twice a request's size
    client.subscribe(client.endpoint)
    return client


def status(client: Client) -> dict:
    client.send("/ditto/server/status")
    return json.loads(client.expect_address("/ditto/server/state").args[0])


def shut_down(proc: subprocess.Popen, client: Client | None) -> None:
    if client is not None:
        client.endpoint.close()
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.mark.jack
def test_serve_stream_plays_windows_into_jack_and_reports_underruns(jack_server, tmp_path):  # noqa: F811
    settings = tmp_path / "live.toml"  # the stream's settings come from the file, not flags
    settings.write_text('[server]\nthreads = 1\n[audio]\noutput_device = "system"\nbuffer_seconds = 3.0\n'
                        "block_size = 1024\nstream_budget = 0.6\nstream_overlap = 0.5\n")
    proc, port = start_serve(tmp_path, "--stream", "--config", str(settings))
    client = None
    try:
        client = connect(proc, port, tmp_path / "serve.log")
        assert status(client)["stream"] == "stopped"
        client.send("/ditto/stream/start", json.dumps(STREAM_SPEC))
        assert client.expect_address("/ditto/stream/state", timeout=10).args == ("running", 0)
        client.send("/ditto/control/set", "intensity", -20.0)
        assert client.expect_address("/ditto/control/value").args == ("intensity", -20.0)
        deadline = time.monotonic() + 120
        while (stats := status(client)["stream_stats"])["windows"] < 3 and time.monotonic() < deadline:
            assert stats["last_error"] is None, stats
            time.sleep(0.5)
        assert stats["windows"] >= 3, stats
        assert stats["frames_played"] > 0 and stats["state"] == "running"  # audio reached the JACK device
        assert stats["budget_fraction"] == 0.6 and stats["last_window"]["budget_s"] > 0  # [audio] stream_budget
        assert isinstance(stats["underruns"], int) and stats["steps_run_min"] is not None
        assert abs(stats["last_window"]["audio_s"] - 2.0) < 0.1  # 2.5 s windows less [audio] stream_overlap
        client.send("/ditto/stream/stop")
        stopped = client.expect(lambda m: m.address == "/ditto/stream/state" and m.args[0] == "stopped", timeout=30)
        after = status(client)["stream_stats"]
        assert after["state"] == "stopped" and stopped.args[1] == after["underruns"] >= stats["underruns"]
        assert after["frames_played"] >= stats["frames_played"]
    finally:
        shut_down(proc, client)
    assert proc.returncode == 0, (tmp_path / "serve.log").read_text()[-3000:]
    assert "stream stopped after" in (tmp_path / "serve.log").read_text()  # the run's report is logged




@pytest.mark.jack
def test_serve_midi_takes_a_played_scale_through_jack_into_a_job(jack_server, tmp_path):  # noqa: F811
    proc, port = start_serve(tmp_path, "--midi", "--fake-runner", "--set", "midi.intensity_cc=11")
    client, out = None, None
    try:
        client = connect(proc, port, tmp_path / "serve.log")
        out = jack_output_to("ditto-live:ditto-live")
        deadline = time.monotonic() + 10  # a JACK connection carries events a cycle or more after it is made
        while "intensity" not in status(client)["controls"] and time.monotonic() < deadline:
            out.send(mido.Message("control_change", control=11, value=127))
            time.sleep(0.1)
        assert status(client)["controls"]["intensity"] == -12.0  # the CC rides the live control
        client.send("/ditto/midi/reset")
        assert client.expect_address("/ditto/midi/state").args[0] == 0
        t0 = time.monotonic()
        for k, pitch in enumerate(C_MAJOR):  # eighth notes at the default 120 bpm
            time.sleep(max(0.0, t0 + 0.25 * k - time.monotonic()))
            out.send(mido.Message("note_on", note=pitch, velocity=90))
            time.sleep(max(0.0, t0 + 0.25 * (k + 1) - 0.02 - time.monotonic()))
            out.send(mido.Message("note_off", note=pitch))
        time.sleep(0.2)
        assert status(client)["midi"] == {"notes": 8, "bpm": 120.0}
        client.send("/ditto/midi/take", "scale", '{"seed": 2, "name": "scale"}')
        client.expect_address("/ditto/job/accepted", "scale")
        done = client.terminal("scale", timeout=20)
        assert done.address == "/ditto/job/done", done
        job = json.loads(open(json.loads(done.args[2])["sidecar"]).read())["job"]
        melody = next(c for c in job["controls"] if c["type"] == "melody")
        assert [n[0] for n in melody["notes"]] == C_MAJOR and job["seed"] == 2 and job["bars"] == 1
        assert [n[1] for n in melody["notes"]] == pytest.approx([0.5 * k for k in range(8)], abs=0.1)
    finally:
        if out is not None:
            out.close()
        shut_down(proc, client)
    assert proc.returncode == 0, (tmp_path / "serve.log").read_text()[-3000:]
