"""MIDI -> live controls and job specs: the glue between the MIDI bridge and the server.

A performer plays a melody, rides a controller and (optionally) sends MIDI clock from the DAW.
:class:`MidiControl` listens to a :class:`~ditto_live.bridges.midi.MidiInput` and

- keeps ``live_controls`` (the dict the server exposes as ``server.live_controls``) current:
  ``intensity`` follows the configured CC in dB, ``bpm`` follows the MIDI clock;
- records the take: notes (top voice) and the CC sweep, in beats — the clock's song position while
  it runs, else free time at the current tempo; MIDI Start begins a new take;
- builds a job spec from the take: a melody control at the clock's tempo, an intensity curve, a
  length in bars (the server's ``/ditto/midi/take`` submits it; ``/ditto/midi/reset`` starts a new take).

``handle`` runs on the MIDI thread and the take is read on the OSC thread: one lock covers both.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from typing import Any

import mido

from ditto_live.bridges.midi import CCRecorder, MidiClock, MidiInput, NoteRecorder, Timeline, open_midi_input
from ditto_live.config import MidiConfig
from ditto_live.generation.jobspec import LIVE_CONTROL_RANGES

log = logging.getLogger(__name__)

BEATS_PER_BAR = 4  # job lengths are bars of 4/4 (ditto_live/generation/jobspec.py)
MAX_BARS = 64  # the job spec's limit
BPM_REPORT_STEP = 0.5  # a clock tempo change smaller than this does not update live_controls


class MidiControl:
    """Binds MIDI input to live controls and records a take for a job spec."""

    def __init__(self, midi_input: MidiInput, live_controls: dict[str, float] | None = None,
                 intensity_cc: int = 1, channel: int = -1, bpm: float = 120.0, low_db: float = -35.0,
                 high_db: float = -12.0, quantize: float = 0.0,
                 on_change: Callable[[str, float], None] | None = None):
        self.input = midi_input
        self.live_controls: dict[str, float] = {} if live_controls is None else live_controls
        self.on_change = on_change  # called (name, value) after a live control changed
        self.clock = MidiClock()
        self.timeline = Timeline(self.clock, bpm=self.live_controls.get("bpm", bpm))
        self.notes = NoteRecorder(self.timeline.beat_at, channel=channel, quantize=quantize)
        self.cc = CCRecorder(self.timeline.beat_at, cc=intensity_cc, low_db=low_db, high_db=high_db,
                             channel=channel)
        self._take_synced = False  # some of the take was recorded against a running clock
        self._lock = threading.RLock()  # MIDI thread (handle) vs the server's thread (take, reset)
        self.clock.listeners.append(self._on_transport)
        midi_input.add_handler(self.handle)

    @classmethod
    def from_config(cls, cfg: MidiConfig, midi_input: MidiInput,
                    live_controls: dict[str, float] | None = None, **kwargs: Any) -> MidiControl:
        """Build from the ``[midi]`` section (CC number and channel)."""
        return cls(midi_input, live_controls, intensity_cc=cfg.intensity_cc, channel=cfg.channel, **kwargs)

    @classmethod
    def open(cls, cfg: MidiConfig, live_controls: dict[str, float] | None = None, api: str = "",
             **kwargs: Any) -> MidiControl:
        """Open the configured port (``input_port``; "" = a virtual "ditto-live" input) and bind it."""
        midi_input = open_midi_input(cfg.input_port, api=api, channel=cfg.channel)
        return cls.from_config(cfg, midi_input, live_controls, **kwargs)

    def close(self) -> None:
        self.input.close()

    # -- live --------------------------------------------------------------------------------------
    @property
    def bpm(self) -> float:
        """Tempo in force: the clock's estimate, else the live control, else the default."""
        return float(self.timeline.bpm)

    def set_bpm(self, bpm: float) -> None:
        """Free-time tempo (used while no MIDI clock arrives)."""
        self.timeline.set_bpm(bpm)
        self._set("bpm", bpm)

    def _set(self, name: str, value: float) -> None:
        """Set a live control, held to the range it shares with job fields (a clock at 10 bpm sets 20)."""
        rule = LIVE_CONTROL_RANGES[name]
        if not rule.contains(value):
            clamped = min(max(float(value), rule.low), rule.high)
            log.warning("MIDI %s %g is outside %g..%g: using %g", name, value, rule.low, rule.high, clamped)
            value = clamped
        self.live_controls[name] = value
        if self.on_change is not None:
            self.on_change(name, value)

    def handle(self, msg: mido.Message, t: float) -> None:
        """One incoming message (called on the MIDI thread)."""
        with self._lock:
            self._handle(msg, t)

    def _handle(self, msg: mido.Message, t: float) -> None:
        self.clock.handle(msg, t)
        if msg.type == "clock" and self.clock.bpm is not None:
            bpm = round(self.clock.bpm, 1)
            if abs(bpm - self.live_controls.get("bpm", 0.0)) >= BPM_REPORT_STEP:
                self._set("bpm", bpm)
            return
        live_bpm = self.live_controls.get("bpm")
        if self.clock.bpm is None and live_bpm and abs(live_bpm - self.timeline.bpm) > 1e-6:
            self.timeline.set_bpm(float(live_bpm), t)  # set over OSC: free time follows it
        self.notes.handle(msg, t)
        db = self.cc.handle(msg, t)
        if db is not None:
            self._set("intensity", db)
        if msg.type in ("note_on", "control_change") and self.timeline.synced:
            self._take_synced = True

    def _on_transport(self, event: str, t: float) -> None:
        if event == "start":  # the DAW pressed play from the top: a new take
            self.reset()

    def reset(self) -> None:
        """Forget the recorded take (free time restarts at the next event)."""
        with self._lock:
            self.notes.reset()
            self.cc.reset()
            self.timeline.reset()
            self._take_synced = False

    def take_state(self) -> tuple[int, float]:
        """(notes in the take so far, tempo in force)."""
        with self._lock:
            return len(self.notes.notes()), self.bpm

    def take_job(self, base: dict[str, Any] | None = None) -> dict[str, Any]:
        """:meth:`job_dict` of the take so far; ValueError when nothing was recorded."""
        with self._lock:
            if self.take_origin() is None:
                raise ValueError("the MIDI take is empty: play notes or move the intensity CC first "
                                 "(MIDI Start or /ditto/midi/reset begins a take)")
            return self.job_dict(base)

    # -- job ---------------------------------------------------------------------------------------
    def take_origin(self) -> float | None:
        """Beat where the take starts: the bar holding its first event when clock-synced, else the
        first event itself."""
        firsts = [b for b in (self.notes.first_beat(), self.cc.first_beat()) if b is not None]
        if not firsts:
            return None
        first = min(firsts)
        if self._take_synced:
            return math.floor(first / BEATS_PER_BAR + 1e-9) * BEATS_PER_BAR
        return first

    def job_dict(self, base: dict[str, Any] | None = None, now: float | None = None) -> dict[str, Any]:
        """A job (plain dict, for ``parse_job`` or OSC) from ``base`` plus the recorded take.

        The take's melody and intensity replace those controls in ``base``; ``bpm`` is the tempo in
        force; without ``seconds``/``bars`` in ``base`` the length is the take rounded up to bars.
        """
        job = dict(base or {})
        job["bpm"] = round(self.bpm, 2)
        origin = self.take_origin()
        controls = [c for c in job.get("controls", []) if c.get("type") not in ("melody", "intensity")]
        span = 0.0
        if origin is not None:
            notes = self.notes.notes(origin=origin, now=now)
            if notes:
                controls.append({"type": "melody", "notes": notes, "unit": "beats"})
                span = max(span, max(s + d for _, s, d in notes))
            points = self.cc.points(origin=origin, min_end=origin + span if span else None)
            if points:
                controls.append({"type": "intensity", "points": points, "unit": "beats"})
                span = max(span, points[-1][0])
        job["controls"] = controls
        if "seconds" not in job and "bars" not in job and span > 0:
            job["bars"] = min(MAX_BARS, max(1, math.ceil(span / BEATS_PER_BAR - 1e-9)))
        return job
