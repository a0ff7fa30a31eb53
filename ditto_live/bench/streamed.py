"""The live stream as a performer hears it: ``ditto-live bench --stream`` (DESIGN.md §10).

Starts ``ditto-live serve --stream`` as a separate process (the numba cache as found, as on a performer's
machine after the first run), starts a stream over OSC on loopback, and follows its windows through
``/ditto/server/status`` until enough have played; then stops it and reads the final counters. Per phase
(idle, then beside N busy stand-in processes for the DAW): each window's generation time against the audio it
added, the ITO steps its deadline left of the K asked, its threads, and the underruns the output counted (the
ring buffer ran dry: the generator fell behind; or the audio backend flagged a late callback). Beside a
co-load: how much of its speed alone the co-load kept while the stream played.

The stream plays on the server's ``[audio]`` output device: a sound card, or on a machine without one JACK's
dummy driver (``scripts/stream_bench.sh`` starts one).
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ditto_live.bench.coload import CoLoad
from ditto_live.bench.report import machine_info
from ditto_live.bench.served import OscClient, ServerBenchConfig, percentile, phases, served

log = logging.getLogger(__name__)

SCHEMA = "ditto-live-bench-stream/1"
POLL_S = 0.25  # how often the server's status is read while the stream plays (a window takes seconds)


@dataclass(frozen=True)
class StreamBenchConfig:
    windows: int = 8  # windows followed per phase after the first (which starts cold)
    control: str = "intensity"  # the stream's control: "intensity" (a swell) or "none" (plain continuation)
    model: str = "default"  # the model the server streams ([generate] model)
    threads: int = 0  # the server's --threads (0: chosen by the server)
    co_load: int = 0  # busy stand-in processes for the DAW: a second phase beside them (0 = idle only)
    co_load_solo_s: float = 3.0  # seconds the co-load's speed alone is read for, before its server starts
    timeout_s: float = 600.0  # longest wait for readiness, or for the windows of one phase
    out_dir: str = "bench_stream_out"  # the server's output folder (the stream's working files)
    settings: str = ""  # a settings TOML the server starts with ([audio] device, buffer, budget; "" = its defaults)
    fake_runner: bool = False  # the server answers with its model-free test tone (tests of this bench)


def stream_spec(cfg: StreamBenchConfig) -> dict[str, Any]:
    """What ``/ditto/stream/start`` sends: the model, and the control the windows follow."""
    controls = [{"type": "intensity", "shape": "swell"}] if cfg.control == "intensity" else []
    return {"model": cfg.model, "controls": controls}


def status(client: OscClient) -> dict[str, Any]:
    got = client.request("/ditto/server/status", [], "/ditto/server/state", timeout=5.0)
    if got is None:
        raise TimeoutError("the server did not answer a status request within 5 s")
    return dict(json.loads(got[0][0]))


def follow(client: OscClient, windows: int, timeout_s: float) -> list[dict[str, Any]]:
    """Read the status until ``windows`` windows have played (or the stream stopped or failed). -> the
    windows' own records (``last_window`` of each status; a window missed between two readings is absent)."""
    seen: dict[int, dict[str, Any]] = {}
    end = time.monotonic() + timeout_s
    while True:
        state = status(client)
        if "stream_stats" not in state:
            raise RuntimeError("the server's status has no stream (a server without --stream, or a host not confirmed)")
        stats = state["stream_stats"]
        last = stats.get("last_window")
        if last is not None:
            seen[int(last["window"])] = last
        if stats.get("last_error"):
            raise RuntimeError(f"the stream failed: {stats['last_error']}")
        if stats.get("windows", 0) >= windows or stats.get("state") not in (None, "running", "starting"):
            return [seen[k] for k in sorted(seen)]
        if time.monotonic() > end:
            raise TimeoutError(f"{stats.get('windows', 0)} of {windows} windows within {timeout_s:.0f} s")
        time.sleep(POLL_S)


