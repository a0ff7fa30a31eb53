"""The OSC protocol: one table of every address, its arguments and its replies.

Addresses follow ``/ditto/<noun>/<verb>``. Type tags are OSC's: ``s`` string, ``i`` int32,
``f`` float32. Requests come from clients (the Live device, TouchOSC, Max, SuperCollider, Pd);
replies go back to the sender's address (or the configured reply port); the server never answers a
reply row (they are dropped, so two peers cannot loop). Every job request gets
exactly one terminal reply (``/ditto/job/done`` or ``/ditto/job/error``) with progress in between.
Audio never travels in OSC: results are WAV paths. Large payloads travel as chunks or as the path
of a JSON file under an allowed root (a ``spec`` argument starting with ``@``).

``python -m ditto_live.protocol > ditto_live/protocol.json`` writes the table for the device's JS;
a test checks that the committed JSON equals this table.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from ditto_live.generation.jobspec import LIVE_CONTROL_RANGES

PROTOCOL_VERSION = 1


@dataclass(frozen=True)
class Message:
    address: str  # OSC address
    direction: str  # "request" (client -> server) or "reply" (server -> client)
    args: tuple[tuple[str, str], ...]  # (name, OSC type tag) in order
    replies: tuple[str, ...]  # addresses the server may answer a request with
    doc: str  # what it means


def _m(address: str, direction: str, args: str, replies: tuple[str, ...], doc: str) -> Message:
    parsed = tuple(tuple(a.split(":")) for a in args.split()) if args else ()
    return Message(address, direction, parsed, replies, doc)  # type: ignore[arg-type]


_JOB_TERMINAL = ("/ditto/job/done", "/ditto/job/error")

# fmt: off
MESSAGES: tuple[Message, ...] = (
    # requests ------------------------------------------------------------------------------------
    _m("/ditto/server/ping", "request", "token:s", ("/ditto/server/pong",),
       "liveness check; answered at once even while a job runs"),
    _m("/ditto/server/status", "request", "", ("/ditto/server/state",),
       "server state: queue length, running job, model, device; a host not yet confirmed gets only version, "
       "engine and the code that confirms it (/ditto/client/confirm)"),
    _m("/ditto/job/submit", "request", "job_id:s spec:s",
       ("/ditto/job/accepted", "/ditto/job/progress") + _JOB_TERMINAL,
       "submit a job; spec is the job JSON (see ditto_live/generation/jobspec.py) or '@' + path of a JSON file"),
    _m("/ditto/job/chunk", "request", "job_id:s index:i total:i data:s",
       ("/ditto/job/accepted", "/ditto/job/progress") + _JOB_TERMINAL,
       "one piece of a job JSON too big for a datagram; the job is submitted when all pieces arrived"),
    _m("/ditto/job/cancel", "request", "job_id:s", _JOB_TERMINAL,
       "cancel a queued or running job of this client (the sender that submitted it); it ends with error "
       "code 'cancelled' within one step"),
    _m("/ditto/job/revoke", "request", "job_id:s token:s", _JOB_TERMINAL,
       "cancel a job from any client that holds the token its submitter got in /ditto/job/accepted"),
    _m("/ditto/job/status", "request", "job_id:s", ("/ditto/job/state",),
       "ask where a job is: queued, running, done, error or unknown"),
    _m("/ditto/control/set", "request", "name:s value:f", ("/ditto/control/value", "/ditto/error"),
       "set a live control (intensity, cfg, seed, bpm; the ranges of the job fields): it steers the stream "
       "and fills in this client's later jobs that leave the key out"),
    _m("/ditto/control/reset", "request", "name:s", ("/ditto/control/state", "/ditto/error"),
       "forget this client's live control name ('' = all of them)"),
    _m("/ditto/stream/start", "request", "spec:s", ("/ditto/stream/state", "/ditto/error"),
       "start continuous generation (chained outpainting) into the audio output"),
    _m("/ditto/stream/stop", "request", "", ("/ditto/stream/state", "/ditto/error"),
       "stop continuous generation"),
    _m("/ditto/midi/take", "request", "job_id:s spec:s",
       ("/ditto/job/accepted", "/ditto/job/progress") + _JOB_TERMINAL,
       "submit the MIDI take (recorded since MIDI Start or /ditto/midi/reset) as a job: its notes become "
       "a melody control and its CC sweep an intensity curve, in beats at the tempo in force, its length "
       "whole bars; spec is a base job JSON ('' = none) whose other keys and controls are kept"),
    _m("/ditto/midi/reset", "request", "", ("/ditto/midi/state", "/ditto/error"),
       "start a new MIDI take: forget the notes and CC recorded so far"),
    _m("/ditto/client/subscribe", "request", "port:i",
       ("/ditto/client/challenge", "/ditto/client/subscribed", "/ditto/error"),
       "also send this client's replies, and stream state, to this UDP port on the sender's host, once "
       "confirmed: the port gets /ditto/client/challenge, whose code comes back in /ditto/client/confirm "
       "(the sender's own port on a confirmed host needs none; the server's own port is refused)"),
    _m("/ditto/client/unsubscribe", "request", "port:i", ("/ditto/client/subscribed",),
       "stop sending replies to this port"),
    _m("/ditto/client/confirm", "request", "code:s", ("/ditto/client/subscribed", "/ditto/error"),
       "send back a code the server sent to this host (/ditto/client/challenge to a subscribed port, or the "
       "'code' of the short status): it activates that subscription and confirms the host (full status, "
       "the larger reply budget)"),
    # replies -------------------------------------------------------------------------------------
    _m("/ditto/server/pong", "reply", "token:s version:i", (), "answer to ping, with the protocol version"),
    _m("/ditto/server/state", "reply", "state:s", (), "JSON: queue, running job, model, device"),
    _m("/ditto/job/accepted", "reply", "job_id:s position:i token:s", (),
       "the job is queued at this position; the token lets another client cancel it (/ditto/job/revoke)"),
    _m("/ditto/job/progress", "reply", "job_id:s stage:s step:i total:i loss:f", (),
       "throttled progress: stage is parse|target|optimise|decode|vocode|write"),
    _m("/ditto/job/done", "reply", "job_id:s wav:s summary:s", (),
       "terminal: absolute WAV path and a JSON summary (seed, timings, losses, sidecar path)"),
    _m("/ditto/job/error", "reply", "job_id:s code:s message:s", (),
       "terminal: code is bad_request|busy|cancelled|not_found|failed|forbidden|too_large"),
    _m("/ditto/job/state", "reply", "job_id:s state:s", (), "queued|running|done|error|unknown"),
    _m("/ditto/control/value", "reply", "name:s value:f", (), "the control's value now in force"),
    _m("/ditto/control/state", "reply", "controls:s", (), "JSON: this client's live controls now in force"),
    _m("/ditto/stream/state", "reply", "state:s underruns:i", (), "stopped|running, underruns so far"),
    _m("/ditto/midi/state", "reply", "notes:i bpm:f", (), "the MIDI take: notes recorded, tempo in force"),
    _m("/ditto/client/subscribed", "reply", "port:i on:i", (),
       "subscription state for the port: 1 on, 0 off or waiting for its confirmation"),
    _m("/ditto/client/challenge", "reply", "code:s", (),
       "sent to a port a client asked to subscribe, only there: send the code back with /ditto/client/confirm "
       "to activate the subscription"),
    _m("/ditto/error", "reply", "code:s message:s", (),
       "a datagram that was not a well-formed request (unknown address, wrong types, a malformed bundle), "
       "or a request that cannot be served (a control out of range, no stream, too many subscriptions, "
       "status rate limit, replies withheld over the reply budget)"),
)
# fmt: on

BY_ADDRESS: dict[str, Message] = {m.address: m for m in MESSAGES}
TERMINAL_ERRORS = ("/ditto/error", "/ditto/job/error")  # error replies: cut short rather than withheld
ERROR_CODES = ("bad_request", "busy", "cancelled", "not_found", "failed", "forbidden", "too_large")
LIVE_CONTROLS = tuple(LIVE_CONTROL_RANGES)  # intensity, cfg, seed, bpm


def type_tags(address: str) -> str:
    """The OSC type tag string of a message, e.g. 'ssf'."""
    return "".join(t for _, t in BY_ADDRESS[address].args)


class ArgumentError(ValueError):
    """A request's arguments do not match its row of the table."""


