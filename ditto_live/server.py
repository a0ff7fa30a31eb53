"""The OSC server (DESIGN.md §7): one receive thread answers requests at once, one worker runs jobs.

Requests and replies are the rows of ``ditto_live/protocol.py``. A datagram that is not a
well-formed request gets ``/ditto/error``; a job request gets ``/ditto/job/accepted``, throttled
``/ditto/job/progress`` and exactly one terminal ``/ditto/job/done`` or ``/ditto/job/error``.
Replies go to the sender (or ``reply_port`` on the sender's host) and to every subscriber.
Bound beyond loopback, datagrams from addresses outside the allow-list are dropped and logged.
Reading a request's job (JSON or a file, inputs under the allowed roots, error codes) lives in
``ditto_live/server_requests.py``.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ditto_live.bridges.osc import (
    MAX_DATAGRAM,
    Addr,
    AllowList,
    Datagram,
    OscDecodeError,
    OscEndpoint,
    UdpEndpoint,
    decode_packet,
    encode_message,
    is_loopback,
)
from ditto_live.chunks import ChunkAssembler, ChunkError
from ditto_live.config import ServerConfig
from ditto_live.errors import UsageError
from ditto_live.jobspec import JobSpec
from ditto_live.protocol import (
    BY_ADDRESS,
    LIVE_CONTROLS,
    PROTOCOL_VERSION,
    ArgumentError,
    coerce_args,
    type_tags,
)
from ditto_live.queue import DuplicateJob, Job, JobQueue, QueueFull, Runner, RunResult
from ditto_live.server_requests import (
    RequestError,
    check_inputs,
    error_code,
    load_base,
    load_spec,
    read_json,
    short,
    valid_job_id,
)

log = logging.getLogger(__name__)

MAX_SUBSCRIBERS = 16  # clients that may subscribe at once
MAX_SUMMARY_CHARS = 4000  # a done summary longer than this keeps only its short fields


class StreamControl(Protocol):
    """What the server needs from the continuous-generation stream (``ditto_live.stream.Stream``)."""

    def start(self, spec: JobSpec) -> None: ...

    def stop(self) -> None: ...

    def state(self) -> tuple[str, int]:
        """("stopped" | "running", underruns so far)."""
        ...


class MidiTake(Protocol):
    """What the server needs from the MIDI bridge (``ditto_live.midi_control.MidiControl``)."""

    def take_job(self, base: dict[str, Any] | None = None) -> dict[str, Any]:
        """The take recorded so far as a job dict (ValueError when it is empty)."""
        ...

    def reset(self) -> None: ...

    def take_state(self) -> tuple[int, float]:
        """(notes recorded, tempo in force)."""
        ...


class Server:
    """OSC front of the engine: ``start()``, ``stop()``, or ``serve_forever()`` until ``stop()``."""

    def __init__(self, config: ServerConfig, runner: Runner, stream: StreamControl | None = None,
                 endpoint: OscEndpoint | None = None, chunk_timeout_s: float = 30.0,
                 live_controls: dict[str, float] | None = None, midi: MidiTake | None = None) -> None:
        self.config = config
        self.runner = runner
        self.stream = stream
        self.midi = midi  # the MIDI take for /ditto/midi/take|reset (None: served without --midi)
        self.loopback_only = is_loopback(config.host)
        try:
            self._allow = AllowList(config.allow)
        except ValueError as exc:
            raise UsageError(f"server.allow: {exc}") from None
        if not self.loopback_only and not self._allow:
            raise UsageError(f"binding {config.host} needs server.allow (the clients to accept)")
        self.output_dir = Path(config.output_dir).expanduser().resolve()
        self.allowed_roots = tuple(str(Path(r).expanduser().resolve()) for r in config.allowed_roots)
        self._endpoint = endpoint
        self._chunks = ChunkAssembler(config.max_chunks, config.max_payload_bytes, chunk_timeout_s)
        self._queue = JobQueue(runner, self, config.queue_size, config.progress_interval_s, self.output_dir)
        # the live controls (intensity, cfg, seed, bpm): one shared dict that /ditto/control/set and
        # the MIDI bridge write and the stream reads before every window
        self.live_controls: dict[str, float] = {} if live_controls is None else live_controls
        self._subscribers: list[Addr] = []
        self._lock = threading.Lock()  # guards subscribers and chunks
        self._stream_lock = threading.Lock()  # one stream start/stop at a time
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0  # datagrams refused by the allow-list
        self._handlers: dict[str, Callable[[list[Any], Addr], None]] = {
            "/ditto/server/ping": self._ping, "/ditto/server/status": self._status,
            "/ditto/job/submit": self._submit, "/ditto/job/chunk": self._chunk,
            "/ditto/job/cancel": self._cancel, "/ditto/job/status": self._job_status,
            "/ditto/control/set": self._control_set, "/ditto/stream/start": self._stream_start,
            "/ditto/stream/stop": self._stream_stop, "/ditto/midi/take": self._midi_take,
            "/ditto/midi/reset": self._midi_reset, "/ditto/client/subscribe": self._subscribe,
            "/ditto/client/unsubscribe": self._unsubscribe,
        }

    # -- lifecycle ---------------------------------------------------------------------------------
    @property
    def address(self) -> Addr:
        """Where the server listens (after ``start``)."""
        assert self._endpoint is not None, "server not started"
        return self._endpoint.address

    @property
    def alive(self) -> bool:
        """Both threads are running (tests check a hostile datagram did not kill one)."""
        return self._thread is not None and self._thread.is_alive() and self._queue.alive

    def start(self) -> Server:
        if self._endpoint is None:
            self._endpoint = UdpEndpoint(self.config.host, self.config.port)
        if not self.loopback_only:
            log.warning("OSC bound to %s (beyond loopback); accepting only %s", self.config.host, self._allow)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self._queue.start()
        self._thread = threading.Thread(target=self._receive_loop, name="ditto-osc", daemon=True)
        self._thread.start()
        log.info("serving OSC on %s:%d, results in %s", *self.address, self.output_dir)
        return self

    def stop(self) -> None:
        """Cancel queued and running jobs (their clients are told), then close the socket."""
        if self._stopped.is_set():
            return
        self._queue.stop()
        if self.stream is not None:  # before the socket closes, so subscribers hear it stopped
            try:
                self.stream.stop()
            except Exception:
                log.exception("stopping the stream failed")
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(5.0)
        if self._endpoint is not None:
            self._endpoint.close()

    def serve_forever(self) -> None:
        if self._thread is None:
            self.start()
        while not self._stopped.wait(0.5):
            pass

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- receiving ---------------------------------------------------------------------------------
    def _receive_loop(self) -> None:
        assert self._endpoint is not None
        while not self._stopped.is_set():
            try:
                dgram = self._endpoint.receive(0.1)
                if dgram is not None:
                    self.handle_datagram(dgram)
                self._expire_chunks()
            except Exception:  # the loop outlives any single datagram
                log.exception("receive loop error")

    def handle_datagram(self, dgram: Datagram) -> None:
        """Answer every message of one datagram; never raises."""
        sender = dgram.sender
        if not self.loopback_only and sender[0] not in self._allow:
            self.dropped += 1
            log.warning("dropped a datagram from %s:%d (not in server.allow)", *sender)
            return
        if len(dgram.data) > MAX_DATAGRAM:
            self._send_error(sender, "too_large", f"datagram of {len(dgram.data)} bytes")
            return
        try:
            messages = decode_packet(dgram.data)
        except OscDecodeError as exc:
            self._send_error(sender, "bad_request", str(exc))
            return
        for msg in messages:
            try:
                self._dispatch(msg.address, msg.args, sender)
            except Exception as exc:  # a bug answering one request must not stop the others
                log.exception("while answering %s", msg.address)
                self._send_error(sender, "failed", f"{type(exc).__name__}: {exc}")

    def _dispatch(self, address: str, args: tuple[Any, ...], sender: Addr) -> None:
        handler = self._handlers.get(address)
        if handler is None:
            known = address in BY_ADDRESS
            self._send_error(sender, "bad_request" if known else "not_found",
                             f"{address!r:.80} is a reply, not a request" if known else
                             f"unknown address {address!r:.80}")
            return
        try:
            values = coerce_args(address, args)
        except ArgumentError as exc:
            job_id = args[0] if args and isinstance(args[0], str) else None
            if address in ("/ditto/job/submit", "/ditto/job/chunk", "/ditto/job/cancel",
                           "/ditto/midi/take") and job_id is not None:
                self._send_job_error(job_id, [sender], "bad_request", str(exc))
            else:
                self._send_error(sender, "bad_request", str(exc))
            return
        handler(values, sender)

    # -- sending -----------------------------------------------------------------------------------
    def _reply_target(self, sender: Addr) -> Addr:
        return (sender[0], self.config.reply_port) if self.config.reply_port else sender

    def _targets(self, senders: list[Addr | None]) -> list[Addr]:
        with self._lock:
            subs = list(self._subscribers)
        out: list[Addr] = []
        for t in [self._reply_target(s) for s in senders if s is not None] + subs:
            if t not in out:
                out.append(t)
        return out

    def _send(self, targets: list[Addr | None], address: str, args: list[Any]) -> None:
        if self._endpoint is None:
            return
        data = encode_message(address, args, type_tags(address))
        for t in self._targets(targets):
            self._endpoint.send_raw(data, t)

    def _send_error(self, sender: Addr, code: str, message: str) -> None:
        self._send([sender], "/ditto/error", [code, short(message)])

    def _send_job_error(self, job_id: str, to: list[Addr | None], code: str, message: str) -> None:
        self._send(to, "/ditto/job/error", [short(job_id, 64), code, short(message)])

    # -- JobEvents (called by the worker) -------------------------------------------------------------
    def progress(self, job: Job, stage: str, step: int, total: int, loss: float) -> None:
        self._send([job.reply_to], "/ditto/job/progress", [job.job_id, stage, step, total, loss])

    def finished(self, job: Job, result: RunResult | None, code: str | None, message: str) -> None:
        to = [job.reply_to, *job.extra_reply_to]
        if code is not None or result is None:
            self._send_job_error(job.job_id, to, code or "failed", message or "no result")
            return
        now = time.monotonic()
        summary = dict(result.summary)
        summary.update(job_id=job.job_id, latency_s=round(now - job.submitted, 4),
                       queue_wait_s=round((job.started or now) - job.submitted, 4))
        sidecar = Path(result.wav_path).with_suffix(".json")
        if "sidecar" not in summary and sidecar.is_file():
            summary["sidecar"] = str(sidecar)
        text = json.dumps(summary, default=str)
        if len(text) > MAX_SUMMARY_CHARS:  # keep the datagram small: short fields only, the sidecar has all
            short = {k: v for k, v in summary.items() if len(json.dumps(v, default=str)) < 256}
            text = json.dumps(short | {"truncated": True}, default=str)
        self._send(to, "/ditto/job/done", [job.job_id, str(Path(result.wav_path).resolve()), text])

    # -- request handlers ----------------------------------------------------------------------------
    def _ping(self, args: list[Any], sender: Addr) -> None:
        self._send([sender], "/ditto/server/pong", [args[0], PROTOCOL_VERSION])

    def _status(self, args: list[Any], sender: Addr) -> None:
        state: dict[str, Any] = {"version": PROTOCOL_VERSION, **self._queue.snapshot(),
                                 "device": getattr(self.runner, "device", None),
                                 **dict(getattr(self.runner, "description", {}) or {}),
                                 "controls": dict(self.live_controls), "output_dir": str(self.output_dir)}
        if self.stream is not None:
            state["stream"] = self._stream_status()[0]
            stats = getattr(self.stream, "stats", None)
            if stats is not None:  # underruns beside generation time vs audio per window
                state["stream_stats"] = stats()
        if self.midi is not None:
            notes, bpm = self.midi.take_state()
            state["midi"] = {"notes": notes, "bpm": bpm}
        self._send([sender], "/ditto/server/state", [json.dumps(state, default=str)])

    def load_spec(self, text: str, live_defaults: bool = False) -> JobSpec:
        """Job JSON (or '@' + path of a JSON file under an allowed root) -> a checked JobSpec.

        With ``live_defaults`` the live controls cfg, seed and bpm fill in those keys when the job
        leaves them out (a job's own values always win)."""
        return load_spec(text, self.config.max_payload_bytes, self.allowed_roots,
                         self.live_controls if live_defaults else None)

    def read_json(self, text: str) -> Any:
        """JSON text, or '@' + path of a JSON file under an allowed root, within the payload limit."""
        return read_json(text, self.config.max_payload_bytes, self.allowed_roots)

    def check_inputs(self, spec: JobSpec) -> JobSpec:
        """Every file a job would read resolved under the allowed roots (else PathForbidden)."""
        return check_inputs(spec, self.allowed_roots)

    def load_base(self, text: str) -> dict[str, Any]:
        """A base job dict from JSON text ('' = {}); '@' + path reads a file under an allowed root."""
        return load_base(text, self.config.max_payload_bytes, self.allowed_roots)

    def submit_job(self, job_id: str, job: dict[str, Any] | str, reply_to: Addr | None = None) -> int:
        """Validate and queue one job; its queue position. Raises RequestError (with a protocol code).

        ``job`` is a job dict or its JSON text (or '@' + path). Replies (accepted, progress, the one
        terminal reply) go to ``reply_to`` when given and to every subscriber; in-process sources
        without an address (the file drop) pass None.
        """
        if not valid_job_id(job_id):
            raise RequestError("bad_request", "job_id: 1-64 printable characters")
        try:
            spec = self.load_spec(job if isinstance(job, str) else json.dumps(job), live_defaults=True)
        except RequestError:
            raise
        except Exception as exc:
            raise RequestError(*error_code(exc)) from exc
        to = [reply_to] if reply_to is not None else []
        try:
            return self._queue.submit(Job(job_id, spec, reply_to=reply_to), on_queued=lambda position: self._send(
                to, "/ditto/job/accepted", [job_id, position]))
        except QueueFull as exc:
            raise RequestError("busy", str(exc)) from exc
        except DuplicateJob as exc:
            raise RequestError("bad_request", str(exc)) from exc

    def submit_text(self, job_id: str, text: str, sender: Addr) -> None:
        """A job request from ``sender``: accepted-then-terminal, or one error reply."""
        try:
            self.submit_job(job_id, text, sender)
        except RequestError as exc:
            self._send_job_error(job_id, [sender], exc.code, str(exc))

    def _submit(self, args: list[Any], sender: Addr) -> None:
        self.submit_text(args[0], args[1], sender)

    def _chunk(self, args: list[Any], sender: Addr) -> None:
        job_id, index, total, data = args
        if not valid_job_id(job_id):
            self._send_job_error(job_id, [sender], "bad_request", "job_id: 1-64 printable characters")
            return
        try:
            with self._lock:
                payload = self._chunks.add((sender, job_id), index, total, data)
        except ChunkError as exc:
            self._send_job_error(job_id, [sender], exc.code, str(exc))
            return
        if payload is not None:
            self.submit_text(job_id, payload, sender)

    def _expire_chunks(self) -> None:
        with self._lock:
            stale = self._chunks.expire()
        for (sender, job_id), got, total in stale:
            self._send_job_error(job_id, [sender], "bad_request",
                                 f"chunked payload incomplete: {got} of {total} chunks within "
                                 f"{self._chunks.timeout_s:g} s")

    def _cancel(self, args: list[Any], sender: Addr) -> None:
        job_id = args[0]
        with self._lock:
            had_chunks = self._chunks.discard((sender, job_id))
        if had_chunks:
            self._send_job_error(job_id, [sender], "cancelled", "cancelled before all chunks arrived")
            return
        if self._queue.cancel(job_id, requester=sender) is None:
            self._send_job_error(job_id, [sender], "not_found", f"job {job_id!r:.70} is not queued or running")

    def _job_status(self, args: list[Any], sender: Addr) -> None:
        self._send([sender], "/ditto/job/state", [args[0], self._queue.state(args[0])])

    def _control_set(self, args: list[Any], sender: Addr) -> None:
        name, value = args
        if name not in LIVE_CONTROLS:
            self._send_error(sender, "bad_request", f"control {name!r:.40}: expected one of {', '.join(LIVE_CONTROLS)}")
            return
        if not math.isfinite(value):
            self._send_error(sender, "bad_request", f"control {name}: value must be finite")
            return
        self.live_controls[name] = value
        setter = getattr(self.stream, "set_control", None)
        if setter is not None:
            try:
                setter(name, value)
            except Exception as exc:
                log.warning("stream refused control %s=%s: %s", name, value, exc)
        self._send([sender], "/ditto/control/value", [name, value])

    def _stream_status(self) -> tuple[str, int]:
        assert self.stream is not None
        state, underruns = self.stream.state()
        return str(state), int(underruns)

    def notify_stream_state(self, state: str, underruns: int) -> None:
        """Tell every subscriber the stream's state (hook for ``Stream.on_state``: it stopped, say)."""
        self._send([], "/ditto/stream/state", [str(state), int(underruns)])

    def _stream_start(self, args: list[Any], sender: Addr) -> None:
        self._stream_call(sender, lambda stream: stream.start(self.load_spec(args[0])))

    def _stream_stop(self, args: list[Any], sender: Addr) -> None:
        self._stream_call(sender, lambda stream: stream.stop())

    def _stream_call(self, sender: Addr, action: Callable[[StreamControl], None]) -> None:
        """Start or stop the stream on a helper thread (stopping waits for the window in flight, which
        must not hold up pings), one call at a time; then reply with its state."""
        stream = self.stream
        if stream is None:
            self._send_error(sender, "failed", "stream unavailable: this server runs without audio streaming")
            return

        def call() -> None:
            with self._stream_lock:
                try:
                    action(stream)
                except Exception as exc:
                    code, message = error_code(exc)
                    self._send_error(sender, code, f"stream: {message}")
                    return
                self._send([sender], "/ditto/stream/state", list(self._stream_status()))

        threading.Thread(target=call, name="ditto-stream-control", daemon=True).start()

    def _midi_take(self, args: list[Any], sender: Addr) -> None:
        """The MIDI take as a job, merged into the base spec; replies like ``/ditto/job/submit``."""
        job_id, base_text = args
        try:
            if self.midi is None:
                raise RequestError("failed", "no MIDI input: start the server with --midi")
            try:
                job = self.midi.take_job(self.load_base(base_text))
            except ValueError as exc:  # an empty take
                raise RequestError("bad_request", str(exc)) from exc
            self.submit_job(job_id, job, sender)
        except RequestError as exc:
            self._send_job_error(job_id, [sender], exc.code, str(exc))

    def _midi_reset(self, args: list[Any], sender: Addr) -> None:
        if self.midi is None:
            self._send_error(sender, "failed", "no MIDI input: start the server with --midi")
            return
        self.midi.reset()
        notes, bpm = self.midi.take_state()
        self._send([sender], "/ditto/midi/state", [int(notes), float(bpm)])

    def _subscribe(self, args: list[Any], sender: Addr) -> None:
        port = args[0]
        if not 0 < port < 65536:
            self._send_error(sender, "bad_request", f"port {port}: expected 1..65535")
            return
        target = (sender[0], port)
        with self._lock:
            full = target not in self._subscribers and len(self._subscribers) >= MAX_SUBSCRIBERS
            if not full and target not in self._subscribers:
                self._subscribers.append(target)
        if full:
            self._send_error(sender, "busy", f"at most {MAX_SUBSCRIBERS} subscribers")
            return
        self._send([sender], "/ditto/client/subscribed", [port, 1])

    def _unsubscribe(self, args: list[Any], sender: Addr) -> None:
        port = args[0]
        with self._lock:
            if (sender[0], port) in self._subscribers:
                self._subscribers.remove((sender[0], port))
        self._send([sender], "/ditto/client/subscribed", [port, 0])
