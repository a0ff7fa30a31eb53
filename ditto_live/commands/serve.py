"""`ditto-live serve`: run the OSC server that Ableton Live (the Max for Live device) and live rigs
drive. Flags override ``[server]`` settings; Ctrl-C (or SIGTERM) cancels running jobs, tells their
clients, and exits 0."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
from pathlib import Path
from typing import Any

from ditto_live.config import AudioConfig, Config, ConfigError, EngineConfig, ServerConfig
from ditto_live.engine.backend_names import BACKEND_CHOICES
from ditto_live.errors import UsageError
from ditto_live.runner.contract import Runner  # torch-free

log = logging.getLogger(__name__)


def add_server_flags(parser: argparse.ArgumentParser) -> None:
    """Flags that map onto ``config.server`` (shared with ``demo``)."""
    parser.add_argument("--output-dir", metavar="DIR", help="result WAVs and sidecars go here (server.output_dir)")
    parser.add_argument("--allowed-root", dest="allowed_roots", action="append", metavar="DIR",
                        help="a folder requests may read inputs from (repeatable; server.allowed_roots)")
    parser.add_argument("--backend", choices=BACKEND_CHOICES,
                        help="execution backend of the engine (engine.backend; default auto = the fastest measured "
                             "for the device: the CUDA graph on CUDA, eager on a CPU)")
    parser.add_argument("--no-measure", dest="measure", action="store_false", default=None,
                        help="do not measure adherence after delivering each job (engine.measure; for live use)")
    parser.add_argument("--fake-runner", action="store_true",
                        help="answer jobs with a test tone instead of the model (try the protocol or the Live "
                             "device without a model)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to bind (server.host; default 127.0.0.1). Anything but "
                                       "loopback needs --allow")
    parser.add_argument("--port", type=int, help="UDP port (server.port; 0 = any free port)")
    parser.add_argument("--reply-port", type=int, help="send replies to this port on the sender's host "
                                                       "(server.reply_port; default: the sender's port)")
    parser.add_argument("--allow", action="append", metavar="ADDR[/BITS]",
                        help="client address or network accepted when bound beyond loopback (repeatable; "
                             "server.allow)")
    parser.add_argument("--queue-size", type=int, help="jobs waiting before 'busy' (server.queue_size)")
    parser.add_argument("--allow-untrained", action="store_true", default=None,
                        help="accept jobs naming the random-weight models tiny-untrained and paper-untrained "
                             "(benches and tests; server.allow_untrained)")
    add_server_flags(parser)
    parser.add_argument("--midi", action="store_true",
                        help="also listen to MIDI ([midi] settings): the CC rides intensity, clock sets bpm, "
                             "/ditto/midi/take submits the played take as a job")
    parser.add_argument("--stream", action="store_true",
                        help="enable /ditto/stream/start|stop: continuous generation into the [audio] output")
    parser.add_argument("--stream-budget", type=float, metavar="F",
                        help="each stream window's deadline: F x the audio it must cover before playback runs "
                             "dry; the optimisation stops early to meet it (audio.stream_budget, default "
                             f"{AudioConfig.stream_budget}; 0 = no deadline, the spec's steps run in full)")
    parser.add_argument("--stream-overlap", type=float, metavar="S",
                        help="seconds of the previous window that open the next, its outpaint reference "
                             f"(audio.stream_overlap, default {AudioConfig.stream_overlap})")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="engine threads (server.threads; default 0 = chosen before each job from the cores other "
                        "programs leave free)")
    parser.add_argument("--drop-folder", metavar="DIR",
                        help="also run job JSON files dropped into DIR (replies go to OSC subscribers)")


def server_config(cfg: Config, args: argparse.Namespace) -> ServerConfig:
    """``cfg.server`` with the command-line flags applied."""
    changes: dict[str, Any] = {}
    for flag in ("host", "port", "reply_port", "queue_size", "output_dir", "threads", "allow_untrained"):
        value = getattr(args, flag, None)
        if value is not None:
            changes[flag] = value
    if getattr(args, "allow", None):
        changes["allow"] = tuple(args.allow)
    if getattr(args, "allowed_roots", None):
        changes["allowed_roots"] = tuple(args.allowed_roots)
    try:
        return dataclasses.replace(cfg.server, **changes)  # ServerConfig checks every value
    except ConfigError as exc:  # a flag's value out of range: say which setting and which flag
        flags = [f"--{key.replace('_', '-')}" for key in changes if str(exc).startswith(f"server.{key} ")]
        raise UsageError(f"{exc}{' (' + flags[0] + ')' if flags else ''}") from None


def audio_config(cfg: Config, args: argparse.Namespace) -> AudioConfig:
    """``cfg.audio`` with ``--stream-budget`` and ``--stream-overlap`` applied (checked by build_stream)."""
    changes = {key: value for key in ("stream_budget", "stream_overlap")
               if (value := getattr(args, key, None)) is not None}
    return dataclasses.replace(cfg.audio, **changes)


def engine_config(cfg: Config, args: argparse.Namespace) -> EngineConfig:
    """``cfg.engine`` with ``--backend`` and ``--no-measure`` applied."""
    changes = {key: value for key in ("backend", "measure") if (value := getattr(args, key, None)) is not None}
    return dataclasses.replace(cfg.engine, **changes)


def serve_config(args: argparse.Namespace) -> Config:
    """``args.cfg`` (the TOML file and ``--set``) with the command-line flags applied on top."""
    return dataclasses.replace(args.cfg, server=server_config(args.cfg, args), audio=audio_config(args.cfg, args),
                               engine=engine_config(args.cfg, args))


def make_runner(cfg: Config, server: ServerConfig, fake: bool = False, plot: bool = False) -> Runner:
    """The job runner: the engine's (``ditto_live.runner.jobs.JobRunner``), or the model-free FakeRunner."""
    if fake:
        from ditto_live.runner.fake import FakeRunner

        return FakeRunner(Path(server.output_dir).expanduser(), steps=20, step_s=0.05, seconds=2.0)
    from ditto_live.runner.cpu import ThreadGovernor
    from ditto_live.runner.jobs import JobRunner  # imports torch and the engine: only when serving for real

    return JobRunner(output_dir=server.output_dir, allowed_roots=server.allowed_roots, device=cfg.generate.device,
                     plot=plot, laion_clap=cfg.generate.laion_clap, backend=cfg.engine.backend,
                     measure=cfg.engine.measure, warm_model=cfg.generate.model if cfg.engine.warm else "",
                     governor=ThreadGovernor(fixed=server.threads))