def coerce_args(address: str, args: tuple[Any, ...] | list[Any]) -> list[Any]:
    """A request's arguments checked against its row: ints pass for floats, integral floats for ints."""
    row = BY_ADDRESS[address]
    if len(args) != len(row.args):
        raise ArgumentError(f"{address} takes {len(row.args)} argument(s) "
                            f"({' '.join(n + ':' + t for n, t in row.args) or 'none'}), got {len(args)}")
    out: list[Any] = []
    for (name, tag), value in zip(row.args, args):
        if tag == "i" and isinstance(value, float) and value.is_integer():
            value = int(value)
        if tag == "s" and isinstance(value, str):
            out.append(value)
        elif tag == "i" and isinstance(value, int) and not isinstance(value, bool) and -2**31 <= value < 2**31:
            out.append(value)
        elif tag == "f" and isinstance(value, int | float) and not isinstance(value, bool):
            out.append(float(value))
        else:
            raise ArgumentError(f"{address}: {name} must be OSC type '{tag}', got {value!r:.40}")
    return out


def to_json() -> str:
    """The table as JSON for the Max for Live device's JS."""
    table = {
        "version": PROTOCOL_VERSION,
        "error_codes": list(ERROR_CODES),
        "live_controls": list(LIVE_CONTROLS),
        "live_control_ranges": {n: {"low": r.low, "high": r.high, "integer": r.integer}
                                for n, r in LIVE_CONTROL_RANGES.items()},
        "messages": [
            {**asdict(m), "args": [{"name": n, "type": t} for n, t in m.args], "replies": list(m.replies)}
            for m in MESSAGES
        ],
    }
    return json.dumps(table, indent=1) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(to_json())
