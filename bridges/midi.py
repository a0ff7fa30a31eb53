"""MIDI in: clock, and recorders that turn a performance into control targets.

- Ports (:class:`MidiInput`, :class:`FakeMidiPort`, :func:`open_midi_input`, :func:`list_midi_inputs`)
  live in :mod:`ditto_live.bridges.midi_ports` and are importable from here too (``Handler``,
  ``VIRTUAL_PORT_NAME`` and ``API_ALIASES`` from there).
- :class:`MidiClock` follows 24-ppqn clock, Song Position Pointer, Start/Stop/Continue: position in
  beats and a smoothed tempo estimate. :class:`Timeline` maps arrival times to beats (the clock's
  position while it runs, else free time at a set tempo).
- :class:`NoteRecorder`: notes -> ``[[pitch, start_beat, duration_beats], ...]`` (the melody target of
  a job, see ditto_live/generation/jobspec.py), top voice only. :class:`CCRecorder`: one controller's sweep ->
  intensity points ``[[beat, dB], ...]``.
"""

from __future__ import annotations

import collections
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable

import mido

# the port layer, re-exported: callers import ports and recorders from here
from ditto_live.bridges.midi_ports import FakeMidiPort, MidiInput, list_midi_inputs, open_midi_input  # noqa: F401

log = logging.getLogger(__name__)

PPQN = 24  # MIDI clock ticks per quarter note


# -- clock ------------------------------------------------------------------------------------------
def bpm_from_tick_interval(seconds_per_tick: float) -> float:
    """Tempo from the mean time between 24-ppqn clock ticks."""
    return 60.0 / (PPQN * seconds_per_tick)


class MidiClock:
    """Follows MIDI clock, Song Position Pointer and Start/Stop/Continue.

    ``position`` is in beats (quarter notes). Per the MIDI spec, the first tick after Start or
    Continue is the downbeat at the current position; each later tick advances 1/24 beat. The tempo
    is the mean tick interval over the last ``window`` ticks, smoothed by an exponential average;
    ticks count for the tempo even while stopped (most DAWs send clock all the time).
    """

    def __init__(self, window: int = 24, smoothing: float = 0.2, max_gap_s: float = 0.5):
        self.window = window  # tick intervals averaged for the tempo (24 = one beat)
        self.smoothing = smoothing  # EMA weight of each new estimate (1 = no smoothing)
        self.max_gap_s = max_gap_s  # a pause longer than this restarts the tempo estimate
        self.running = False  # between Start/Continue and Stop
        self.position = 0.0  # beats at the last tick
        self.bpm: float | None = None  # tempo estimate; None until a few ticks arrived
        self.ticks = 0  # ticks received in total
        self._tick_times: collections.deque[float] = collections.deque(maxlen=window + 1)
        self._anchor: float | None = None  # time of the tick that set ``position``
        self._await_downbeat = False
        self._lock = threading.Lock()
        self.listeners: list[Callable[[str, float], None]] = []  # (event, time): start|stop|continue|songpos

    def handle(self, msg: mido.Message, t: float) -> None:
        kind = msg.type
        if kind not in ("clock", "start", "stop", "continue", "songpos"):
            return
        with self._lock:
            if kind == "clock":
                self._tick(t)
            elif kind == "start":
                self.position, self.running, self._await_downbeat, self._anchor = 0.0, True, True, None
            elif kind == "continue":
                self.running, self._await_downbeat, self._anchor = True, True, None
            elif kind == "stop":
                self.position, self.running = self.beat_at_locked(t), False
            elif kind == "songpos":  # position in MIDI beats (16th notes); only meaningful while stopped
                self.position, self._anchor = msg.pos / 4.0, None
                self._await_downbeat = True
        if kind != "clock":
            for listener in list(self.listeners):
                listener(kind, t)

    def _tick(self, t: float) -> None:
        self.ticks += 1
        if self._tick_times and t - self._tick_times[-1] > self.max_gap_s:
            self._tick_times.clear()
        self._tick_times.append(t)
        n = len(self._tick_times) - 1
        if n >= min(6, self.window):
            raw = bpm_from_tick_interval((self._tick_times[-1] - self._tick_times[0]) / n)
            self.bpm = raw if self.bpm is None else self.bpm + self.smoothing * (raw - self.bpm)
        if self.running:
            if self._await_downbeat:
                self._await_downbeat = False
            else:
                self.position += 1.0 / PPQN
            self._anchor = t

    def beat_at_locked(self, t: float) -> float:
        if not self.running or self._anchor is None or self.bpm is None:
            return self.position
        ahead = (t - self._anchor) * self.bpm / 60.0
        return self.position + min(max(ahead, 0.0), 1.0 / PPQN)  # never run past the next tick

    def beat_at(self, t: float) -> float:
        """Song position in beats at time ``t``, interpolated between ticks."""
        with self._lock:
            return self.beat_at_locked(t)


