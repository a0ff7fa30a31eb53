"""Latency as users see it: ``ditto-live bench --server`` (DESIGN.md §10).

Starts ``ditto-live serve`` as a separate process (with a new, empty numba cache unless told otherwise,
so its first job pays what a fresh install pays), or connects to a running one; waits until it answers
``/ditto/server/ping`` and reports ``"engine": "ready"``; then sends jobs over real OSC on loopback one at a
time and times each from ``/ditto/job/submit`` to ``/ditto/job/done``. The first job of the process is
the fresh server's first job; the rest are warm. Per task: p50 / p95 / max of the warm jobs, the first
job's latency and its ratio to the warm p50, and the median of each stage from the jobs' own records
(the ``timings_ms`` of the done summary).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ditto_live.bench.coload import CoLoad
from ditto_live.bench.report import machine_info
from ditto_live.bench.stages import task_job, write_reference
from ditto_live.bridges.osc import UdpEndpoint, decode_packet

log = logging.getLogger(__name__)

SCHEMA = "ditto-live-bench-server/1"
Addr = tuple[str, int]


@dataclass(frozen=True)
class ServerBenchConfig:
    tasks: tuple[str, ...] = ("intensity",)  # controls to time (bench.TASKS)
    jobs: int = 6  # warm jobs per task (after the process's first job)
    model: str = "default"  # the model the server runs ([generate] model)
    backend: str = "auto"  # the server's --backend
    measure: bool = True  # the server measures adherence after each delivery (--no-measure when False)
    threads: int = 0  # the server's --threads (0: torch's default)
    connect: str = ""  # "host:port" of a running server; "" = start one
    fresh_numba_cache: bool = True  # start the server with NUMBA_CACHE_DIR in a new, empty folder
    seconds: float = 512 * 256 / 22050  # clip length of every job (one model window)
    timeout_s: float = 600.0  # longest wait for readiness or for one job
    out_dir: str = "bench_server_out"  # the server's output folder (and the painting tasks' reference)
    fake_runner: bool = False  # the server answers with its model-free test tone (tests of this bench)
    co_load: int = 0  # busy stand-in processes for the DAW: a second pass of every task beside them (0 = none)
    co_load_solo_s: float = 3.0  # seconds the co-load's speed alone is read for, before its servers start


def free_udp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between the closest ranks."""
    xs = sorted(values)
    if len(xs) == 1:
        return xs[0]
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


class OscClient:
    """A client of the server over real UDP: send a request, wait for the reply that answers it."""

    def __init__(self, server: Addr):
        self.server = server
        self.endpoint = UdpEndpoint("127.0.0.1", 0)

    def request(self, address: str, args: list[Any], wanted: str, match=None, timeout: float = 5.0):
        """Send and wait for a message at ``wanted`` (and ``match(args)``) -> (args, seconds) or None."""
        start = time.perf_counter()
        self.endpoint.send(address, args, self.server)
        return self.wait(wanted, match, timeout, start)

    def wait(self, wanted: str, match=None, timeout: float = 5.0, start: float | None = None):
        start = time.perf_counter() if start is None else start
        while (left := start + timeout - time.perf_counter()) > 0:
            gram = self.endpoint.receive(min(left, 0.5))
            if gram is None:
                continue
            for msg in decode_packet(gram.data):
                if msg.address == wanted and (match is None or match(msg.args)):
                    return msg.args, time.perf_counter() - start
                if msg.address == "/ditto/job/error" and match is not None and match(msg.args):
                    raise RuntimeError(f"job {msg.args[0]} failed: {msg.args[1]}: {msg.args[2]}")
        return None

    def confirm_host(self) -> None:
        """Confirm this host as a client does (the short status's code, sent back): the full status follows."""
        got = self.request("/ditto/server/status", [], "/ditto/server/state", timeout=5.0)
        code = json.loads(got[0][0]).get("code") if got is not None else None
        if code is not None and self.request("/ditto/client/confirm", [code], "/ditto/client/subscribed",
                                             timeout=5.0) is None:
            raise RuntimeError("the server did not confirm this host")

    def close(self) -> None:
        self.endpoint.close()


