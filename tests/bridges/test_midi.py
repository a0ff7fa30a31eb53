"""The MIDI bridge: top-voice melody, CC -> intensity, clock -> tempo, MIDI files; in memory and
through real JACK MIDI ports (a private ``jackd -d dummy`` started by the fixture)."""

from __future__ import annotations

import time

import mido
import pytest

from ditto_live.bridges.midi import (
    CCRecorder,
    FakeMidiPort,
    MidiClock,
    MidiInput,
    NoteRecorder,
    Timeline,
    cc_to_db,
    open_midi_input,
    quantize_notes,
    top_voice,
)
from tests.jack import jack_output_to, jack_server  # noqa: F401  (jack_server: pytest fixture)

C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]
JACK_PERIOD = 1024  # 21 ms JACK cycles (events arrive once per cycle); shorter ones xrun under load


def on(p, v=100):
    return mido.Message("note_on", note=p, velocity=v)


def off(p):
    return mido.Message("note_off", note=p)


# -- top voice --------------------------------------------------------------------------------------
def test_top_voice_of_a_chord_is_its_highest_note():
    assert top_voice([(60, 0, 1), (64, 0, 1), (67, 0, 1)]) == [[67, 0.0, 1.0]]


def test_top_voice_returns_to_a_held_lower_note_when_the_melody_rests():
    # a bass C held for 4 beats under a melody G (beat 0-1) and A (beat 2-3)
    notes = top_voice([(48, 0, 4), (67, 0, 1), (69, 2, 3)])  # (pitch, start, end)
    assert notes == [[67, 0.0, 1.0], [48, 1.0, 1.0], [69, 2.0, 1.0], [48, 3.0, 1.0]]


def test_descending_legato_keeps_the_lower_notes_onset():
    # E held to 1.05, D pressed at 1.0: D starts at 1.0, not at E's release
    assert top_voice([(64, 0, 1.05), (62, 1.0, 2.0)]) == [[64, 0.0, 1.0], [62, 1.0, 1.0]]


def test_a_restruck_pitch_is_two_notes_and_slivers_are_dropped():
    assert top_voice([(60, 0, 1), (60, 1, 2)]) == [[60, 0.0, 1.0], [60, 1.0, 1.0]]
    # a 0.01-beat overlap of a higher grace note is below min_duration
    assert top_voice([(60, 0, 1), (72, 0.5, 0.51)], min_duration=1 / 32) == [[60, 0.0, 0.5], [60, 0.51, 0.49]]


def test_quantize_snaps_to_the_grid_without_overlaps():
    q = quantize_notes([[60, 0.02, 0.46], [62, 0.49, 0.55]], 0.25)
    assert q == [[60, 0.0, 0.5], [62, 0.5, 0.5]]


# -- recorders with explicit times --------------------------------------------------------------------
def play_scale(midi_in: MidiInput, t0: float, seconds_per_note: float, gap: float = 0.02) -> None:
    for k, p in enumerate(C_MAJOR):
        midi_in.feed(on(p), t0 + k * seconds_per_note)
        midi_in.feed(off(p), t0 + (k + 1) * seconds_per_note - gap)


def test_a_scale_played_at_120_bpm_becomes_beats():
    midi_in = MidiInput(FakeMidiPort())
    rec = NoteRecorder(Timeline(bpm=120.0).beat_at, quantize=0.25)
    midi_in.add_handler(rec.handle)
    play_scale(midi_in, 100.0, 0.25)  # eighth notes at 120 bpm
    assert rec.notes() == [[p, 0.5 * k, 0.5] for k, p in enumerate(C_MAJOR)]


def test_unquantized_notes_keep_their_timing_and_a_held_note_ends_now():
    rec = NoteRecorder(Timeline(bpm=60.0).beat_at)
    rec.handle(on(60), 10.0)
    rec.handle(off(60), 10.5)
    rec.handle(on(64), 11.0)
    assert rec.notes(now=12.25) == [[60, 0.0, 0.5], [64, 1.0, 1.25]]


def test_note_on_with_velocity_zero_ends_the_note():
    rec = NoteRecorder(Timeline(bpm=120.0).beat_at)
    rec.handle(on(60), 0.0)
    rec.handle(on(60, 0), 0.5)
    assert rec.notes(now=5.0) == [[60, 0.0, 1.0]]


