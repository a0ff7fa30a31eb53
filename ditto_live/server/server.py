"""The OSC server (DESIGN.md §7): one receive thread answers requests at once, one worker runs jobs.

Requests and replies are the rows of ``ditto_live/protocol.py``. A datagram that is not a
well-formed request gets ``/ditto/error``; a job request gets ``/ditto/job/accepted``, throttled
``/ditto/job/progress`` and exactly one terminal ``/ditto/job/done`` or ``/ditto/job/error``.
Every job is held to the work budget (``ditto_live/server/budget.py``) before it is accepted.

This module holds the server's life (start, warm-up, stop), the receive loop and its dispatch, and the
server and subscription requests (ping, status, subscribe, confirm). By composition: the job requests and
the queue in ``job_requests.py`` (``JobRequests``; reading a request's job, inputs under the allowed roots
and error codes in ``requests.py``), the stream, MIDI and live-control requests in ``live.py``
(``LiveRequests``), and the sending of replies in ``outbox.py`` (``Outbox``: to the sender, or ``reply_port``
on the sender's host, and the subscriptions that sender made, within the datagram's reply budget). The
client model (controls, subscriptions, quotas, expiry, confirmed hosts, the reply budget) lives in
``clients.py``. The server never answers a reply (a datagram addressed to a reply row is counted and
dropped) and never sends to its own address, so it cannot loop on itself or with another server. Bound
beyond loopback, datagrams from addresses outside the allow-list are dropped and logged.
"""

from __future__ import annotations

import json
import logging
import threading
import time
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
    is_loopback,
)
from ditto_live.config import ServerConfig
from ditto_live.errors import UsageError
from ditto_live.generation.jobspec import JobSpec
from ditto_live.protocol import BY_ADDRESS, PROTOCOL_VERSION, ArgumentError, coerce_args
from ditto_live.results import clean_output_dir
from ditto_live.runner.contract import Runner
from ditto_live.server.clients import Client, ClientTable, QuotaExceeded, ReplyBudget
from ditto_live.server.job_requests import JobCounts, JobRequests
from ditto_live.server.live import LiveRequests, MidiTake, StreamControl
from ditto_live.server.logs import LogLimiter
from ditto_live.server.outbox import Outbox
from ditto_live.server.requests import RequestError, printable_utf8

__all__ = ["RequestError", "Server"]

log = logging.getLogger(__name__)

