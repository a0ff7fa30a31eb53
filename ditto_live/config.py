"""Server and generation settings: frozen dataclasses, one TOML file, ``--set`` overrides.

Every field carries a comment saying what it does. A TOML file or an override that names an
unknown key, or gives a value of the wrong type, is an error that names the key.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ditto_live.generation.jobspec import JobSpec

MAX_PAYLOAD_LIMIT = 64_000_000  # largest server.max_payload_bytes (a job JSON held in memory while read)
MAX_THREADS = 1024  # largest server.threads
DEVICES = ("auto", "cpu", "cuda", "mps")  # generate.device: a name, or cuda:N
MIDI_CHANNELS = range(-1, 16)  # midi.channel: 0-15, -1 = all


class ConfigError(ValueError):
    """A configuration key is unknown or its value has the wrong type."""


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"  # address the OSC server binds; anything but loopback needs `allow`
    port: int = 9010  # UDP port the server listens on
    reply_port: int = 0  # send replies to this port on the sender's host; 0 = the sender's own port
    allow: tuple[str, ...] = ("127.0.0.1",)  # client addresses accepted when bound beyond loopback
    output_dir: str = "~/ditto_live_out"  # every result WAV and sidecar is written under here
    allowed_roots: tuple[str, ...] = ("~",)  # folders a request may read inputs (MIDI, WAV, JSON) from
    queue_size: int = 8  # jobs waiting for the engine; a full queue answers "busy" at once
    progress_interval_s: float = 0.25  # at most one progress reply per job in this many seconds
    max_chunks: int = 256  # most datagrams one chunked payload may span
    max_payload_bytes: int = 1_000_000  # most bytes one reassembled payload may hold
    threads: int = 0  # the engine's CPU threads; 0 = chosen per job from the cores other programs leave free
    # the work budget: a request over any of these is refused with bad_request before it is accepted
    max_clip_seconds: float = 60.0  # longest clip a job, a stream window or a MIDI take may ask for
    max_work_steps: int = 20_000  # most optimisation work: windows x steps x seeds x network passes a step
    max_memory_mb: int = 8192  # most memory a request's estimated working set may need (ditto_live/server/budget.py)
    # the client model: a client is one sender address and port
    max_clients: int = 256  # clients remembered at once; the longest idle one without a job is forgotten first
    client_ttl_s: float = 600.0  # a client silent this long with no job is forgotten (subscriptions, controls)
    max_subscriptions: int = 4  # reply ports one client may subscribe at once
    max_chunked: int = 4  # chunked payloads one client may have in flight at once
    chunk_timeout_s: float = 30.0  # a chunked payload not complete this long after its first piece is dropped
    status_per_s: float = 10.0  # status requests answered per host per second (bursts of twice that)
    max_queued_per_client: int = 2  # jobs one client may have waiting; more is "busy" (the rest is for others)
    allow_untrained: bool = False  # jobs may name the random-weight models (tiny-/paper-untrained: benches, tests)
    orphan_age_s: float = 60.0  # at start, temp files and WAVs without a sidecar older than this are removed

    def __post_init__(self) -> None:
        check_server_config(self)


@dataclass(frozen=True)
class GenerateConfig:
    """Job defaults for ``generate`` (and the server's model and device). The job fields' defaults are
    JobSpec's own (ditto_live/generation/jobspec.py): one home; a TOML file overrides them here."""

    model: str = JobSpec.model  # bundled model name or path to a checkpoint folder
    device: str = "auto"  # "cpu", "cuda", or "auto" (cuda when available)
    method: str = JobSpec.method  # "ditto2" (distilled surrogate) or "ditto" (full-chain baseline)
    student: str = JobSpec.student  # distilled student used by ditto2: "ctm" or "cm"
    steps: int = JobSpec.steps  # K optimisation steps; 0 = the controls' default (the largest of theirs)
    lr: float = JobSpec.lr  # Adam learning rate on x_T; 0 = the controls' default (the smallest of theirs)
    surrogate: str = JobSpec.surrogate  # M during optimisation: an integer or "adaptive"
    decode_steps: int = JobSpec.decode_steps  # T decoding steps of the student (1..8); 0 = the controls' default
    gamma: float = JobSpec.gamma  # CTM gamma-sampling stochasticity (0 = deterministic, 1 = CM-style)
    cfg: float = JobSpec.cfg  # classifier-free guidance weight w
    seeds: int = JobSpec.seeds  # B seeds optimised together; the best is returned
    tolerance: float = JobSpec.tolerance  # stop early when the control loss falls below this (0 = never)
    sample_rate_out: int = JobSpec.sample_rate_out  # resample results to this rate (44100/48000); 0 = the model's
    laion_clap: str = ""  # path of a LAION-CLAP checkpoint for the text control; "" = the bundle's own model

    def __post_init__(self) -> None:
        ok = self.device in DEVICES or re.fullmatch(r"cuda:\d{1,2}", self.device) is not None
        if not ok:
            raise ConfigError(f"generate.device = {self.device!r}: expected one of {', '.join(DEVICES)} or cuda:N")


@dataclass(frozen=True)
class EngineConfig:
    backend: str = "auto"  # ITO/decode backend: one of engine/backend_names.py BACKEND_CHOICES (auto = fastest
    #                        measured for the device); one refused by its parity check falls back to eager
    measure: bool = True  # measure adherence (and plot) after delivering each job; off for live use
    warm: bool = True  # serve: load the default model, prepare the backend and measurement code before "ready"


@dataclass(frozen=True)
class MidiConfig:
    input_port: str = ""  # name of the MIDI input to open; "" = a virtual port named "ditto-live"
    intensity_cc: int = 1  # controller number whose sweep becomes the intensity curve
    channel: int = -1  # MIDI channel to listen to (0-15); -1 = all

    def __post_init__(self) -> None:
        if self.channel not in MIDI_CHANNELS:
            raise ConfigError(f"midi.channel = {self.channel!r}: expected 0..15, or -1 for all")
        if not 0 <= self.intensity_cc <= 127:
            raise ConfigError(f"midi.intensity_cc = {self.intensity_cc!r}: expected a controller number 0..127")


@dataclass(frozen=True)
class AudioConfig:
    output_device: str = ""  # sounddevice output name; "" = the system default
    buffer_seconds: float = 4.0  # ring buffer capacity between generator and output stream
    block_size: int = 512  # frames per output callback
    stream_budget: float = 0.7  # each stream window's deadline as a fraction of the audio it must cover; 0 = none
    stream_overlap: float = 1.0  # seconds of the previous stream window that open the next (its outpaint reference)


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    midi: MidiConfig = field(default_factory=MidiConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)


def check_server_config(server: ServerConfig) -> None:
    """Every ``[server]`` value within its range; ConfigError naming the first key that is not."""
    rules: tuple[tuple[str, bool, str], ...] = (
        ("host", server.host.strip() != "" and server.host.isprintable() and len(server.host) <= 253,
         "an address to bind, printable (\"\" would bind every interface)"),
        ("port", 0 <= server.port < 65536, "0..65535 (0 = any free port)"),
        ("reply_port", 0 <= server.reply_port < 65536, "0..65535 (0 = the sender's port)"),
        ("queue_size", server.queue_size >= 1, ">= 1"),
        ("progress_interval_s", 0 <= server.progress_interval_s <= 60, "0..60 seconds"),
        ("max_chunks", server.max_chunks >= 1, ">= 1"),
        ("reply_port", server.reply_port == 0 or server.reply_port != server.port,
         "not the server's own port (it would answer its own replies)"),
        ("max_payload_bytes", 1024 <= server.max_payload_bytes <= MAX_PAYLOAD_LIMIT, f"1024..{MAX_PAYLOAD_LIMIT}"),
        ("threads", server.threads <= MAX_THREADS, f"at most {MAX_THREADS}"),
        ("threads", server.threads >= 0, ">= 0 (0 = chosen from the free cores)"),
        ("max_clip_seconds", 0 < server.max_clip_seconds <= 3600, "0 < seconds <= 3600"),
        ("max_work_steps", server.max_work_steps >= 1, ">= 1"),
        ("max_memory_mb", server.max_memory_mb >= 64, ">= 64"),
        ("max_clients", 1 <= server.max_clients <= 65536, "1..65536"),
        ("client_ttl_s", server.client_ttl_s > 0, "> 0 seconds"),
        ("max_subscriptions", 0 <= server.max_subscriptions <= 64, "0..64"),
        ("max_queued_per_client", server.max_queued_per_client >= 1, ">= 1"),
        ("max_chunked", server.max_chunked >= 1, ">= 1"),
        ("chunk_timeout_s", server.chunk_timeout_s > 0, "> 0 seconds"),
        ("status_per_s", server.status_per_s > 0, "> 0"),
        ("orphan_age_s", server.orphan_age_s >= 0, ">= 0 seconds"),
    )
    for key, ok, expected in rules:
        if not ok:
            raise ConfigError(f"server.{key} = {getattr(server, key)!r}: expected {expected}")


def _coerce(key: str, value: Any, annotation: Any) -> Any:
    """Check ``value`` against a field annotation; return it in the field's type."""
    origin = typing.get_origin(annotation)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__}")
        (item_type, _) = typing.get_args(annotation)
        return tuple(_coerce(key, v, item_type) for v in value)
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation in (int, float) and isinstance(value, bool):
        raise ConfigError(f"{key}: expected {annotation.__name__}, got bool")
    if not isinstance(value, annotation):
        raise ConfigError(f"{key}: expected {annotation.__name__}, got {type(value).__name__} {value!r}")
    return value