class ServerProcess:
    """``ditto-live serve`` in a child process on a free loopback port."""

    def __init__(self, cfg: ServerBenchConfig, out: Path, name: str = "server", extra: tuple[str, ...] = ()):
        self.port = free_udp_port()
        env = dict(os.environ)
        if cfg.fresh_numba_cache:
            self.numba_cache = tempfile.mkdtemp(prefix="ditto-numba-")
            env["NUMBA_CACHE_DIR"] = self.numba_cache
        # -P: the installed package, not a ./ditto_live folder in the working directory
        cmd = [sys.executable, "-P", "-m", "ditto_live.cli", "serve", "--port", str(self.port), "--output-dir", str(out),
               "--allowed-root", str(out), "--backend", cfg.backend, "--set", f'generate.model="{cfg.model}"']
        if cfg.threads:
            cmd += ["--threads", str(cfg.threads)]
        if not cfg.measure:
            cmd.append("--no-measure")
        if cfg.fake_runner:
            cmd.append("--fake-runner")
        cmd += extra  # more of serve's flags (the stream bench's --stream)
        self.log_path = out / f"{name}.log"  # one per server: the thread trial's line is read from it
        self._log = open(self.log_path, "w")  # noqa: SIM115 - kept open for the child's lifetime
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    @property
    def address(self) -> Addr:
        return "127.0.0.1", self.port

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


def wait_until_ready(client: OscClient, timeout: float, alive=lambda: True) -> tuple[float, float]:
    """Ping until answered, then ask the status until ``"engine"`` is ready. -> (pong s, ready s) since now"""
    start = time.perf_counter()
    pong = None
    while pong is None:
        if not alive():
            raise RuntimeError("the server exited before answering a ping (see its log)")
        if time.perf_counter() - start > timeout:
            raise TimeoutError(f"the server did not answer a ping within {timeout:.0f} s")
        if client.request("/ditto/server/ping", ["bench"], "/ditto/server/pong", timeout=0.5) is not None:
            pong = time.perf_counter() - start
    while True:
        got = client.request("/ditto/server/status", [], "/ditto/server/state", timeout=2.0)
        if got is not None and json.loads(got[0][0]).get("engine", "ready") == "ready":
            return pong, time.perf_counter() - start
        if time.perf_counter() - start > timeout:
            raise TimeoutError(f"the server did not report ready within {timeout:.0f} s")
        if not alive():
            raise RuntimeError("the server exited while warming (see its log)")
        time.sleep(0.2)