def summarise(phase: str, windows: list[dict[str, Any]], stats: dict[str, Any]) -> dict[str, Any]:
    """One phase's row: the windows after the first (which starts cold) and the run's underruns."""
    warm = [w for w in windows if w["window"] > 0]
    gen = [w["generate_s"] for w in warm]
    ratio = [w["generate_s"] / w["audio_s"] for w in warm if w["audio_s"]]
    run = [w["steps_run"] for w in warm if w.get("steps_run") is not None]
    return {"phase": phase, "windows": stats.get("windows"), "windows_recorded": len(warm),
            "ring_underruns": stats.get("ring_underruns"), "device_underflows": stats.get("device_underflows"),
            "silence_s": stats.get("silence_s"), "late_windows": stats.get("late_windows"),
            "window_audio_s": round(statistics.median(w["audio_s"] for w in warm), 3) if warm else None,
            "generate_p50_s": round(percentile(gen, 50), 3) if gen else None,
            "generate_max_s": round(max(gen), 3) if gen else None,
            "rtf_p50": round(percentile(ratio, 50), 3) if ratio else None,
            "budget_p50_s": round(percentile([w["budget_s"] for w in warm if w.get("budget_s")], 50), 3)
            if any(w.get("budget_s") for w in warm) else None,
            "steps_run_min": min(run, default=None), "steps_run_mean": round(statistics.fmean(run), 1) if run else None,
            "steps": sorted({w["steps"] for w in warm if w.get("steps") is not None}),
            "threads": sorted({w["threads"] for w in warm if w.get("threads") is not None})}


def run_stream_bench(cfg: StreamBenchConfig, on_update: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Stream on a fresh ``serve --stream`` per phase (idle, then beside ``cfg.co_load`` busy processes) and
    record every window; ``on_update(report)`` after each phase."""
    from ditto_live.engine.backends import cpu_has_native_bf16

    update = on_update or (lambda _report: None)
    out = Path(cfg.out_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    server = ServerBenchConfig(model=cfg.model, threads=cfg.threads, fresh_numba_cache=False,
                               timeout_s=cfg.timeout_s, out_dir=str(out), fake_runner=cfg.fake_runner)
    report: dict[str, Any] = {"schema": SCHEMA, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                              "machine": machine_info("cpu") | {"native_bf16": cpu_has_native_bf16()},
                              "config": asdict(cfg), "spec": stream_spec(cfg),
                              "phases": [], "rows": []}
    for phase, processes in phases(cfg.co_load):
        with CoLoad(processes) if processes else nullcontext() as load:
            solo = load.solo_rate(cfg.co_load_solo_s) if load else None
            extra = ("--stream",) + (("--config", cfg.settings) if cfg.settings else ())
            with served(server, out, f"stream-{phase}".replace(" ", ""), extra) as (client, start):
                client.confirm_host()  # the full status, with the stream's counters
                if load:
                    load.mark()
                if client.request("/ditto/stream/start", [json.dumps(report["spec"])], "/ditto/stream/state",
                                  match=lambda a: a and a[0] == "running", timeout=30.0) is None:
                    raise RuntimeError("the stream did not start (see the server's log)")
                windows = follow(client, cfg.windows + 1, cfg.timeout_s)
                kept = load.rate() / solo if load and solo else None
                client.request("/ditto/stream/stop", [], "/ditto/stream/state", match=lambda a: a and a[0] == "stopped",
                               timeout=60.0)
                stats = status(client).get("stream_stats") or {}
        row = summarise(phase, windows, stats) | {"co_load_processes": processes,
                                                  "co_load_keeps": None if kept is None else round(kept, 4)}
        report["phases"].append({"phase": phase, "server": start, "windows": windows,
                                 "stats": {k: v for k, v in stats.items() if k != "last_window"}})
        report["rows"].append(row)
        log.info("%s", row)
        update(report)
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return report


def markdown(report: dict[str, Any]) -> str:
    m, cfg = report["machine"], report["config"]
    lines = [f"Stream bench ({report['created']}), {m['cpu']}, {m['cpu_cores']} cores, torch {m['torch']}; model "
             f"{cfg['model']}, control {cfg['control']}, threads {cfg['threads'] or 'chosen by the server'}; load "
             f"average before {m.get('load_average')}, after {report.get('load_average_after')}.", "",
             "| phase | windows | threads | new audio a window s | generation p50 / max s | RTF p50 | ITO steps "
             "min / mean of K | late windows | ring underruns | device underflows | co-load kept |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        kept = "-" if r["co_load_keeps"] is None else f"{100 * r['co_load_keeps']:.1f} %"
        steps = "/".join(str(k) for k in r["steps"]) or "?"
        lines.append(f"| {r['phase']} | {r['windows']} | {'/'.join(str(n) for n in r['threads']) or '?'} | "
                     f"{r['window_audio_s']} | {r['generate_p50_s']} / {r['generate_max_s']} | {r['rtf_p50']} | "
                     f"{r['steps_run_min']} / {r['steps_run_mean']} of {steps} | {r['late_windows']} | "
                     f"{r['ring_underruns']} | {r['device_underflows']} | {kept} |")
    return "\n".join(lines) + "\n"
