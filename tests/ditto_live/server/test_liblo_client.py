"""A non-Python OSC client (liblo's oscsend and oscdump, from Debian's liblo-tools) pings, submits a job
and receives accepted, progress and done with a WAV that exists. Each oscsend is a new
client (a new source port), so the server is told a reply port (`serve --reply-port`), where oscdump listens."""

from __future__ import annotations

import json
import queue
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from .conftest import job_json

pytestmark = pytest.mark.skipif(not (shutil.which("oscsend") and shutil.which("oscdump")),
                                reason="liblo-tools (oscsend, oscdump) not installed")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def oscsend(port: int, address: str, types: str, *values: str) -> None:
    subprocess.run(["oscsend", "127.0.0.1", str(port), address, types, *values], check=True, timeout=10)


class LineReader:
    """Reads a process's stdout on a thread so waits can time out."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.all: list[str] = []
        threading.Thread(target=self._pump, args=(proc,), daemon=True).start()

    def _pump(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def until(self, pattern: str, timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.all.append(line)
            if re.search(pattern, line):
                return self.all
        raise AssertionError(f"no line matching {pattern!r}; got {self.all}")


def test_oscsend_submits_a_job_and_oscdump_receives_done(make_server):
    dump_port = free_udp_port()
    server = make_server(reply_port=dump_port)  # each oscsend is a new client: replies go to the reply port
    dump = subprocess.Popen(["oscdump", "-L", str(dump_port)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    reader = LineReader(dump)
    try:
        time.sleep(0.3)  # let oscdump bind
        port = server.address[1]
        oscsend(port, "/ditto/server/ping", "s", "from-liblo")
        reader.until(r"/ditto/server/pong", 5)
        oscsend(port, "/ditto/job/submit", "ss", "liblo-1", job_json(name="liblo"))
        lines = reader.until(r"/ditto/job/(done|error)", 10)
    finally:
        dump.terminate()
        dump.wait(5)
    text = "\n".join(lines)
    assert re.search(r'/ditto/server/pong si "from-liblo" 1', text), text
    assert re.search(r'/ditto/job/accepted sis "liblo-1" 0 "[0-9a-f]{16}"', text), text  # with its cancel token
    assert "/ditto/job/progress" in text
    done = next(line for line in lines if "/ditto/job/done" in line)
    assert "/ditto/job/done sss" in done, done
    wav = re.search(r'"(/[^"]+\.wav)"', done).group(1)
    assert Path(wav).is_file() and Path(wav).parent == Path(server.output_dir)
    summary = json.loads(Path(wav).with_suffix(".json").read_text())
    assert summary["job"]["name"] == "liblo"