HOUSEKEEPING_S = 1.0  # how often idle clients are forgotten
WARM_JOIN_S = 15.0  # how long stop() waits for a warm-up in progress
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
        self._endpoint = endpoint
        counts = JobCounts()  # per client, its jobs queued or running
        self._clients = ClientTable(config.max_clients, config.client_ttl_s, config.max_subscriptions,
                                    config.status_per_s, has_jobs=counts.has_jobs, on_forget=self._forgotten)
        self._outbox = Outbox(self._clients, config.reply_port, endpoint)
        replies = self._outbox.replies
        # the job requests, the job intake and the queue's events; the server starts and stops the queue
        self.jobs = JobRequests(config, runner, replies, self._clients, counts, self.output_dir, chunk_timeout_s)
        self._queue = self.jobs.queue
        # the live controls in force for the stream (intensity, cfg, seed, bpm): one shared dict that
        # /ditto/control/set and the MIDI bridge write and the stream reads before every window; each
        # client's own controls (in the client table) fill in its own jobs
        self.live_controls: dict[str, float] = {} if live_controls is None else live_controls
        self._warm = warm  # run the runner's warm() on start
        self.engine_state = "ready"  # "warming" while the runner's warm() runs
        self.warm_error: str | None = None  # what warm() raised, if it did
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._warm_thread: threading.Thread | None = None
        self._housekept = 0.0
        self.dropped = 0  # datagrams refused by the allow-list
        self.replies_dropped = 0  # messages addressed to a reply row: never answered (no reply loops)
        self.withheld = 0  # replies withheld over a datagram's reply budget
        self._log = LogLimiter(log)  # one warning a while per kind of hostile traffic, with a count
        # the live requests (controls, stream, MIDI take), given what they answer with and act on
        self.live = LiveRequests(replies, self._clients, self.live_controls, self.jobs, stream, midi)
        self._handlers: dict[str, Callable[[list[Any], Addr], None]] = {
            "/ditto/server/ping": self._ping, "/ditto/server/status": self._status,
            "/ditto/client/subscribe": self._subscribe, "/ditto/client/unsubscribe": self._unsubscribe,
            "/ditto/client/confirm": self._confirm, **self.jobs.handlers(), **self.live.handlers(),
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

    @property
    def self_sends_refused(self) -> int:
        """Replies not sent because they were addressed to this server itself."""
        return self._outbox.self_sends_refused

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
        self._outbox.attach(self._endpoint)
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
        self.jobs.expire_chunks()
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
        if self._outbox.is_self(sender):  # another socket cannot send from our port; a forgery: never answered
            self.replies_dropped += 1
            return
        self._clients.touch(sender)
        with self._outbox.answering(ReplyBudget(len(dgram.data), self._clients.confirmed(sender[0]))) as budget:
            self._answer(dgram, sender)
        if budget.withheld:
            self.withheld += budget.withheld
            self._log.warn("withheld", "replies withheld over the reply budget (last: %d to %s:%d, budget %d bytes)",
                           budget.withheld, *sender, budget.limit)
            if budget.confirmed:  # an unconfirmed host gets nothing more: the notice would be amplification too
                self._outbox.error(sender, "busy", f"{budget.withheld} replies to this datagram withheld: replies "
                                                   f"may take at most {budget.limit} bytes on the wire (all "
                                                   "destinations together)", notice=True)

    def _answer(self, dgram: Datagram, sender: Addr) -> None:
        if len(dgram.data) > MAX_DATAGRAM:
            self._outbox.error(sender, "too_large", f"datagram of {len(dgram.data)} bytes")
            return
        try:
            messages = decode_packet(dgram.data)
        except OscDecodeError as exc:
            self._outbox.error(sender, "bad_request", str(exc))
            return
        for msg in messages:
            try:
                self._dispatch(msg.address, msg.args, sender)
            except Exception as exc:  # a bug answering one request must not stop the others
                log.exception("while answering %s", printable_utf8(msg.address))
                self._outbox.error(sender, "failed", f"{type(exc).__name__}: {exc}")

    def _dispatch(self, address: str, args: tuple[Any, ...], sender: Addr) -> None:
        handler = self._handlers.get(address)
        if handler is None:
            if address in BY_ADDRESS:  # a reply (ours echoed back, another server's): answering it could loop
                self.replies_dropped += 1
                self._log.warn("reply", "dropped replies sent to the server (last %s from %s:%d)",
                               printable_utf8(address)[:40], *sender)
                return
            self._outbox.error(sender, "not_found", f"unknown address {address!r:.80}")
            return
        try:
            values = coerce_args(address, args)
        except ArgumentError as exc:
            job_id = args[0] if args and isinstance(args[0], str) else None
            if address in JOB_ID_ADDRESSES and job_id is not None:
                self._outbox.job_error(job_id, [sender], "bad_request", str(exc))
            else:
                self._outbox.error(sender, "bad_request", str(exc))
            return
        handler(values, sender)

    # -- clients -------------------------------------------------------------------------------------
    def _forgotten(self, client: Client) -> None:
        """A client was forgotten: the shared stream controls it set (and nobody changed since) go too."""
        for name, value in client.controls.items():
            if self.live_controls.get(name) == value:
                self.live_controls.pop(name, None)

    # -- server requests ------------------------------------------------------------------------------
    def _ping(self, args: list[Any], sender: Addr) -> None:
        self._outbox.send([sender], "/ditto/server/pong", [args[0], PROTOCOL_VERSION])

    def _status(self, args: list[Any], sender: Addr) -> None:
        allowed, refused = self._clients.allow_status(sender)
        if not allowed:
            if refused:
                self._log.warn("status", "status rate limited (last %s:%d, %d refused)", *sender, refused)
                self._outbox.error(sender, "busy", f"status: at most {self.config.status_per_s:g} a second per "
                                                   f"host (server.status_per_s); {refused} refused")
            return
        if not self._clients.confirmed(sender[0]):
            self._outbox.send([sender], "/ditto/server/state",
                              [json.dumps(self.short_state(sender), separators=(",", ":"))])
            return
        self._outbox.send([sender], "/ditto/server/state", [json.dumps(self.state_for(sender), default=str)])

    def short_state(self, client: Addr) -> dict[str, Any]:
        """The status an unconfirmed host gets (a reply no larger than twice its request): the version,
        the engine's state and the code that confirms the host (``/ditto/client/confirm``)."""
        return {"version": PROTOCOL_VERSION, "engine": self.engine_state, "code": self._clients.codes.host(client[0])}

    def state_for(self, client: Addr | None) -> dict[str, Any]:
        """The status JSON as ``client`` sees it: its own jobs by id, others only counted."""
        queue, own = self._queue.snapshot(), self._queue.jobs_of(client)
        budget = self.jobs.budget
        state: dict[str, Any] = {
            "version": PROTOCOL_VERSION, "engine": self.engine_state, **own, "queue_length": len(queue["queued"]),
            "queue_size": queue["queue_size"], "busy": queue["running"] is not None,
            "device": self.runner.device, **self.runner.description,
            "controls": dict(self.live_controls), "output_dir": str(self.output_dir),
            "limits": {"max_clip_seconds": budget.max_clip_seconds, "max_work_steps": budget.max_work_steps,
                       "max_memory_mb": budget.max_memory_mb},
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
            self._outbox.error(sender, "bad_request", f"port {port}: expected 1..65535")
            return
        if self._outbox.is_self((sender[0], port)):
            self._outbox.error(sender, "bad_request", f"port {port} is this server's own port: it would answer "
                                                      "its own replies")
            return
        try:
            code = self._clients.subscribe(sender, port)
        except QuotaExceeded as exc:
            self._outbox.error(sender, "busy", str(exc))
            return
        if not code:  # the sender's own port, or confirmed before
            self._outbox.send([sender], "/ditto/client/subscribed", [port, 1])
            return
        self._outbox.send_to((sender[0], port), "/ditto/client/challenge", [code])
        if self._clients.confirmed(sender[0]):  # (an unconfirmed host's budget holds the challenge only)
            self._outbox.send([sender], "/ditto/client/subscribed", [port, 0])  # pending until the code comes back

    def _confirm(self, args: list[Any], sender: Addr) -> None:
        """A code sent back: it confirms the host, and a pending subscription when it was one's."""
        found = self._clients.confirm(sender, args[0])
        if found is None:
            self._outbox.error(sender, "forbidden", "confirm: not a code this server sent to this host")
        elif found.subscriber is None:
            self._outbox.send([sender], "/ditto/client/subscribed", [sender[1], 1])  # this port hears its replies
        else:
            self._outbox.send([found.subscriber], "/ditto/client/subscribed", [found.port, 1])

    def _unsubscribe(self, args: list[Any], sender: Addr) -> None:
        self._outbox.send([sender], "/ditto/client/subscribed", [args[0], 0])  # the port hears it is off
        self._clients.unsubscribe(sender, args[0])

    # -- the job intake (``JobRequests``) -----------------------------------------------------------------
    def load_spec(self, text: str, defaults: dict[str, float] | None = None) -> JobSpec:
        """Job JSON (or '@' + path of a JSON file under an allowed root) -> a checked JobSpec."""
        return self.jobs.load_spec(text, defaults)

    def submit_job(self, job_id: str, job: dict[str, Any] | str, reply_to: Addr | None = None) -> int:
        """Validate, budget and queue one job (``JobRequests.submit_job``); its queue position."""
        return self.jobs.submit_job(job_id, job, reply_to)