def test_a_cc_sweep_becomes_a_rising_intensity_curve():
    rec = CCRecorder(Timeline(bpm=120.0).beat_at, cc=11, low_db=-40.0, high_db=-10.0, resolution=0.5)
    for k in range(128):  # 0..127 over 2 s = 4 beats
        rec.handle(mido.Message("control_change", control=11, value=k), 50.0 + 2.0 * k / 127)
    rec.handle(mido.Message("control_change", control=1, value=0), 52.0)  # another CC is ignored
    pts = rec.points()
    assert [b for b, _ in pts] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
    dbs = [db for _, db in pts]
    assert dbs[0] == pytest.approx(-40.0) and dbs[-1] == pytest.approx(-10.0)
    assert all(a < b for a, b in zip(dbs, dbs[1:]))
    assert dbs[4] == pytest.approx(-25.0, abs=0.5)  # half way through the sweep


def test_cc_to_db_maps_the_controller_range_linearly():
    assert cc_to_db(0, -40, -10) == -40 and cc_to_db(127, -40, -10) == -10
    assert cc_to_db(200, -40, -10) == -10


# -- clock ------------------------------------------------------------------------------------------
def feed_clock(clock: MidiClock, t0: float, bpm: float, ticks: int) -> float:
    dt = 60.0 / (24 * bpm)
    for k in range(ticks):
        clock.handle(mido.Message("clock"), t0 + k * dt)
    return t0 + (ticks - 1) * dt


def test_clock_ticks_give_the_tempo_and_follow_a_change():
    clock = MidiClock()
    feed_clock(clock, 0.0, 100.0, 48)
    assert clock.bpm == pytest.approx(100.0, rel=1e-6)
    feed_clock(clock, 2.0, 140.0, 96)
    assert clock.bpm == pytest.approx(140.0, rel=1e-3)


def test_start_stop_continue_and_song_position_set_the_position():
    clock = MidiClock()
    feed_clock(clock, 0.0, 120.0, 24)  # stopped: tempo known, position stays 0
    assert clock.position == 0.0 and not clock.running
    clock.handle(mido.Message("start"), 1.0)
    t = feed_clock(clock, 1.0, 120.0, 49)  # downbeat + 48 ticks = 2 beats
    assert clock.position == pytest.approx(2.0)
    assert clock.beat_at(t + 0.25 / 24) == pytest.approx(2.0 + 0.5 / 24)  # interpolated, half a tick
    clock.handle(mido.Message("stop"), t + 0.001)
    assert not clock.running
    clock.handle(mido.Message("songpos", pos=32), t + 0.1)  # 32 sixteenths = beat 8
    clock.handle(mido.Message("continue"), t + 0.2)
    feed_clock(clock, t + 0.2, 120.0, 13)  # downbeat at 8, then 12 ticks
    assert clock.position == pytest.approx(8.5)


def test_timeline_uses_the_clock_only_while_it_runs():
    clock = MidiClock()
    line = Timeline(clock, bpm=60.0)
    assert line.beat_at(5.0) == 0.0 and line.beat_at(6.0) == 1.0  # free time at 60 bpm
    clock.handle(mido.Message("start"), 7.0)
    feed_clock(clock, 7.0, 120.0, 25)
    assert line.synced and line.beat_at(7.5) == pytest.approx(1.0)


# -- input adapter ----------------------------------------------------------------------------------
def test_midi_input_filters_channels_and_survives_a_failing_handler():
    port = FakeMidiPort()
    got = []
    midi_in = MidiInput(port, channel=2)
    midi_in.add_handler(lambda m, t: 1 / 0)
    midi_in.add_handler(lambda m, t: got.append(m))
    port.send(mido.Message("note_on", channel=2, note=60))
    port.send(mido.Message("note_on", channel=3, note=61))
    port.send(mido.Message("clock"))
    assert [m.type for m in got] == ["note_on", "clock"] and got[0].note == 60


# -- real JACK MIDI ports ---------------------------------------------------------------------------


def send_at(out, schedule: list[tuple[float, mido.Message]]) -> None:
    """Send each message at its offset (seconds) from now, on absolute deadlines."""
    t0 = time.monotonic()
    for offset, msg in schedule:
        delay = t0 + offset - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        out.send(msg)