class Timeline:
    """Arrival time -> beats: the clock's song position while it runs, else free time.

    Free time counts from the first query (or :meth:`reset`) at ``bpm`` (the clock's estimate when
    there is one); a tempo change re-anchors so earlier beats keep their values.
    """

    def __init__(self, clock: MidiClock | None = None, bpm: float = 120.0):
        self.clock = clock
        self._bpm = bpm
        self._anchor_t: float | None = None
        self._anchor_beat = 0.0

    @property
    def synced(self) -> bool:
        """True while beats come from a running MIDI clock."""
        return self.clock is not None and self.clock.running

    @property
    def bpm(self) -> float:
        if self.clock is not None and self.clock.bpm is not None:
            return self.clock.bpm
        return self._bpm

    def set_bpm(self, bpm: float, t: float | None = None) -> None:
        t = time.monotonic() if t is None else t
        if self._anchor_t is not None:
            self._anchor_beat, self._anchor_t = self._free_beat(t), t
        self._bpm = bpm

    def reset(self, t: float | None = None) -> None:
        """Free time starts again at beat 0 at ``t`` (default: the next query)."""
        self._anchor_t, self._anchor_beat = t, 0.0

    def _free_beat(self, t: float) -> float:
        if self._anchor_t is None:
            self._anchor_t = t
        return self._anchor_beat + (t - self._anchor_t) * self.bpm / 60.0

    def beat_at(self, t: float) -> float:
        if self.synced:
            return self.clock.beat_at(t)  # type: ignore[union-attr]
        return self._free_beat(t)


# -- melody: notes -> top voice ----------------------------------------------------------------------
def top_voice(intervals: Iterable[tuple[int, float, float]], legato: float = 0.125,
              min_duration: float = 1 / 32) -> list[list[float]]:
    """Skyline: the highest sounding pitch at every moment, as ``[[pitch, start, duration], ...]``.

    ``intervals`` are ``(pitch, start, end)`` in beats, possibly overlapping (chords, legato). A
    lower note that becomes the top when a higher one is released within ``legato`` beats of its own
    onset (descending legato) keeps its onset; segments shorter than ``min_duration`` are dropped.
    """
    iv = sorted((int(p), float(s), float(e)) for p, s, e in intervals if e > s)
    if not iv:
        return []
    events = sorted([(s, 1, i) for i, (_, s, _) in enumerate(iv)] + [(e, 0, i) for i, (_, _, e) in enumerate(iv)])
    active: set[int] = set()
    segments: list[list[float]] = []  # [interval index, start, end], closed
    current: list[float] | None = None  # the open segment
    k = 0
    while k < len(events):
        t = events[k][0]
        while k < len(events) and events[k][0] == t:  # apply every change at this instant
            _, is_on, i = events[k]
            (active.add if is_on else active.discard)(i)
            k += 1
        top = max(active, key=lambda i: (iv[i][0], iv[i][1]), default=None)
        if current is not None and top == current[0]:
            continue
        if current is not None:
            segments.append([current[0], current[1], t])
        current = None if top is None else [top, t]
    for prev, seg in zip(segments, segments[1:]):  # descending legato: give the lower note its onset
        onset = iv[int(seg[0])][1]
        if prev[2] == seg[1] > onset > prev[1] and seg[1] - onset <= legato and iv[int(prev[0])][0] > iv[int(seg[0])][0]:
            seg[1] = prev[2] = onset
    return [[iv[int(i)][0], s, e - s] for i, s, e in segments if e - s >= min_duration]


def quantize_notes(notes: list[list[float]], grid: float) -> list[list[float]]:
    """Snap starts and ends to ``grid`` beats; a note never overlaps the next one."""
    if grid <= 0:
        return [list(n) for n in notes]
    out: list[list[float]] = []
    for pitch, start, dur in notes:
        s = round(start / grid) * grid
        e = max(round((start + dur) / grid) * grid, s + grid)
        if out and out[-1][1] + out[-1][2] > s:
            out[-1][2] = s - out[-1][1]
            if out[-1][2] <= 0:
                out.pop()
        out.append([pitch, s, e - s])
    return out


def _rounded(notes: list[list[float]], origin: float) -> list[list[float]]:
    return [[int(p), round(s - origin, 6), round(d, 6)] for p, s, d in notes if s - origin >= -1e-9]


