"""The OSC server (DESIGN.md §7): one receive thread answers requests at once, one worker runs jobs.

Requests and replies are the rows of ``ditto_live/protocol.py``. A datagram that is not a
well-formed request gets ``/ditto/error``; a job request gets ``/ditto/job/accepted``, throttled
``/ditto/job/progress`` and exactly one terminal ``/ditto/job/done`` or ``/ditto/job/error``.
Every job is held to the work budget (``ditto_live/server/budget.py``) before it is accepted.

Replies go to the sender (or ``reply_port`` on the sender's host) and to the subscriptions that
sender made (each confirmed from the subscribed port); the client model (controls, subscriptions, quotas,
expiry, confirmed hosts, the reply budget of a datagram) lives in ``ditto_live/server/clients.py``. The
server never answers a reply (a datagram addressed to a reply row is counted and dropped) and never sends
to its own address, so it cannot loop on itself or with another server. Job ids are per client; only the submitter, or a
holder of the token sent in ``accepted``, may cancel a job. Bound beyond loopback, datagrams from addresses outside the allow-list
are dropped and logged. Reading a request's job (JSON or a file, inputs under the allowed roots,
error codes) lives in ``ditto_live/server/requests.py``; the stream, MIDI and live-control requests in
``ditto_live/server/live.py`` (a ``LiveRequests`` the server holds).
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
from ditto_live.config import ServerConfig
from ditto_live.errors import UsageError
from ditto_live.generation.jobspec import JobSpec
from ditto_live.generation.models import UNTRAINED_PRESETS
from ditto_live.protocol import (
    BY_ADDRESS,
    PROTOCOL_VERSION,
    TERMINAL_ERRORS,
    ArgumentError,
    coerce_args,
    type_tags,
)
from ditto_live.results import clean_output_dir
from ditto_live.runner.contract import JobResult, Runner
from ditto_live.server.budget import Budget, check_budget
from ditto_live.server.chunks import ChunkAssembler, ChunkError
from ditto_live.server.clients import Client, ClientTable, QuotaExceeded, ReplyBudget
from ditto_live.server.live import LiveRequests, MidiTake, Replies, StreamControl
from ditto_live.server.logs import LogLimiter
from ditto_live.server.queue import DuplicateJob, Job, JobQueue, QueueFull
from ditto_live.server.requests import (
    RequestError,
    error_code,
    load_base,
    load_spec,
    printable_utf8,
    short,
    valid_job_id,
)

log = logging.getLogger(__name__)

MAX_SUMMARY_CHARS = 4000  # a done summary longer than this keeps only its short fields
MAX_CHUNKED_TOTAL = 64  # chunked payloads in flight from all clients together
HOUSEKEEPING_S = 1.0  # how often idle clients are forgotten
WARM_JOIN_S = 15.0  # how long stop() waits for a warm-up in progress
WILDCARD_HOSTS = ("0.0.0.0", "::", "")  # bound to these, the server is every address of this machine
JOB_ID_ADDRESSES = ("/ditto/job/submit", "/ditto/job/chunk", "/ditto/job/cancel", "/ditto/job/revoke",
                    "/ditto/midi/take")  # requests whose errors are job errors when a job id can be read


class Server:
    """OSC front of the engine: ``start()``, ``stop()``, or ``serve_forever()`` until ``stop()``."""

    def __init__(self, config: ServerConfig, runner: Runner, stream: StreamControl | None = None,
                 endpoint: OscEndpoint | None = None, chunk_timeout_s: float | None = None,
                 live_controls: dict[str, float] | None = None, midi: MidiTake | None = None,
                 warm: bool = True) -> None:
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
        self.budget = Budget(config.max_clip_seconds, config.max_work_steps, config.max_memory_mb)
        self.allow_untrained = config.allow_untrained  # jobs may name random-weight models (benches, tests)
        self._endpoint = endpoint
        self._chunks = ChunkAssembler(config.max_chunks, config.max_payload_bytes,
                                      config.chunk_timeout_s if chunk_timeout_s is None else chunk_timeout_s,
                                      max_pending=MAX_CHUNKED_TOTAL, max_per_owner=config.max_chunked)
        self._queue = JobQueue(runner, self, config.queue_size, config.progress_interval_s, self.output_dir,
                               max_per_owner=config.max_queued_per_client)
        self._jobs_of: Counter[Addr] = Counter()  # client -> its jobs queued or running
        self._jobs_lock = threading.Lock()  # guards _jobs_of (a leaf lock: nothing is called under it)
        self._clients = ClientTable(config.max_clients, config.client_ttl_s, config.max_subscriptions,
                                    config.status_per_s, has_jobs=self._has_jobs, on_forget=self._forgotten)
        # the live controls in force for the stream (intensity, cfg, seed, bpm): one shared dict that
        # /ditto/control/set and the MIDI bridge write and the stream reads before every window; each
        # client's own controls (in the client table) fill in its own jobs
        self.live_controls: dict[str, float] = {} if live_controls is None else live_controls
        self._warm = warm  # run the runner's warm() on start
        self.engine_state = "ready"  # "warming" while the runner's warm() runs
        self.warm_error: str | None = None  # what warm() raised, if it did
        self._lock = threading.Lock()  # guards chunks
        self._local = threading.local()  # the receive thread's reply budget for the datagram in hand
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._warm_thread: threading.Thread | None = None
        self._housekept = 0.0
        self.dropped = 0  # datagrams refused by the allow-list
        self.replies_dropped = 0  # messages addressed to a reply row: never answered (no reply loops)
        self.self_sends_refused = 0  # replies not sent because they were addressed to this server itself
        self.withheld = 0  # replies withheld over a datagram's reply budget
        self._own_hosts: frozenset[str] = frozenset()  # this machine's addresses (set by start)
        self._log = LogLimiter(log)  # one warning a while per kind of hostile traffic, with a count
        # the live requests (controls, stream, MIDI take), given what they answer with and act on
        self.live = LiveRequests(Replies(self._send, self._send_error, self._send_job_error), self._clients,
                                 self.live_controls, self, stream, midi)
        self._handlers: dict[str, Callable[[list[Any], Addr], None]] = {
            "/ditto/server/ping": self._ping, "/ditto/server/status": self._status,
            "/ditto/job/submit": self._submit, "/ditto/job/chunk": self._chunk,
            "/ditto/job/cancel": self._cancel, "/ditto/job/revoke": self._revoke,
            "/ditto/job/status": self._job_status, "/ditto/client/subscribe": self._subscribe,
            "/ditto/client/unsubscribe": self._unsubscribe, "/ditto/client/confirm": self._confirm,
            **self.live.handlers(),
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
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # under /proc, a file of that name, no permission
            raise UsageError(f"cannot use {self.output_dir} as the output folder: {exc.strerror or exc} "
                             "(server.output_dir, --output-dir)") from None
        if self._endpoint is None:
            try:
                self._endpoint = UdpEndpoint(self.config.host, self.config.port)
            except OSError as exc:  # in use, not an address of this machine, not resolvable
                raise UsageError(f"cannot listen on {self.config.host}:{self.config.port}: "
                                 f"{exc.strerror or exc} (server.host / server.port)") from None
        if self.config.reply_port and self.config.reply_port == self._endpoint.address[1]:
            self._endpoint.close()
            raise UsageError(f"server.reply_port = {self.config.reply_port} is the port the server listens on: "
                             "it would answer its own replies (choose another --reply-port)")
        self._own_hosts = own_hosts(self._endpoint.address[0])
        if not self.loopback_only:
            log.warning("OSC bound to %s (beyond loopback); accepting only %s", self.config.host, self._allow)
        import ditto_live.controls  # noqa: F401  the job language's control kinds (and torch): imported now, not
        #                             by the first request, which would hold up the receive thread for seconds
        for path in clean_output_dir(self.output_dir, self.config.orphan_age_s):
            log.warning("removed %s (left by a writer that was killed)", path)
        if self._warm:
            self._start_warming(self.runner.warm)
        self._queue.start()
        self._thread = threading.Thread(target=self._receive_loop, name="ditto-osc", daemon=True)
        self._thread.start()
        log.info("serving OSC on %s:%d, results in %s", *self.address, self.output_dir)
        return self

    def _start_warming(self, warm: Callable[[], object]) -> None:
        """Run the runner's ``warm()`` (load the model, prepare the backend) on its own thread; jobs
        accepted meanwhile wait in the queue, pings and status are answered throughout."""
        self.engine_state = "warming"
        self._queue.close_gate()

        def run() -> None:
            t0 = time.perf_counter()
            try:
                warm()
                log.info("engine ready (warmed in %.1f s)", time.perf_counter() - t0)
            except Exception as exc:
                self.warm_error = f"{type(exc).__name__}: {exc}"
                log.exception("warming the engine failed; jobs will load what they need themselves")
            finally:
                self.engine_state = "ready"
                self._queue.open_gate()

        self._warm_thread = threading.Thread(target=run, name="ditto-warm", daemon=True)
        self._warm_thread.start()

    def stop(self) -> None:
        """Cancel queued and running jobs (their clients are told), then close the socket."""
        if self._stopped.is_set():
            return
        self._queue.stop()
        if self._warm_thread is not None:  # an exit in the middle of native code (torch, numba) aborts the process
            self._warm_thread.join(WARM_JOIN_S)
            if self._warm_thread.is_alive():
                log.warning("the engine is still warming after %.0f s; exiting anyway", WARM_JOIN_S)
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
                self._housekeeping()
            except Exception:  # the loop outlives any single datagram
                log.exception("receive loop error")

    def _housekeeping(self) -> None:
        self._expire_chunks()
        now = time.monotonic()
        if now - self._housekept >= HOUSEKEEPING_S:
            self._housekept = now
            for addr in self._clients.expire():
                log.info("forgot client %s:%d (idle, no job)", *addr)

    def handle_datagram(self, dgram: Datagram) -> None:
        """Answer every message of one datagram within its reply budget; never raises."""
        sender = dgram.sender
        if not self.loopback_only and sender[0] not in self._allow:
            self.dropped += 1
            self._log.warn("not-allowed", "dropped datagrams from hosts not in server.allow (last %s:%d)", *sender)
            return
        if self._is_self(sender):  # another socket cannot send from our port; a forgery: never answered
            self.replies_dropped += 1
            return
        self._clients.touch(sender)
        budget = self._local.budget = ReplyBudget(len(dgram.data), self._clients.confirmed(sender[0]))
        try:
            self._answer(dgram, sender)
        finally:
            self._local.budget = None
        if budget.withheld:
            self.withheld += budget.withheld
            self._log.warn("withheld", "replies withheld over the reply budget (last: %d to %s:%d, budget %d bytes)",
                           budget.withheld, *sender, budget.limit)
            if budget.confirmed:  # an unconfirmed host gets nothing more: the notice would be amplification too
                self._send_error(sender, "busy", f"{budget.withheld} replies to this datagram withheld: replies "
                                                 f"may take at most {budget.limit} bytes on the wire (all "
                                                 "destinations together)", notice=True)

    def _answer(self, dgram: Datagram, sender: Addr) -> None:
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
                log.exception("while answering %s", printable_utf8(msg.address))
                self._send_error(sender, "failed", f"{type(exc).__name__}: {exc}")

    def _dispatch(self, address: str, args: tuple[Any, ...], sender: Addr) -> None:
        handler = self._handlers.get(address)
        if handler is None:
            if address in BY_ADDRESS:  # a reply (ours echoed back, another server's): answering it could loop
                self.replies_dropped += 1
                self._log.warn("reply", "dropped replies sent to the server (last %s from %s:%d)",
                               printable_utf8(address)[:40], *sender)
                return
            self._send_error(sender, "not_found", f"unknown address {address!r:.80}")
            return
        try:
            values = coerce_args(address, args)
        except ArgumentError as exc:
            job_id = args[0] if args and isinstance(args[0], str) else None
            if address in JOB_ID_ADDRESSES and job_id is not None:
                self._send_job_error(job_id, [sender], "bad_request", str(exc))
            else:
                self._send_error(sender, "bad_request", str(exc))
            return
        handler(values, sender)

    # -- sending -----------------------------------------------------------------------------------
    def _reply_target(self, sender: Addr) -> Addr:
        return (sender[0], self.config.reply_port) if self.config.reply_port else sender

    def _is_self(self, addr: Addr) -> bool:
        """Whether ``addr`` is this server's own socket (any address of this machine when bound to all)."""
        if self._endpoint is None or addr[1] != self._endpoint.address[1]:
            return False
        return addr[0] in self._own_hosts or is_loopback(addr[0])

    def _targets(self, senders: list[Addr | None]) -> list[Addr]:
        """Each sender (or reply_port on its host) and the subscriptions it made; None stands for an
        in-process source (the file drop) or a broadcast (stream state): every subscription. Never the
        server's own address."""
        out: list[Addr] = []
        for s in senders:
            found = self._clients.all_subscribers() if s is None else [self._reply_target(s),
                                                                       *self._clients.subscribers_of(s)]
            for t in found:
                if self._is_self(t):
                    self.self_sends_refused += 1
                elif t not in out:
                    out.append(t)
        return out

    def _send(self, to: list[Addr | None], address: str, args: list[Any], notice: bool = False) -> None:
        """Send one reply to ``to`` (see :meth:`_targets`) within the datagram's reply budget: an error that
        does not fit is cut short (down to no message at all); a confirmed host's job error is always sent
        (every job request's one terminal reply, however many a bundle holds)."""
        if self._endpoint is None:
            return
        targets = self._targets(to)
        if not targets:
            return
        args = [printable_utf8(a) for a in args]
        data = encode_message(address, args, type_tags(address))
        budget: ReplyBudget | None = getattr(self._local, "budget", None)
        if budget is not None and not notice and not budget.allow(len(data), len(targets)):
            if address not in TERMINAL_ERRORS:
                return
            budget.withheld -= 1  # an error is cut to fit instead
            data = self._cut_to_fit(address, args, budget.room(len(targets)))
            if not budget.allow(len(data), len(targets), force=budget.confirmed and address == "/ditto/job/error"):
                return  # (an unconfirmed host's job errors, even cut, over twice its datagram: counted)
        for t in targets:
            self._endpoint.send_raw(data, t)

    @staticmethod
    def _cut_to_fit(address: str, args: list[Any], room: int) -> bytes:
        """An error reply with its message (the last argument) cut to fit ``room`` bytes, or emptied."""
        data = encode_message(address, args, type_tags(address))
        message = str(args[-1])
        while len(data) > room and message:
            message = message[: max(0, min(len(message) - 4, len(message) - (len(data) - room)))]
            data = encode_message(address, [*args[:-1], message], type_tags(address))
        return data

    def _send_error(self, sender: Addr, code: str, message: str, notice: bool = False) -> None:
        self._send([sender], "/ditto/error", [code, short(message)], notice=notice)

    def _send_job_error(self, job_id: str, to: list[Addr | None], code: str, message: str) -> None:
        self._send(to, "/ditto/job/error", [short(job_id, 64), code, short(message)])

    # -- JobEvents (called by the worker) -------------------------------------------------------------
    def progress(self, job: Job, stage: str, step: int, total: int, loss: float) -> None:
        self._send([job.reply_to], "/ditto/job/progress", [job.job_id, stage, step, total, loss])

    def finished(self, job: Job, result: JobResult | None, code: str | None, message: str) -> None:
        self._count_job(job.reply_to, -1)
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

    def _forgotten(self, client: Client) -> None:
        """A client was forgotten: the shared stream controls it set (and nobody changed since) go too."""
        for name, value in client.controls.items():
            if self.live_controls.get(name) == value:
                self.live_controls.pop(name, None)

    def _count_job(self, owner: Addr | None, change: int) -> None:
        if owner is not None:
            with self._jobs_lock:
                self._jobs_of[owner] += change
                if self._jobs_of[owner] <= 0:
                    del self._jobs_of[owner]

    def _has_jobs(self, owner: Addr) -> bool:
        with self._jobs_lock:
            return self._jobs_of.get(owner, 0) > 0

    # -- server requests ------------------------------------------------------------------------------
    def _ping(self, args: list[Any], sender: Addr) -> None:
        self._send([sender], "/ditto/server/pong", [args[0], PROTOCOL_VERSION])

    def _status(self, args: list[Any], sender: Addr) -> None:
        allowed, refused = self._clients.allow_status(sender)
        if not allowed:
            if refused:
                self._log.warn("status", "status rate limited (last %s:%d, %d refused)", *sender, refused)
                self._send_error(sender, "busy", f"status: at most {self.config.status_per_s:g} a second per "
                                                 f"host (server.status_per_s); {refused} refused")
            return
        if not self._clients.confirmed(sender[0]):
            self._send([sender], "/ditto/server/state", [json.dumps(self.short_state(sender), separators=(",", ":"))])
            return
        self._send([sender], "/ditto/server/state", [json.dumps(self.state_for(sender), default=str)])

    def short_state(self, client: Addr) -> dict[str, Any]:
        """The status an unconfirmed host gets (a reply no larger than twice its request): the version,
        the engine's state and the code that confirms the host (``/ditto/client/confirm``)."""
        return {"version": PROTOCOL_VERSION, "engine": self.engine_state, "code": self._clients.codes.host(client[0])}

    def state_for(self, client: Addr | None) -> dict[str, Any]:
        """The status JSON as ``client`` sees it: its own jobs by id, others only counted."""
        queue, own = self._queue.snapshot(), self._queue.jobs_of(client)
        state: dict[str, Any] = {
            "version": PROTOCOL_VERSION, "engine": self.engine_state, **own, "queue_length": len(queue["queued"]),
            "queue_size": queue["queue_size"], "busy": queue["running"] is not None,
            "device": self.runner.device, **self.runner.description,
            "controls": dict(self.live_controls), "output_dir": str(self.output_dir),
            "limits": {"max_clip_seconds": self.budget.max_clip_seconds, "max_work_steps": self.budget.max_work_steps,
                       "max_memory_mb": self.budget.max_memory_mb},
        }
        if self.warm_error is not None:
            state["warm_error"] = self.warm_error
        if client is not None:
            state["client"] = self._clients.describe(client)
        return state | self.live.live_state()

    def notify_stream_state(self, state: str, underruns: int) -> None:
        """Tell every subscription the stream's state (hook for ``Stream.on_state``: it stopped, say)."""
        self.live.notify_stream_state(state, underruns)

    def _subscribe(self, args: list[Any], sender: Addr) -> None:
        """Ask for a subscription: the subscribed port gets a code (``/ditto/client/challenge``) and the
        subscription is active once someone on the host sends it back (``/ditto/client/confirm``)."""
        port = args[0]
        if not 0 < port < 65536:
            self._send_error(sender, "bad_request", f"port {port}: expected 1..65535")
            return
        if self._is_self((sender[0], port)):
            self._send_error(sender, "bad_request", f"port {port} is this server's own port: it would answer its "
                                                    "own replies")
            return
        try:
            code = self._clients.subscribe(sender, port)
        except QuotaExceeded as exc:
            self._send_error(sender, "busy", str(exc))
            return
        if not code:  # the sender's own port, or confirmed before
            self._send([sender], "/ditto/client/subscribed", [port, 1])
            return
        self._send_to((sender[0], port), "/ditto/client/challenge", [code])
        if self._clients.confirmed(sender[0]):  # (an unconfirmed host's budget holds the challenge only)
            self._send([sender], "/ditto/client/subscribed", [port, 0])  # pending until the code comes back

    def _send_to(self, target: Addr, address: str, args: list[Any]) -> None:
        """One reply to one address (not a client's routing: a subscription's code goes to that port only)."""
        if self._endpoint is None or self._is_self(target):
            return
        data = encode_message(address, args, type_tags(address))
        budget: ReplyBudget | None = getattr(self._local, "budget", None)
        if budget is None or budget.allow(len(data)):
            self._endpoint.send_raw(data, target)

    def _confirm(self, args: list[Any], sender: Addr) -> None:
        """A code sent back: it confirms the host, and a pending subscription when it was one's."""
        found = self._clients.confirm(sender, args[0])
        if found is None:
            self._send_error(sender, "forbidden", "confirm: not a code this server sent to this host")
        elif found.subscriber is None:
            self._send([sender], "/ditto/client/subscribed", [sender[1], 1])  # this port hears its replies
        else:
            self._send([found.subscriber], "/ditto/client/subscribed", [found.port, 1])

    def _unsubscribe(self, args: list[Any], sender: Addr) -> None:
        self._send([sender], "/ditto/client/subscribed", [args[0], 0])  # the port hears it is off
        self._clients.unsubscribe(sender, args[0])

    # -- reading jobs -----------------------------------------------------------------------------------
    def load_spec(self, text: str, defaults: dict[str, float] | None = None) -> JobSpec:
        """Job JSON (or '@' + path of a JSON file under an allowed root) -> a checked JobSpec.

        ``defaults`` (a client's live controls) fill in cfg, seed and bpm when the job leaves them out
        (a job's own values always win)."""
        return load_spec(text, self.config.max_payload_bytes, self.allowed_roots, defaults)

    def check_work(self, spec: JobSpec, what: str = "job", slowest_bpm: bool = False) -> None:
        """The one check of what a job, a stream spec or a MIDI take may ask of the engine: the work budget
        (``budget.py``), and no random-weight model unless the server was started to allow them."""
        if spec.model in UNTRAINED_PRESETS and not self.allow_untrained:
            raise RequestError("forbidden", f"{what}.model {spec.model!r} has random weights (for benches and "
                                            "tests): start the server with --allow-untrained to use it")
        check_budget(spec, self.budget, what, slowest_bpm=slowest_bpm)

    def load_base(self, text: str) -> dict[str, Any]:
        """A base job dict from JSON text ('' = {}); '@' + path reads a file under an allowed root."""
        return load_base(text, self.config.max_payload_bytes, self.allowed_roots)

    # -- job requests ---------------------------------------------------------------------------------
    def submit_job(self, job_id: str, job: dict[str, Any] | str, reply_to: Addr | None = None) -> int:
        """Validate, budget and queue one job; its queue position. Raises RequestError (with a protocol code).

        ``job`` is a job dict or its JSON text (or '@' + path). Replies (accepted with the job's cancel
        token, progress, the one terminal reply) go to ``reply_to`` and its subscriptions; in-process
        sources without an address (the file drop) pass None and are heard by every subscription.
        """
        if not valid_job_id(job_id):
            raise RequestError("bad_request", "job_id: 1-64 printable characters")
        try:
            spec = self.load_spec(job if isinstance(job, str) else json.dumps(job), self._clients.controls_of(reply_to))
            self.check_work(spec)
        except RequestError:
            raise
        except Exception as exc:
            raise RequestError(*error_code(exc)) from exc
        queued = Job(job_id, spec, reply_to=reply_to)

        def accepted(position: int) -> None:
            self._count_job(reply_to, +1)
            self._send([reply_to], "/ditto/job/accepted", [job_id, position, queued.token])

        try:
            return self._queue.submit(queued, on_queued=accepted)
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
                payload = self._chunks.add((sender, job_id), index, total, data, owner=sender)
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
                                 f"{self._chunks.timeout_s:g} s of the first")

    def _cancel(self, args: list[Any], sender: Addr) -> None:
        job_id = args[0]
        with self._lock:
            had_chunks = self._chunks.discard((sender, job_id))
        if had_chunks:
            self._send_job_error(job_id, [sender], "cancelled", "cancelled before all chunks arrived")
            return
        if self._queue.cancel(job_id, requester=sender, owner=sender) is None:  # job ids are per client
            self._send_job_error(job_id, [sender], "not_found", f"job {job_id!r:.70} of this client is not queued or "
                                 "running (another client's job: /ditto/job/revoke with its token)")

    def _revoke(self, args: list[Any], sender: Addr) -> None:
        job_id, token = args
        jobs = self._queue.find_any(job_id)
        job = next((j for j in jobs if hmac.compare_digest(j.token.encode(), token.encode("utf-8", "replace"))), None)
        if job is None or self._queue.cancel(job_id, requester=sender, owner=job.reply_to) is None:
            # one answer whether or not another client has a job of this id: revoke is no existence oracle
            self._send_job_error(job_id, [sender], "not_found", f"no queued or running job {job_id!r:.70} with "
                                                                "this token")

    def _job_status(self, args: list[Any], sender: Addr) -> None:
        self._send([sender], "/ditto/job/state", [short(args[0], 64), self._queue.state(args[0], owner=sender)])


def own_hosts(bound: str) -> frozenset[str]:
    """The addresses a socket bound to ``bound`` answers on: that one, or every address of this machine
    (best effort) when bound to all of them."""
    if bound not in WILDCARD_HOSTS:
        return frozenset({bound})
    hosts = {"127.0.0.1", "::1", "0.0.0.0", "::"}
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            hosts.add(str(info[4][0]))
    except OSError:
        pass
    return frozenset(hosts)
