"""`ditto-live demo`: start a server in this process on a free loopback port, send it one real OSC job
(an intensity crescendo) as a client would, follow its progress to the done reply, then write a PNG
of the result beside the WAV and print the latency (submit -> done, over OSC)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

from ditto_live.commands.serve import add_server_flags, make_runner
from ditto_live.errors import UsageError

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_server_flags(parser)
    parser.add_argument("--shape", default="crescendo",
                        choices=("crescendo", "decrescendo", "swell", "dip", "steps", "flat"),
                        help="intensity curve the demo job asks for")
    parser.add_argument("--model", help="model bundle (default: the bundled 'default', else 'tiny-untrained', "
                                        "random weights that exercise every stage)")
    parser.add_argument("--steps", type=int, default=0, help="optimisation steps K (0 = the control's default)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the demo job")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")


def demo_model(requested: str | None) -> str:
    """The model the demo asks for: the requested one, else the bundled default, else tiny-untrained."""
    if requested:
        return requested
    from ditto_live.generation.models import bundled_names

    if "default" in bundled_names():
        return "default"
    log.warning("no bundled 'default' model yet: the demo uses 'tiny-untrained' (random weights; every stage "
                "runs, the audio is not music)")
    return "tiny-untrained"


def demo_job(shape: str, steps: int, seed: int, model: str = "default") -> dict[str, Any]:
    """The job the demo sends: one model window under an intensity curve."""
    return {"name": "demo", "model": model, "seed": seed, "bpm": 120, "steps": steps,
            "controls": [{"type": "intensity", "shape": shape, "low_db": -40.0, "high_db": -10.0}]}


def send_and_follow(client: Any, server_addr: tuple[str, int], job_id: str, spec: dict[str, Any],
                    timeout: float) -> tuple[str, list[Any], float]:
    """Submit over OSC; log progress; return (terminal address, its args, latency in seconds)."""
    from ditto_live.bridges.osc import decode_packet

    t0 = time.perf_counter()
    client.send("/ditto/job/submit", [job_id, json.dumps(spec)], server_addr, "ss")
    deadline = t0 + timeout
    while time.perf_counter() < deadline:
        dgram = client.receive(0.5)
        if dgram is None:
            continue
        for msg in decode_packet(dgram.data):
            if not msg.args or msg.args[0] != job_id:
                continue
            if msg.address == "/ditto/job/accepted":
                log.info("accepted at queue position %d", msg.args[1])
            elif msg.address == "/ditto/job/progress":
                _, stage, step, total, loss = msg.args
                log.info("progress: %-8s %4d/%-4d loss %.4g", stage, step, total, loss)
            elif msg.address in ("/ditto/job/done", "/ditto/job/error"):
                return msg.address, list(msg.args), time.perf_counter() - t0
    raise TimeoutError(f"no reply to job {job_id} within {timeout:g} s")


def frames_db(audio: np.ndarray, n_fft: int = 1024, hop: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Power spectrogram in dB ``[n_fft//2+1, frames]`` and frame RMS in dB ``[frames]`` (numpy only)."""
    import numpy as np

    padded = np.pad(audio, (n_fft // 2, n_fft // 2))
    count = 1 + max(0, (len(padded) - n_fft) // hop)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop][:count]  # [frames, n_fft]
    spec = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2 / (np.hanning(n_fft).sum() ** 2)
    spec_db = 10 * np.log10(np.maximum(spec.T, 1e-10))
    rms_db = 10 * np.log10(np.maximum((frames ** 2).mean(axis=1), 1e-10))
    return spec_db, rms_db


def plot_result(wav: Path, png: Path, shape: str) -> Path:
    """Spectrogram and loudness curve (frame RMS in dB) of a result; used when the runner drew no figure
    (the engine's runner draws its own, with the target and achieved curves: ditto_live/judges/plots.py)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import soundfile as sf

    audio, sr = sf.read(wav, dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    hop = 256
    spec_db, rms_db = frames_db(audio, 1024, hop)
    seconds = len(audio) / sr
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True, height_ratios=(2, 1))
    ax1.imshow(np.clip(spec_db, spec_db.max() - 80, None), origin="lower", aspect="auto", cmap="magma",
               extent=(0, seconds, 0, sr / 2000))
    ax1.set_ylabel("kHz")
    ax1.set_title(f"ditto-live demo: intensity {shape} ({wav.name})")
    ax2.plot(np.arange(len(rms_db)) * hop / sr, rms_db, lw=1.2)
    ax2.set_ylabel("RMS dB")
    ax2.set_xlabel("seconds")
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return png


def run(args: argparse.Namespace) -> int:
    from ditto_live.bridges.osc import UdpEndpoint
    from ditto_live.server.server import Server

    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise UsageError(f"--timeout {args.timeout}: expected a number of seconds > 0")
    cfg = args.cfg.server
    out = Path(args.output_dir or cfg.output_dir).expanduser().resolve()
    roots = tuple(args.allowed_roots or cfg.allowed_roots)
    model = "fake" if args.fake_runner else demo_model(args.model)
    config = dataclasses.replace(cfg, host="127.0.0.1", port=0, reply_port=0, output_dir=str(out),
                                 allowed_roots=roots, progress_interval_s=min(cfg.progress_interval_s, 0.5),
                                 allow_untrained=True)  # the demo may run tiny-untrained (no model yet)
    if config.threads and not args.fake_runner:  # [server] threads, as serve applies it
        import torch

        torch.set_num_threads(config.threads)
    runner = make_runner(args.cfg, config, fake=args.fake_runner, plot=True)
    client = UdpEndpoint("127.0.0.1", 0)
    with Server(config, runner, warm=args.cfg.engine.warm) as server:
        log.info("demo server on %s:%d; client on %s:%d", *server.address, *client.address)
        try:
            address, reply, latency = send_and_follow(client, server.address, "demo-1",
                                                      demo_job(args.shape, args.steps, args.seed, model),
                                                      args.timeout)
        except TimeoutError as exc:
            raise UsageError(f"{exc} (--timeout)") from None
        finally:
            client.close()
    if address == "/ditto/job/error":
        log.error("the job failed: %s: %s", reply[1], reply[2])
        return 1
    wav = Path(reply[1])
    summary = json.loads(reply[2])
    png = Path(summary["png"]) if Path(summary.get("png", "")).is_file() else plot_result(
        wav, wav.with_suffix(".png"), args.shape)
    sys.stdout.write(f"latency: {latency:.2f} s (OSC submit -> done; queue wait {summary.get('queue_wait_s', 0):.3f} s)\n"
                     f"wav: {wav}\npng: {png}\nsummary: {json.dumps(summary)}\n")
    return 0