class NoteRecorder:
    """Records note on/off as beats (through ``beat_at``) and returns the top voice.

    Thread-safe: ``handle`` runs on the MIDI thread, ``notes`` on any other.
    """

    def __init__(self, beat_at: Callable[[float], float], channel: int = -1, legato: float = 0.125,
                 min_duration: float = 1 / 32, quantize: float = 0.0, max_notes: int = 4096):
        self.beat_at = beat_at  # arrival time -> beat
        self.channel = channel  # 0-15, -1 = all (drums are never skipped here: pick the channel)
        self.legato = legato  # see top_voice
        self.min_duration = min_duration  # see top_voice
        self.quantize = quantize  # grid in beats (0.25 = sixteenths); 0 = as played
        self._held: dict[tuple[int, int], float] = {}  # (channel, pitch) -> start beat
        self._done: collections.deque[tuple[int, float, float]] = collections.deque(maxlen=max_notes)
        self._lock = threading.Lock()

    def handle(self, msg: mido.Message, t: float) -> None:
        if msg.type not in ("note_on", "note_off") or (self.channel >= 0 and msg.channel != self.channel):
            return
        key = (msg.channel, msg.note)
        beat = self.beat_at(t)
        with self._lock:
            if msg.type == "note_on" and msg.velocity > 0:
                if key in self._held:  # re-struck without a release: close the first
                    self._done.append((msg.note, self._held[key], beat))
                self._held[key] = beat
            elif key in self._held:
                self._done.append((msg.note, self._held.pop(key), beat))

    def reset(self) -> None:
        with self._lock:
            self._held.clear()
            self._done.clear()

    def first_beat(self) -> float | None:
        with self._lock:
            starts = [s for _, s, _ in self._done] + list(self._held.values())
        return min(starts) if starts else None

    def notes(self, origin: float | None = None, now: float | None = None) -> list[list[float]]:
        """Top voice as ``[[pitch, start, duration], ...]`` in beats from ``origin``.

        ``origin`` defaults to the first onset; notes still held end at ``now`` (default: the current
        time).
        """
        end = self.beat_at(time.monotonic() if now is None else now)
        with self._lock:
            intervals = list(self._done) + [(p, s, end) for (_, p), s in self._held.items()]
        notes = quantize_notes(top_voice(intervals, self.legato, self.min_duration), self.quantize)
        if origin is None:
            origin = notes[0][1] if notes else 0.0
        return _rounded(notes, origin)


# -- intensity: a CC sweep -> dB curve ---------------------------------------------------------------
def cc_to_db(value: int, low_db: float, high_db: float) -> float:
    """Map a controller value 0..127 linearly onto [low_db, high_db]."""
    return low_db + (high_db - low_db) * min(max(value, 0), 127) / 127.0


def sample_and_hold(events: list[tuple[float, float]], start: float, end: float, step: float) -> list[list[float]]:
    """Values of a step function (``(beat, value)`` sorted) on a grid ``start, start+step, ..., >= end``.

    Before the first event the first value holds; points equal to both neighbours are dropped (the
    curve is linear between points, so they carry nothing).
    """
    if not events:
        return []
    n = max(1, math.ceil((end - start) / step - 1e-9) + 1)
    grid = [start + k * step for k in range(n)]
    out: list[list[float]] = []
    j = 0
    value = events[0][1]
    for g in grid:
        while j < len(events) and events[j][0] <= g + 1e-9:
            value = events[j][1]
            j += 1
        out.append([g, value])
    return [p for k, p in enumerate(out)
            if k in (0, len(out) - 1) or not (out[k - 1][1] == p[1] == out[k + 1][1])]


class CCRecorder:
    """Records one controller as ``(beat, dB)`` and returns intensity points ``[[beat, dB], ...]``."""

    def __init__(self, beat_at: Callable[[float], float], cc: int = 1, low_db: float = -35.0,
                 high_db: float = -12.0, channel: int = -1, resolution: float = 0.25, max_events: int = 65536):
        self.beat_at = beat_at  # arrival time -> beat
        self.cc = cc  # controller number (1 = mod wheel, 11 = expression, 7 = volume)
        self.low_db = low_db  # dB at value 0
        self.high_db = high_db  # dB at value 127
        self.channel = channel  # 0-15, -1 = all
        self.resolution = resolution  # beats between curve points
        self.value_db: float | None = None  # latest value, for live use
        self._events: collections.deque[tuple[float, float]] = collections.deque(maxlen=max_events)
        self._lock = threading.Lock()

    def handle(self, msg: mido.Message, t: float) -> float | None:
        """Record a matching control change; returns its dB value (None if not ours)."""
        if msg.type != "control_change" or msg.control != self.cc:
            return None
        if self.channel >= 0 and msg.channel != self.channel:
            return None
        db = cc_to_db(msg.value, self.low_db, self.high_db)
        beat = self.beat_at(t)
        with self._lock:
            self._events.append((beat, db))
        self.value_db = db
        return db

    def reset(self) -> None:
        with self._lock:
            self._events.clear()

    def first_beat(self) -> float | None:
        with self._lock:
            return self._events[0][0] if self._events else None

    def points(self, origin: float | None = None, min_end: float | None = None) -> list[list[float]]:
        """The sweep sampled every ``resolution`` beats from ``origin`` (default: first event) to the
        last event (or ``min_end`` if later), as ``[[beat from origin, dB], ...]``."""
        with self._lock:
            events = sorted(self._events)
        if not events:
            return []
        origin = events[0][0] if origin is None else origin
        end = events[-1][0] if min_end is None else max(min_end, events[-1][0])
        pts = sample_and_hold(events, origin, max(end, origin), self.resolution)
        return [[round(b - origin, 6), round(db, 3)] for b, db in pts]