def _section_from_dict(name: str, cls: type, data: dict[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in known:
            raise ConfigError(f"unknown key {name}.{key} (known: {', '.join(sorted(known))})")
    return cls(**{k: _coerce(f"{name}.{k}", v, hints[k]) for k, v in data.items()})


def config_from_dict(data: dict[str, Any]) -> Config:
    """Build a :class:`Config` from nested plain data, naming any bad key."""
    sections = {f.name: f for f in dataclasses.fields(Config)}
    for name, value in data.items():
        if name not in sections:
            raise ConfigError(f"unknown section {name!r} (known: {', '.join(sections)})")
        if not isinstance(value, dict):
            raise ConfigError(f"{name}: expected a table")
    hints = typing.get_type_hints(Config)
    return Config(**{n: _section_from_dict(n, hints[n], v) for n, v in data.items()})


def _parse_override_value(text: str) -> Any:
    """Read the value of ``--set k=v`` as TOML when it parses, else as a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` strings onto nested plain data (a copy)."""
    out = {k: dict(v) for k, v in data.items()}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected section.key=value")
        path, text = item.split("=", 1)
        if path.count(".") != 1:
            raise ConfigError(f"--set {path!r}: expected section.key")
        section, key = path.split(".")
        out.setdefault(section, {})[key] = _parse_override_value(text.strip())
    return out


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Load a TOML file (optional), apply overrides, validate every key and type."""
    data: dict[str, Any] = {}
    if path is not None:
        with open(path, "rb") as fh:
            try:
                data = tomllib.load(fh)
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{path}: {exc}") from exc
    return config_from_dict(apply_overrides(data, overrides or []))

