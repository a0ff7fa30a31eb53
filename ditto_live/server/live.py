"""The server's live-performance requests: live controls, the stream and the MIDI take (``/ditto/control/*``,
``/ditto/stream/*``, ``/ditto/midi/*``), mixed into :class:`ditto_live.server.server.Server`.

Live controls obey the ranges of the job fields they stand for (``jobspec.LIVE_CONTROL_RANGES``): a
value out of range is refused at once and changes nothing. A client's controls fill in its own later
jobs; the shared ``live_controls`` dict (which the MIDI bridge also writes) steers the stream. The
stream's spec and the MIDI take are held to the same work budget as a job.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from ditto_live.generation.jobspec import JobSpec, JobSpecError, check_live_control
from ditto_live.protocol import LIVE_CONTROLS
from ditto_live.server.budget import Budget, check_budget
from ditto_live.server.clients import Addr, ClientTable
from ditto_live.server.requests import RequestError, error_code

log = logging.getLogger(__name__)


class StreamControl(Protocol):
    """What the server needs from the continuous-generation stream (``ditto_live.server.stream.Stream``)."""

    def start(self, spec: JobSpec) -> None: ...

    def stop(self) -> None: ...

    def state(self) -> tuple[str, int]:
        """("stopped" | "running", underruns so far)."""
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


class LiveRequests:
    """Handlers for the live requests; the Server provides what is declared here."""

    stream: StreamControl | None
    midi: MidiTake | None
    live_controls: dict[str, float]
    budget: Budget
    _clients: ClientTable
    _stream_lock: threading.Lock
    _send: Callable[[list[Addr | None], str, list[Any]], None]
    _send_error: Callable[[Addr, str, str], None]
    _send_job_error: Callable[[str, list[Addr | None], str, str], None]
    load_spec: Callable[..., JobSpec]
    load_base: Callable[[str], dict[str, Any]]
    submit_job: Callable[..., int]

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
        setter = getattr(self.stream, "set_control", None)
        if setter is not None:
            try:
                setter(name, value)
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
            stats = getattr(self.stream, "stats", None)
            if stats is not None:  # underruns beside generation time vs audio per window
                state["stream_stats"] = stats()
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
            spec = self.load_spec(args[0])
            check_budget(spec, self.budget, "stream window", slowest_bpm=True)
        except Exception as exc:
            code, message = error_code(exc)
            self._send_error(sender, code, f"stream: {message}")
            return
        self._stream_call(sender, lambda stream: stream.start(spec))

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

    # -- the MIDI take ------------------------------------------------------------------------------
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
