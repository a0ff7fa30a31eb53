"""`ditto-live serve` answers OSC on the port it is given and shuts down cleanly on Ctrl-C and SIGTERM;
its flags map onto [server]; `ditto-live demo` sends a real OSC job over loopback and writes WAV + PNG."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

import pytest

from ditto_live.bridges.osc import UdpEndpoint
from ditto_live.cli import main
from ditto_live.commands import serve
from ditto_live.config import load_config
from ditto_live.errors import UsageError

from .conftest import Client
from .test_liblo_client import free_udp_port


def start_serve(tmp_path, *extra):
    port = free_udp_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ditto_live", "serve", "--fake-runner", "--port", str(port),
         "--output-dir", str(tmp_path / "out"), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return proc, port


def ping_until_up(port, timeout=20.0):
    ep = UdpEndpoint("127.0.0.1", 0)
    client = Client(ep, ("127.0.0.1", port))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        client.send("/ditto/server/ping", "up")
        try:
            return client, client.expect_address("/ditto/server/pong", timeout=0.5)
        except AssertionError:
            continue
    ep.close()
    raise AssertionError("serve never answered")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_answers_and_shuts_down_cleanly_on_a_signal(tmp_path, sig):
    proc, port = start_serve(tmp_path)
    try:
        client, pong = ping_until_up(port)
        assert pong.args == ("up", 1)
        client.send("/ditto/job/submit", "cli", '{"seconds": 1.0}')
        client.expect_address("/ditto/job/progress", "cli")
        proc.send_signal(sig)
        assert proc.wait(10) == 0
        assert client.terminal("cli").args[1] == "cancelled"  # the running job's client is told
        client.endpoint.close()
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = proc.stderr.read()
    assert f"serving OSC on 127.0.0.1:{port}" in stderr


def test_serve_flags_map_onto_the_server_config():
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    args = parser.parse_args(["--host", "0.0.0.0", "--port", "9100", "--reply-port", "9101", "--allow",
                              "192.168.1.0/24", "--allow", "10.0.0.2", "--output-dir", "/tmp/o",
                              "--allowed-root", "/data", "--queue-size", "3"])
    cfg = serve.server_config(load_config(None, ["server.progress_interval_s=0.5"]), args)
    assert (cfg.host, cfg.port, cfg.reply_port, cfg.queue_size) == ("0.0.0.0", 9100, 9101, 3)
    assert cfg.allow == ("192.168.1.0/24", "10.0.0.2") and cfg.allowed_roots == ("/data",)
    assert cfg.output_dir == "/tmp/o" and cfg.progress_interval_s == 0.5
    with pytest.raises(UsageError):
        serve.server_config(load_config(), parser.parse_args(["--port", "70000"]))


def test_serve_refuses_a_lan_bind_without_allow_list(tmp_path, capsys):
    rc = main(["serve", "--fake-runner", "--host", "0.0.0.0", "--port", "0", "--set", "server.allow=[]",
               "--output-dir", str(tmp_path)])
    assert rc == 2


def test_demo_sends_a_real_osc_job_and_writes_wav_and_png(tmp_path, capsys):
    rc = main(["demo", "--fake-runner", "--output-dir", str(tmp_path), "--set", "server.progress_interval_s=0.1"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "latency:" in out
    wavs, pngs = list(tmp_path.glob("demo-*.wav")), list(tmp_path.glob("demo-*.png"))
    assert len(wavs) == 1 and len(pngs) == 1 and pngs[0].stat().st_size > 10_000
    assert str(wavs[0]) in out and wavs[0].with_suffix(".json").is_file()


def test_serve_runs_jobs_dropped_into_a_folder_and_tells_subscribers(tmp_path):
    drop = tmp_path / "drop"
    proc, port = start_serve(tmp_path, "--drop-folder", str(drop))
    try:
        client, _ = ping_until_up(port)
        client.subscribe(client.endpoint)  # the port confirms it (the code comes back from the subscribed port)
        drop.mkdir(exist_ok=True)
        (drop / ".verse.json.tmp").write_text('{"seconds": 1.0, "name": "dropped"}')
        (drop / ".verse.json.tmp").rename(drop / "verse.json")
        done = client.terminal("verse", timeout=15)
        assert done.address == "/ditto/job/done" and "dropped-" in done.args[1]
        assert (drop / "accepted" / "verse.json").is_file()
        client.endpoint.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)


def test_stream_start_and_stop_over_osc_drive_the_continuous_stream(make_server, client_for, out_dir):
    from ditto_live.runner.fake import FakeRunner
    from tests.fakes import FakeAudioOut

    runner = FakeRunner(out_dir, steps=1, step_s=0.0, seconds=0.5)
    live: dict[str, float] = {}
    audio_out = FakeAudioOut(22050, buffer_seconds=1.0, block_size=512, speed=4.0)
    cfg = load_config(None, ["audio.stream_overlap=0.1", "audio.stream_budget=0"])
    stream = serve.build_stream(cfg, runner, live, audio_out=audio_out)
    server = make_server(runner=runner, stream=stream, live_controls=live)
    stream.on_state = server.notify_stream_state
    client = client_for(server)
    client.send("/ditto/control/set", "seed", 5)
    client.expect_address("/ditto/control/value")
    client.send("/ditto/stream/start", '{"seed": 1}')
    assert client.expect_address("/ditto/stream/state").args[0] == "running"
    deadline = time.monotonic() + 10
    while stream.windows < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stream.windows >= 3 and live == {"seed": 5.0}
    client.send("/ditto/stream/stop")
    assert client.expect(lambda m: m.address == "/ditto/stream/state" and m.args[0] == "stopped").args[0] == "stopped"
    assert audio_out.played().size > 0


def test_stream_settings_from_a_toml_file_reach_the_stream_and_flags_override_them(tmp_path, out_dir):
    from ditto_live.runner.fake import FakeRunner
    from tests.fakes import FakeAudioOut

    toml = tmp_path / "live.toml"
    toml.write_text("[server]\nthreads = 1\n[audio]\nstream_budget = 0.4\nstream_overlap = 0.5\n")
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    runner = FakeRunner(out_dir, steps=1, step_s=0.0, seconds=0.5)

    def stream_for(*argv: str):
        args = parser.parse_args(list(argv))
        args.cfg = load_config(toml)
        cfg = serve.serve_config(args)
        audio_out = FakeAudioOut(22050, buffer_seconds=1.0, block_size=512)
        return cfg, serve.build_stream(cfg, runner, {}, audio_out=audio_out)

    cfg, stream = stream_for()
    assert cfg.server.threads == 1
    assert stream.budget_fraction == 0.4 and stream.overlap == round(0.5 * 22050)
    assert stream.generate_window.overlap_seconds == 0.5  # each window outpaints that much of the last
    cfg, stream = stream_for("--stream-budget", "0.2", "--stream-overlap", "0.25", "--threads", "2")
    assert cfg.server.threads == 2
    assert stream.budget_fraction == 0.2 and stream.overlap == round(0.25 * 22050)
    with pytest.raises(UsageError, match="stream_budget"):
        stream_for("--stream-budget", "1.5")
    with pytest.raises(UsageError, match="stream_overlap"):
        stream_for("--stream-overlap", "-1")
    args = parser.parse_args(["--threads", "-1"])
    args.cfg = load_config(toml)
    with pytest.raises(UsageError, match="--threads"):
        serve.serve_config(args)


@pytest.mark.slow
def test_demo_with_the_engine_runner_writes_wav_and_png(tmp_path, capsys):
    """The real runner (the bundled default, else tiny-untrained) behind the real OSC server."""
    rc = main(["demo", "--steps", "2", "--output-dir", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    wav = next(tmp_path.glob("demo-*.wav"))
    assert "latency:" in out and wav.with_suffix(".png").is_file() and wav.with_suffix(".json").is_file()
