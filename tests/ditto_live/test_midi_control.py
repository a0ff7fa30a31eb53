"""MIDI -> live controls and job specs (the glue between the MIDI bridge and the server)."""

from __future__ import annotations

import mido
import pytest

from ditto_live.bridges.midi import FakeMidiPort, MidiInput
from ditto_live.config import MidiConfig
from ditto_live.generation.jobspec import parse_job
from ditto_live.server.midi_control import MidiControl
from tests.jack import jack_server  # noqa: F401  (pytest fixture)

C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]


def perform(midi_in: MidiInput, events: list[tuple[float, mido.Message]]) -> None:
    for t, msg in sorted(events, key=lambda e: e[0]):
        midi_in.feed(msg, t)


def clock_events(t0: float, bpm: float, beats: float) -> list[tuple[float, mido.Message]]:
    dt = 60.0 / (24 * bpm)
    return [(t0 + k * dt, mido.Message("clock")) for k in range(int(beats * 24) + 1)]


def scale_events(t0: float, seconds_per_note: float) -> list[tuple[float, mido.Message]]:
    out = []
    for k, p in enumerate(C_MAJOR):
        out.append((t0 + k * seconds_per_note + 1e-4, mido.Message("note_on", note=p, velocity=90)))
        out.append((t0 + (k + 1) * seconds_per_note - 1e-3, mido.Message("note_off", note=p)))
    return out


def test_the_configured_cc_drives_the_intensity_live_control():
    live: dict[str, float] = {}
    changes = []
    midi_in = MidiInput(FakeMidiPort())
    MidiControl.from_config(MidiConfig(intensity_cc=11), midi_in, live, low_db=-30.0, high_db=0.0,
                            on_change=lambda n, v: changes.append((n, v)))
    midi_in.feed(mido.Message("control_change", control=11, value=127), 1.0)
    midi_in.feed(mido.Message("control_change", control=1, value=0), 1.1)  # not the configured CC
    assert live["intensity"] == 0.0 and changes == [("intensity", 0.0)]
    midi_in.feed(mido.Message("control_change", control=11, value=0), 1.2)
    assert live["intensity"] == -30.0


def test_midi_clock_sets_the_bpm_live_control():
    live: dict[str, float] = {"bpm": 120.0}
    midi_in = MidiInput(FakeMidiPort())
    ctl = MidiControl(midi_in, live)
    perform(midi_in, clock_events(0.0, 93.0, 2))
    assert live["bpm"] == pytest.approx(93.0, abs=0.05) and ctl.bpm == pytest.approx(93.0, abs=0.01)


def test_a_take_under_midi_clock_becomes_a_valid_job():
    midi_in = MidiInput(FakeMidiPort())
    ctl = MidiControl(midi_in, {}, intensity_cc=1, quantize=0.25)
    t0 = 10.0
    sweep = [(t0 + 2.4 + 2.4 * v / 127, mido.Message("control_change", control=1, value=v)) for v in range(128)]
    events = [(t0, mido.Message("start"))] + clock_events(t0, 100.0, 12) + sweep
    events += scale_events(t0 + 2.4, 0.3)  # enters at beat 4 (bar 2), eighth notes at 100 bpm
    perform(midi_in, events)
    spec = parse_job(ctl.job_dict({"seed": 3, "controls": [{"type": "structure", "form": "AB"}]}, now=t0 + 7.0))
    assert spec.bpm == pytest.approx(100.0, abs=0.05) and spec.seed == 3
    kinds = [c.type for c in spec.controls]
    assert kinds == ["structure", "melody", "intensity"]
    melody = spec.controls[1].params
    assert melody["unit"] == "beats"
    assert melody["notes"] == [[p, 0.5 * k, 0.5] for k, p in enumerate(C_MAJOR)]  # from the bar line
    points = spec.controls[2].params["points"]
    assert points[0] == [0.0, -35.0] and points[-1][1] == -12.0  # the default CC range
    assert spec.bars == 1  # 4 beats of notes, the sweep ends on beat 4


def test_midi_start_begins_a_new_take():
    midi_in = MidiInput(FakeMidiPort())
    ctl = MidiControl(midi_in, {})
    perform(midi_in, [(0.0, mido.Message("note_on", note=50)), (0.5, mido.Message("note_off", note=50))])
    perform(midi_in, [(1.0, mido.Message("start"))] + clock_events(1.0, 120.0, 2)
            + [(1.5, mido.Message("note_on", note=70)), (1.9, mido.Message("note_off", note=70))])
    notes = ctl.job_dict(now=2.0)["controls"][0]["notes"]
    assert [n[0] for n in notes] == [70] and notes[0][1] == pytest.approx(1.0, abs=0.05)


def test_a_free_time_take_starts_at_its_first_note():
    midi_in = MidiInput(FakeMidiPort())
    ctl = MidiControl(midi_in, {}, bpm=90.0)
    perform(midi_in, scale_events(50.0, 60.0 / 90))  # quarter notes at 90 bpm
    job = ctl.job_dict(now=60.0)
    assert job["bpm"] == 90.0 and job["bars"] == 2
    assert [n[1] for n in job["controls"][0]["notes"]] == pytest.approx(list(range(8)), abs=1e-3)


def test_free_time_follows_a_bpm_set_over_osc():
    live: dict[str, float] = {}
    midi_in = MidiInput(FakeMidiPort())
    ctl = MidiControl(midi_in, live, bpm=120.0)
    live["bpm"] = 60.0  # /ditto/control/set bpm 60
    perform(midi_in, scale_events(0.0, 1.0)[:4])  # two notes, one second each
    notes = ctl.job_dict(now=3.0)["controls"][0]["notes"]
    assert [n[0] for n in notes] == [60, 62]
    assert [x for n in notes for x in n[1:]] == pytest.approx([0.0, 1.0, 1.0, 1.0], abs=2e-3)  # beats at 60


@pytest.mark.jack
def test_open_binds_the_configured_port_through_jack(jack_server):  # noqa: F811
    import time

    live: dict[str, float] = {}
    ctl = MidiControl.open(MidiConfig(input_port="", intensity_cc=11), live, api="jack")
    backend = mido.Backend("mido.backends.rtmidi/UNIX_JACK")
    out = backend.open_output(next(n for n in backend.get_output_names() if "ditto-live" in n))
    try:
        deadline = time.monotonic() + 5
        while "intensity" not in live and time.monotonic() < deadline:
            out.send(mido.Message("control_change", control=11, value=127))
            time.sleep(0.05)
    finally:
        out.close()
        ctl.close()
    assert live["intensity"] == -12.0