class JackRig:
    """A virtual ditto-live input, a JACK output connected to it, and a count of what arrived."""

    def __init__(self, midi_in: MidiInput, out, server):
        self.midi_in, self.out, self.server = midi_in, out, server
        self.arrived = 0  # messages received, probes excluded
        self.probes = 0
        midi_in.add_handler(self._count)

    def _count(self, msg, t):
        if msg.type == "tune_request":
            self.probes += 1
        else:
            self.arrived += 1

    def settle(self, expected: int, timeout: float = 3.0) -> None:
        """Wait until every message sent arrived; JACK drops a cycle's events when a client misses it."""
        deadline = time.monotonic() + timeout
        while self.arrived < expected and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.arrived == expected, f"{self.arrived}/{expected} arrived; server xruns: {self.server.xruns()}"


@pytest.fixture
def jack_midi(jack_server):  # noqa: F811
    midi_in = open_midi_input(api="jack")
    rig = JackRig(midi_in, jack_output_to("ditto-live:ditto-live"), jack_server)
    # a JACK connection takes effect a cycle or more after jack_connect returns: probe until it carries
    deadline = time.monotonic() + 5
    while rig.probes == 0 and time.monotonic() < deadline:
        rig.out.send(mido.Message("tune_request"))
        time.sleep(0.05)
    assert rig.probes > 0, "the JACK MIDI connection never carried a message"
    yield rig
    rig.out.close()
    midi_in.close()


@pytest.mark.jack
def test_the_virtual_port_is_a_real_jack_midi_port(jack_server, jack_midi):  # noqa: F811
    assert "ditto-live:ditto-live" in jack_server.ports()


@pytest.mark.jack
def test_a_scale_played_through_jack_becomes_the_melody_target(jack_midi):
    midi_in, out = jack_midi.midi_in, jack_midi.out
    timeline = Timeline(bpm=120.0)  # eighth notes = 0.25 s
    rec, raw = NoteRecorder(timeline.beat_at, quantize=0.25), NoteRecorder(timeline.beat_at)
    midi_in.add_handler(rec.handle)
    midi_in.add_handler(raw.handle)
    schedule = []
    for k, p in enumerate(C_MAJOR):
        schedule += [(0.25 * k, on(p)), (0.25 * (k + 1) - 0.001, off(p))]
    send_at(out, schedule)
    jack_midi.settle(len(schedule))
    assert rec.notes() == [[p, 0.5 * k, 0.5] for k, p in enumerate(C_MAJOR)]
    played = raw.notes()
    assert [n[0] for n in played] == C_MAJOR
    assert [n[1] for n in played] == pytest.approx([0.5 * k for k in range(8)], abs=0.1)  # 50 ms


@pytest.mark.jack
def test_a_cc_sweep_through_jack_becomes_an_intensity_curve(jack_midi):
    midi_in, out = jack_midi.midi_in, jack_midi.out
    rec = CCRecorder(Timeline(bpm=120.0).beat_at, cc=1, low_db=-40.0, high_db=-10.0, resolution=0.25)
    midi_in.add_handler(rec.handle)
    schedule = [(0.6 * v / 127, mido.Message("control_change", control=1, value=v)) for v in range(0, 128, 4)]
    schedule.append((0.6, mido.Message("control_change", control=1, value=127)))
    send_at(out, schedule)
    jack_midi.settle(len(schedule))
    pts = rec.points()
    assert pts[0] == [0.0, -40.0] and pts[-1][1] == -10.0
    assert pts[-1][0] == pytest.approx(1.25, abs=0.25)  # 0.6 s at 120 bpm, on a quarter-beat grid
    dbs = [db for _, db in pts]
    assert all(a <= b for a, b in zip(dbs, dbs[1:]))


@pytest.mark.jack
def test_clock_ticks_through_jack_give_the_tempo(jack_midi):
    midi_in, out = jack_midi.midi_in, jack_midi.out
    clock = MidiClock()
    midi_in.add_handler(clock.handle)
    dt = 60.0 / (24 * 125.0)
    schedule = [(0.0, mido.Message("start"))] + [(k * dt, mido.Message("clock")) for k in range(73)]
    send_at(out, schedule)  # 3 beats at 125 bpm
    jack_midi.settle(len(schedule))
    assert clock.running and clock.bpm == pytest.approx(125.0, rel=0.03)
    assert clock.position == pytest.approx(3.0)
