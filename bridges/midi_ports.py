"""MIDI ports: the rtmidi layer (ALSA, JACK, CoreMIDI, Windows MM) and the in-memory port for tests.

- :class:`MidiInput` wraps a mido input port (rtmidi: a virtual port named "ditto-live" where the OS
  allows — CoreMIDI, ALSA, JACK — or a named port) and hands every message with its arrival time
  (``time.monotonic()``) to handlers. :class:`FakeMidiPort` is the in-memory port for tests.
- :func:`open_midi_input` and :func:`list_midi_inputs` pick the rtmidi API (``api``) that works.

What the messages mean (clock, notes, controllers) lives in :mod:`ditto_live.bridges.midi`.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mido

log = logging.getLogger(__name__)
CLOSE_SETTLE_S = 0.05  # between cancelling a port's callback and closing it: over two JACK periods of 1024 at
# 48 kHz, so no driver thread is still delivering into the callback when RtMidi unregisters the port (a JACK MIDI
# input closed right after its callback was cancelled crashed the process once, in a full test run)

Handler = Callable[[mido.Message, float], None]  # (message, arrival time in seconds)
VIRTUAL_PORT_NAME = "ditto-live"
API_ALIASES = {"jack": "UNIX_JACK", "alsa": "LINUX_ALSA", "coremidi": "MACOSX_CORE", "winmm": "WINDOWS_MM"}


class FakeMidiPort:
    """An in-memory input port (like mido's ``EchoPort``): ``send`` delivers to the callback."""

    def __init__(self, name: str = "fake"):
        self.name = name
        self.callback: Callable[[mido.Message], None] | None = None
        self.closed = False
        self.pending: list[mido.Message] = []  # messages sent while no callback was set

    def send(self, msg: mido.Message) -> None:
        if self.closed:
            raise OSError("port closed")
        if self.callback is not None:
            self.callback(msg)
        else:
            self.pending.append(msg)

    def close(self) -> None:
        self.closed = True


class MidiInput:
    """Turns messages from a port (or fed directly) into ``handler(msg, t)`` calls.

    ``channel`` (0-15, -1 = all) filters channel messages; clock and song-position messages always
    pass. Handlers run on the port's thread (rtmidi's callback thread); an exception in one is logged
    and does not stop the others.
    """

    def __init__(self, port: Any = None, channel: int = -1, now: Callable[[], float] = time.monotonic):
        self.channel = channel  # 0-15, or -1 for every channel
        self.now = now  # clock used to stamp arrivals
        self.port: Any = None
        self.handlers: list[Handler] = []
        self.received = 0  # messages accepted (after the channel filter)
        if port is not None:
            self.attach(port)

    @property
    def name(self) -> str:
        return getattr(self.port, "name", "") or ""

    def attach(self, port: Any) -> None:
        """Receive from ``port`` (anything with a mido-style ``callback`` attribute)."""
        self.port = port
        port.callback = self.feed

    def add_handler(self, handler: Handler) -> Handler:
        self.handlers.append(handler)
        return handler

    def feed(self, msg: mido.Message, t: float | None = None) -> None:
        """Dispatch one message stamped ``t`` (default: now)."""
        t = self.now() if t is None else t
        if self.channel >= 0 and hasattr(msg, "channel") and msg.channel != self.channel:
            return
        self.received += 1
        for handler in list(self.handlers):
            try:
                handler(msg, t)
            except Exception:  # a faulty handler must not kill the MIDI thread
                log.exception("MIDI handler %r failed on %s", handler, msg)

    def close(self) -> None:
        """Stop the callback, let a driver cycle in flight finish (``CLOSE_SETTLE_S``), then close the port."""
        if self.port is not None:
            self.port.callback = None
            time.sleep(CLOSE_SETTLE_S)
            self.port.close()
            self.port = None


def _api_candidates(api: str) -> list[str | None]:
    """rtmidi APIs to try, in order: the named one, else the platform's usual ones."""
    if api:
        return [API_ALIASES.get(api.lower(), api)]
    if sys.platform.startswith("linux"):
        return ["LINUX_ALSA", "UNIX_JACK"] if Path("/dev/snd/seq").exists() else ["UNIX_JACK"]
    return [None]  # CoreMIDI / Windows MM: mido's default


def list_midi_inputs(api: str = "") -> list[str]:
    """Names of the MIDI inputs the first working backend sees (empty when none works)."""
    for candidate in _api_candidates(api):
        try:
            return mido.Backend("mido.backends.rtmidi" + (f"/{candidate}" if candidate else "")).get_input_names()
        except Exception as exc:  # rtmidi raises its own SystemError subclasses
            log.debug("MIDI API %s unavailable: %s", candidate, exc)
    return []


def open_midi_input(name: str = "", api: str = "", channel: int = -1,
                    virtual_name: str = VIRTUAL_PORT_NAME) -> MidiInput:
    """Open a MIDI input through rtmidi and wrap it in a :class:`MidiInput`.

    ``name == ""`` creates a virtual input ``virtual_name`` (other software connects to it: on JACK
    it appears as ``ditto-live:ditto-live``); otherwise the first input whose name contains ``name``.
    ``api``: "jack", "alsa", "coremidi", "winmm" or "" (ALSA, else JACK, on Linux; the OS's default
    elsewhere). Windows has no virtual ports: create one with loopMIDI and pass its name.
    """
    errors = []
    for candidate in _api_candidates(api):
        backend = mido.Backend("mido.backends.rtmidi" + (f"/{candidate}" if candidate else ""))
        try:
            if name:
                matches = [n for n in backend.get_input_names() if name.lower() in n.lower()]
                if not matches:
                    raise OSError(f"no MIDI input matching {name!r} (inputs: {backend.get_input_names()})")
                port = backend.open_input(matches[0])
            else:
                port = backend.open_input(virtual_name, client_name=virtual_name)
        except Exception as exc:  # rtmidi raises its own SystemError subclasses
            errors.append(f"{candidate or 'default'}: {exc}")
            continue
        log.info("MIDI input %r open (%s)", port.name, candidate or "default API")
        return MidiInput(port, channel=channel)
    hint = " (Windows has no virtual MIDI ports: create one with loopMIDI and name it)" if (
        not name and sys.platform == "win32") else ""
    raise RuntimeError("could not open a MIDI input" + hint + "; " + "; ".join(errors))