def attach_midi(cfg: Config, live_controls: dict[str, float]) -> Any:
    """Open the configured MIDI input and let it drive the live controls (intensity CC, clock bpm).
    -> the ``MidiControl`` (its ``input`` is the port; the server submits its take)."""
    from ditto_live.bridges.midi import open_midi_input
    from ditto_live.server.midi_control import MidiControl

    try:
        midi_input = open_midi_input(cfg.midi.input_port, channel=cfg.midi.channel)
    except (RuntimeError, OSError) as exc:
        raise UsageError(f"--midi: {exc}") from exc
    control = MidiControl.from_config(cfg.midi, midi_input, live_controls=live_controls)
    log.info("MIDI: listening on %s (intensity CC %d)", midi_input.name, cfg.midi.intensity_cc)
    return control


def build_stream(cfg: Config, runner: Runner, live_controls: dict[str, float], audio_out: Any = None) -> Any:
    """Continuous mode: windows of ``[generate] model`` from the runner, each opening with the last
    ``[audio] stream_overlap`` seconds of the one before (chained in memory), into the [audio] output, each
    with a deadline of ``[audio] stream_budget`` x the audio it must cover (0 = none)."""
    from ditto_live.server.stream import open_stream

    budget_fraction, overlap_seconds = cfg.audio.stream_budget, cfg.audio.stream_overlap
    if not 0 <= budget_fraction <= 1:
        raise UsageError(f"stream budget {budget_fraction} (--stream-budget, audio.stream_budget): expected 0..1 "
                         "(0 = no deadline)")
    if overlap_seconds < 0:
        raise UsageError(f"stream overlap {overlap_seconds} (--stream-overlap, audio.stream_overlap): expected >= 0 "
                         "seconds")
    if audio_out is None:
        from ditto_live.bridges.audio import AudioOut

        try:
            audio_out = AudioOut.for_device(cfg.audio.output_device, buffer_seconds=cfg.audio.buffer_seconds,
                                            block_size=cfg.audio.block_size)
        except Exception as exc:  # PortAudio errors are their own types
            raise UsageError(f"--stream: no audio output ({exc})") from exc
    return open_stream(runner, audio_out, cfg.generate.model, live_controls, overlap_seconds,
                       budget_fraction=budget_fraction)


def run(args: argparse.Namespace) -> int:
    from ditto_live.server.server import Server

    cfg = serve_config(args)
    config = cfg.server
    runner = make_runner(cfg, config, fake=args.fake_runner)
    live: dict[str, float] = {}  # one dict: OSC /ditto/control/set and MIDI write it, the stream reads it
    stream = build_stream(cfg, runner, live) if args.stream else None
    midi = attach_midi(cfg, live) if args.midi else None
    midi_input = midi.input if midi is not None else None
    server = Server(config, runner, stream=stream, live_controls=live, midi=midi, warm=cfg.engine.warm)
    if stream is not None:
        stream.on_state = server.notify_stream_state  # subscribers hear when the stream stops on its own
    drop = None
    if args.drop_folder:
        from ditto_live.bridges.filedrop import FileDrop

        drop = FileDrop(args.drop_folder, server.submit_job)
        try:
            drop.prepare()
        except OSError as exc:
            raise UsageError(f"--drop-folder {args.drop_folder}: {exc.strerror or exc}") from None
    previous = signal.signal(signal.SIGTERM, lambda *_: server.stop())
    # Ctrl-C stops the server even when it was started from a shell that ignores SIGINT for background jobs
    # (Python then installs no handler of its own and a SIGINT would be lost)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        server.start()
        if drop is not None:
            drop.start()
            log.info("file drop: running job files dropped into %s", drop.folder)
        host, port = server.address
        log.info("ditto-live serving OSC on %s:%d (protocol in ditto_live/protocol.json); Ctrl-C stops", host, port)
        server.serve_forever()
    except KeyboardInterrupt:
        log.info("interrupted: cancelling jobs and shutting down")
    finally:
        if drop is not None:
            drop.stop()
        server.stop()
        if midi_input is not None:
            midi_input.close()
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
    return 0
