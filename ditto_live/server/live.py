"""The server's live-performance requests: live controls, the stream and the MIDI take (``/ditto/control/*``,
``/ditto/stream/*``, ``/ditto/midi/*``), held by :class:`ditto_live.server.server.Server`, which passes in
what they need: its replies, its client table, the shared live controls, the work budget and its job intake.

Live controls obey the ranges of the job fields they stand for (``jobspec.LIVE_CONTROL_RANGES``): a
value out of range is refused at once and changes nothing. A client's controls fill in its own later
jobs; the shared ``live_controls`` dict (which the MIDI bridge also writes) steers the stream. The
stream's spec and the MIDI take are held to the same check as a job (``JobIntake.check_work``: the work
budget, untrained models). Stream starts and stops run one at a time on one helper thread with a short
line of requests (a flood of them is ``busy``, never a thread each).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, Protocol

from ditto_live.generation.jobspec import JobSpec, JobSpecError, check_live_control
from ditto_live.protocol import LIVE_CONTROLS
from ditto_live.server.clients import Addr, ClientTable
from ditto_live.server.outbox import Replies
from ditto_live.server.requests import RequestError, error_code

log = logging.getLogger(__name__)

STREAM_CALLS_WAITING = 4  # stream start/stop requests waiting for the one helper thread; more are busy


class StreamControl(Protocol):
    """What the server needs from the continuous-generation stream (``ditto_live.server.stream.Stream``)."""

    def start(self, spec: JobSpec) -> None: ...

    def stop(self) -> None: ...

    def state(self) -> tuple[str, int]:
        """("stopped" | "running", underruns so far)."""
        ...

    def set_control(self, name: str, value: float) -> None:
        """A live control changed (the next window uses it); raises when the stream refuses it."""
        ...

    def stats(self) -> dict[str, Any]:
        """Counters for the status reply (underruns, generation time vs audio per window)."""
        ...


class MidiTake(Protocol):
    """What the server needs from the MIDI bridge (``ditto_live.server.midi_control.MidiControl``)."""

    def take_job(self, base: dict[str, Any] | None = None) -> dict[str, Any]:
        """The take recorded so far as a job dict (ValueError when it is empty)."""
        ...

    def reset(self) -> None: ...

    def take_state(self) -> tuple[int, float]:
        """(notes recorded, tempo in force)."""
        ...


class JobIntake(Protocol):
    """How the server reads and queues jobs (``ditto_live.server.job_requests.JobRequests`` provides it)."""

    def load_spec(self, text: str, defaults: dict[str, float] | None = None) -> JobSpec: ...

    def load_base(self, text: str) -> dict[str, Any]: ...

    def check_work(self, spec: JobSpec, what: str = "job", slowest_bpm: bool = False) -> None:
        """Refuse (RequestError or JobSpecError naming the limit) what the engine may not be asked to do."""
        ...

    def submit_job(self, job_id: str, job: dict[str, Any] | str, reply_to: Addr | None = None) -> int: ...


class LiveRequests:
    """Handlers for the live requests (``handlers()``: address -> handler) and their part of the status."""

    def __init__(self, replies: Replies, clients: ClientTable, live_controls: dict[str, float],
                 jobs: JobIntake, stream: StreamControl | None = None, midi: MidiTake | None = None) -> None:
        self._send, self._send_error, self._send_job_error = replies.send, replies.error, replies.job_error
        self._clients = clients  # per-client controls (they fill in the client's own jobs)
        self.live_controls = live_controls  # the shared controls the stream reads (the MIDI bridge writes it too)
        self.jobs = jobs  # reads, checks and queues jobs (a MIDI take's, the stream's spec)
        self.stream = stream  # the continuous stream (None: served without audio streaming)
        self.midi = midi  # the MIDI take (None: served without --midi)
        self._stream_calls: queue.Queue[tuple[Addr, Callable[[StreamControl], None]]] = queue.Queue(
            STREAM_CALLS_WAITING)  # stream starts and stops waiting for the helper thread
        self._stream_thread: threading.Thread | None = None  # the one helper thread (started on first use)
        self._stream_lock = threading.Lock()  # guards starting the helper thread

    def handlers(self) -> dict[str, Callable[[list[Any], Addr], None]]:
        """The live requests' addresses and their handlers, for the server's dispatch table."""
        return {"/ditto/control/set": self._control_set, "/ditto/control/reset": self._control_reset,
                "/ditto/stream/start": self._stream_start, "/ditto/stream/stop": self._stream_stop,
                "/ditto/midi/take": self._midi_take, "/ditto/midi/reset": self._midi_reset}

    # -- live controls ------------------------------------------------------------------------------
    def _control_set(self, args: list[Any], sender: Addr) -> None:
        name, value = args
        try:
            value = check_live_control(name, value)
        except JobSpecError as exc:
            self._send_error(sender, "bad_request", str(exc))
            return
        self._clients.set_control(sender, name, value)
        self.live_controls[name] = value
        if self.stream is not None:
            try:
                self.stream.set_control(name, value)
            except Exception as exc:
                log.warning("stream refused control %s=%s: %s", name, value, exc)
        self._send([sender], "/ditto/control/value", [name, value])

    def _control_reset(self, args: list[Any], sender: Addr) -> None:
        """Forget one of the sender's controls ('' = all): its jobs and the stream fall back to their specs."""
        name = args[0]
        if name and name not in LIVE_CONTROLS:
            self._send_error(sender, "bad_request", f"control {name!r:.40}: expected one of {', '.join(LIVE_CONTROLS)} "
                                                    "or '' (all)")
            return
        names = (name,) if name else tuple(self._clients.controls_of(sender))
        self._clients.reset_controls(sender, names)
        for n in names:
            self.live_controls.pop(n, None)
        self._send([sender], "/ditto/control/state", [json.dumps(self._clients.controls_of(sender))])

    def live_state(self) -> dict[str, Any]:
        """The stream's and the MIDI take's part of the status JSON."""
        state: dict[str, Any] = {}
        if self.stream is not None:
            state["stream"] = self._stream_status()[0]
            state["stream_stats"] = self.stream.stats()  # underruns beside generation time vs audio per window
        if self.midi is not None:
            notes, bpm = self.midi.take_state()
            state["midi"] = {"notes": notes, "bpm": bpm}
        return state

    # -- the stream ---------------------------------------------------------------------------------
    def _stream_status(self) -> tuple[str, int]:
        assert self.stream is not None
        state, underruns = self.stream.state()
        return str(state), int(underruns)

    def notify_stream_state(self, state: str, underruns: int) -> None:
        """Tell every subscription the stream's state (hook for ``Stream.on_state``: it stopped, say)."""
        self._send([None], "/ditto/stream/state", [str(state), int(underruns)])

    def _stream_start(self, args: list[Any], sender: Addr) -> None:
        """Read and budget the spec at once (every window is that clip, at the live tempo, which may slow
        it down to the slowest allowed), then start the stream on a helper thread."""
        if self.stream is None:
            self._stream_call(sender, lambda stream: None)
            return
        try:
            spec = self.jobs.load_spec(args[0])
            self.jobs.check_work(spec, "stream window", slowest_bpm=True)
        except Exception as exc:
            code, message = error_code(exc)
            self._send_error(sender, code, f"stream: {message}")
            return
        self._stream_call(sender, lambda stream: stream.start(spec))

    def _stream_stop(self, args: list[Any], sender: Addr) -> None:
        self._stream_call(sender, lambda stream: stream.stop())

    def _stream_call(self, sender: Addr, action: Callable[[StreamControl], None]) -> None:
        """Start or stop the stream on the helper thread (stopping waits for the window in flight, which
        must not hold up pings), one call at a time; then reply with its state. A full line is busy."""
        if self.stream is None:
            self._send_error(sender, "failed", "stream unavailable: this server runs without audio streaming")
            return
        try:
            self._stream_calls.put_nowait((sender, action))
        except queue.Full:
            self._send_error(sender, "busy", f"stream: {STREAM_CALLS_WAITING} start/stop requests are waiting "
                                             "already")
            return
        with self._stream_lock:
            if self._stream_thread is None:
                self._stream_thread = threading.Thread(target=self._stream_calls_loop, name="ditto-stream-control",
                                                       daemon=True)
                self._stream_thread.start()

    def _stream_calls_loop(self) -> None:
        """The helper thread: run each waiting stream call in turn, for the life of the process."""
        while True:
            sender, action = self._stream_calls.get()
            stream = self.stream
            assert stream is not None
            try:
                action(stream)
            except Exception as exc:
                code, message = error_code(exc)
                self._send_error(sender, code, f"stream: {message}")
                continue
            self._send([sender], "/ditto/stream/state", list(self._stream_status()))

    # -- the MIDI take ------------------------------------------------------------------------------
    def _midi_take(self, args: list[Any], sender: Addr) -> None:
        """The MIDI take as a job, merged into the base spec; replies like ``/ditto/job/submit``."""
        job_id, base_text = args
        try:
            if self.midi is None:
                raise RequestError("failed", "no MIDI input: start the server with --midi")
            base = self.jobs.load_base(base_text)
            try:
                job = self.midi.take_job(base)
            except Exception as exc:  # an empty take; a base whose keys the take cannot merge with ("controls": 5)
                raise RequestError("bad_request", f"MIDI take: {type(exc).__name__}: {exc}" if not
                                   isinstance(exc, ValueError) else str(exc)) from exc
            self.jobs.submit_job(job_id, job, sender)
        except RequestError as exc:
            self._send_job_error(job_id, [sender], exc.code, str(exc))

    def _midi_reset(self, args: list[Any], sender: Addr) -> None:
        if self.midi is None:
            self._send_error(sender, "failed", "no MIDI input: start the server with --midi")
            return
        self.midi.reset()
        notes, bpm = self.midi.take_state()
        self._send([sender], "/ditto/midi/state", [int(notes), float(bpm)])
