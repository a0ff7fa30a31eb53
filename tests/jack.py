"""A pytest fixture that runs a private JACK server on the dummy driver (no sound card needed).

Import it into a test module: ``from tests.jack import jack_server  # noqa: F401``. The server gets a
unique name (``jackd -n``) and ``JACK_DEFAULT_SERVER`` points every JACK client in this process (rtmidi,
PortAudio) at it, so tests never touch another user's server. It is started once per module, waited
for with a timeout, and terminated (then killed) on teardown.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

JACK_RATE = 48000  # the dummy device's sample rate
JACK_PERIOD = 1024  # frames per JACK cycle (21 ms at 48 kHz; 256 xruns on a loaded 2-core machine)
START_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class JackServer:
    name: str  # server name (JACK_DEFAULT_SERVER)
    rate: int  # sample rate of the dummy device
    period: int  # frames per cycle
    log_path: Path  # jackd's stdout/stderr

    def ports(self) -> list[str]:
        out = subprocess.run(["jack_lsp"], capture_output=True, text=True, timeout=10,
                             env={**os.environ, "JACK_DEFAULT_SERVER": self.name})
        return out.stdout.split()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def xruns(self) -> int:
        """XRun lines the server logged so far (late driver wake-ups and late clients alike)."""
        return self.log().count("XRun")


def _portaudio(action: str) -> None:
    """Terminate or initialise PortAudio if sounddevice is loaded: its JACK host API holds a client
    of the server it found at initialisation, so it must let go before the server dies (else
    PortAudio aborts at exit) and look again once a server is up."""
    sd = sys.modules.get("sounddevice")
    if sd is not None:
        (sd._terminate if action == "terminate" else sd._initialize)()


@pytest.fixture(scope="module")
def jack_server(request, tmp_path_factory):
    """A running ``jackd -d dummy`` private to this test module (a module may set ``JACK_PERIOD``)."""
    period = getattr(request.module, "JACK_PERIOD", JACK_PERIOD)
    if shutil.which("jackd") is None or shutil.which("jack_wait") is None:
        pytest.skip("jackd / jack_wait not installed (Debian: apt-get install jackd2)")
    name = f"ditto-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    log_path = tmp_path_factory.mktemp("jack") / "jackd.log"
    saved = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = name
    env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1"}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            ["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", str(JACK_RATE), "-p", str(period)],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        ready = subprocess.run(["jack_wait", "-s", name, "-w", "-t", str(int(START_TIMEOUT_S))],
                               capture_output=True, text=True, timeout=START_TIMEOUT_S + 5, env=env)
        if proc.poll() is not None or ready.returncode != 0:
            pytest.fail(f"jackd did not start: {log_path.read_text(errors='replace')[-2000:]}")
        _portaudio("terminate")
        _portaudio("initialize")
        yield JackServer(name, JACK_RATE, period, log_path)
    finally:
        _portaudio("terminate")
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if saved is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = saved
        _portaudio("initialize")
        # give the dead server's shared-memory cleanup a moment before another module starts one
        time.sleep(0.2)


def jack_output_to(name: str, timeout: float = 10.0):
    """A mido output on the JACK MIDI port whose name contains ``name``, once it has appeared."""
    import mido

    backend = mido.Backend("mido.backends.rtmidi/UNIX_JACK")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        matches = [n for n in backend.get_output_names() if name in n]
        if matches:
            return backend.open_output(matches[0])
        time.sleep(0.05)
    raise AssertionError(f"no JACK MIDI port {name!r}: {backend.get_output_names()}")