def run_job(client: OscClient, job_id: str, job: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Submit one job and wait for its done. -> {latency_s, summary}"""
    got = client.request("/ditto/job/submit", [job_id, json.dumps(job)], "/ditto/job/done",
                         match=lambda a: a and a[0] == job_id, timeout=timeout)
    if got is None:
        raise TimeoutError(f"job {job_id} was not done within {timeout:.0f} s")
    (_, wav, summary), latency = got
    return {"job_id": job_id, "latency_s": round(latency, 4), "wav": wav, "summary": json.loads(summary)}


def summarise(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per phase and task: the fresh server's first job and the warm jobs' percentiles."""
    rows = []
    for phase, task in dict.fromkeys((j.get("phase", "idle"), j["task"]) for j in jobs):
        mine = [j for j in jobs if j.get("phase", "idle") == phase and j["task"] == task]
        warm = [j["latency_s"] for j in mine if not j["first"]]
        first = next((j["latency_s"] for j in mine if j["first"]), None)
        stages: dict[str, float] = {}
        for stage in dict.fromkeys(k for j in mine if not j["first"] for k in j["summary"].get("timings_ms", {})):
            values = [j["summary"]["timings_ms"][stage] for j in mine if not j["first"]
                      and stage in j["summary"].get("timings_ms", {})]
            stages[stage] = round(statistics.median(values), 1)
        p50 = percentile(warm, 50) if warm else None
        threads = sorted({j["summary"]["cpu"]["threads"] for j in mine if "cpu" in j["summary"]})
        rows.append({"phase": phase, "task": task, "warm_jobs": len(warm), "first_s": first, "threads": threads,
                     "warm_p50_s": None if p50 is None else round(p50, 4),
                     "warm_p95_s": round(percentile(warm, 95), 4) if warm else None,
                     "warm_max_s": round(max(warm), 4) if warm else None,
                     "first_over_warm_p50": round(first / p50, 3) if first and p50 else None,
                     "audio_s": mine[0]["audio_s"],
                     "warm_rtf_p50": round(p50 / mine[0]["audio_s"], 4) if p50 else None,
                     "warm_stage_median_ms": stages})
    return rows


def job_line(record: dict[str, Any]) -> str:
    """One job for the log: latency, stage times and the backend that ran its optimisation (a run cut short
    by a time limit still tells where the time went)."""
    summary = record["summary"]
    stages = ", ".join(f"{k} {v:.0f}" for k, v in summary.get("timings_ms", {}).items())
    ito = (summary.get("ito") or [{}])[0]
    backend = ito.get("backend", "?")
    if ito.get("backend_fallback"):
        backend += f" (fell back: {ito['backend_fallback']})"
    if ito.get("backend_prepare_s"):
        backend += f", prepared in {ito['backend_prepare_s']:.2f} s"
    return (f"{record['job_id']}: {record['latency_s']:.2f} s submit -> done{' (first)' if record['first'] else ''}; "
            f"ms: {stages or '?'}; backend {backend}")


@contextmanager
def served(cfg: ServerBenchConfig, out: Path, name: str = "server",
           extra: tuple[str, ...] = ()) -> Iterator[tuple[OscClient, dict[str, Any]]]:
    """A ready server (a fresh process logging to ``out/name.log``, started with serve's flags ``extra`` too, or
    the one ``cfg.connect`` names) and how long it took to start."""
    proc = None
    if cfg.connect:
        host, _, port = cfg.connect.rpartition(":")
        address: Addr = (host or "127.0.0.1", int(port))
    else:
        proc = ServerProcess(cfg, out, name, extra)
        address = proc.address
    client = OscClient(address)
    start: dict[str, Any] = {}
    try:
        alive = (lambda: proc.proc.poll() is None) if proc else (lambda: True)
        pong_s, ready_s = wait_until_ready(client, cfg.timeout_s, alive)
        if proc is not None:  # from the process's start, not from our first ping
            since = time.perf_counter() - proc.started
            start = {"pong_s": round(since - (ready_s - pong_s), 3), "ready_s": round(since, 3),
                     "numba_cache": "fresh" if cfg.fresh_numba_cache else "as found", "log": str(proc.log_path)}
            log.info("server answered ping after %.1f s, ready after %.1f s", start["pong_s"], since)
        yield client, start
    finally:
        client.close()
        if proc is not None:
            proc.stop()


def phases(co_load: int) -> list[tuple[str, int]]:
    """(name, busy stand-in processes): idle, then with the co-load if one is asked for."""
    return [("idle", 0)] + ([(f"co-load {co_load}", co_load)] if co_load else [])


def run_server_bench(cfg: ServerBenchConfig, on_update: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Time the server's jobs over OSC, per phase (idle, then beside ``cfg.co_load`` busy processes) and per
    task on a fresh server (its first job is a fresh server's first job), and what the server costs the
    co-load; ``on_update(report)`` after each server start and each job (the command rewrites its JSON, so
    a run cut short keeps them)."""
    update = on_update or (lambda _report: None)
    out = Path(cfg.out_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"schema": SCHEMA, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                              "machine": machine_info("cpu"), "config": asdict(cfg), "servers": [], "jobs": []}
    from ditto_live.engine.audio import PRESETS

    reference = str(write_reference(out, PRESETS["tiny"], cfg.seconds))
    for phase, processes in phases(cfg.co_load):
        with CoLoad(processes) if processes else nullcontext() as load:
            solo = load.solo_rate(cfg.co_load_solo_s) if load else None
            loaded: list[float] = []
            for task in cfg.tasks:
                with served(cfg, out, f"server-{phase}-{task}".replace(" ", "")) as (client, start):
                    report["servers"].append({"phase": phase, "task": task, **start})
                    update(report)
                    if load:
                        load.mark()
                    for i in range(cfg.jobs + 1):
                        job = task_job(task, cfg.seconds, reference) | {"name": f"bench_{task}", "seed": i,
                                                                        "model": cfg.model}
                        record = run_job(client, f"{phase}-{task}-{i}".replace(" ", ""), job, cfg.timeout_s)
                        record.update(phase=phase, task=task, first=i == 0 and bool(start),
                                      audio_s=round(cfg.seconds, 4))
                        report["jobs"].append(record)
                        log.info("%s", job_line(record))
                        report["rows"] = summarise(report["jobs"])
                        update(report)
                    if load:
                        loaded.append(load.rate())
            if load and solo:
                report["co_load"] = {"processes": processes, "solo_rounds_per_s": round(solo, 2),
                                     "rounds_per_s_while_serving": round(statistics.fmean(loaded), 2),
                                     "keeps": round(statistics.fmean(loaded) / solo, 4)}
                update(report)
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return report


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    cfg = report["config"]
    load = report.get("load_average_after")
    lines = [f"Server bench ({report['created']}), {m['cpu']}, {m['cpu_cores']} cores, torch {m['torch']}; "
             f"load average before {m.get('load_average')}, after {load}; backend {cfg['backend']}, "
             f"model {cfg['model']}, threads {cfg['threads'] or 'chosen by the server'}, "
             f"measure {'on' if cfg['measure'] else 'off'}.", ""]
    starts = [s for s in report.get("servers", []) if s.get("ready_s")]
    if starts:
        ready = ", ".join(f"{s['ready_s']:.1f}" for s in starts)
        lines += [f"Fresh `ditto-live serve` per phase and task (numba cache {starts[0]['numba_cache']}): "
                  f"ready after {ready} s.", ""]
    lines += ["| phase | task | audio s | threads | first job s | warm jobs | warm p50 s | warm p95 s | "
              "warm max s | first / p50 | warm RTF p50 |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report.get("rows", []):
        first = "-" if r["first_s"] is None else f"{r['first_s']:.2f}"
        ratio = "-" if r["first_over_warm_p50"] is None else f"{r['first_over_warm_p50']:.2f}"
        threads = "/".join(str(n) for n in r.get("threads", [])) or "?"
        lines.append(f"| {r.get('phase', 'idle')} | {r['task']} | {r['audio_s']:.2f} | {threads} | {first} | "
                     f"{r['warm_jobs']} | {r['warm_p50_s']:.2f} | {r['warm_p95_s']:.2f} | {r['warm_max_s']:.2f} | "
                     f"{ratio} | {r['warm_rtf_p50']:.2f} |")
    co = report.get("co_load")
    if co:
        lines.append(f"\nThe co-load ({co['processes']} busy process(es), a stand-in for the DAW) kept "
                     f"{100 * co['keeps']:.1f} % of its speed alone while the server ran jobs back to back.")
    for r in report.get("rows", []):
        stages = ", ".join(f"{k} {v:.0f}" for k, v in r["warm_stage_median_ms"].items())
        lines.append(f"\n{r.get('phase', 'idle')}, {r['task']}: warm stage medians (ms, the jobs' own records): "
                     f"{stages}")
    return "\n".join(lines) + "\n"
