"""``/ditto/midi/take`` turns the take recorded by the MIDI bridge into a job over real UDP (replies as a
job submit); ``/ditto/midi/reset`` starts a new take; without --midi both say so."""

from __future__ import annotations

import json

import mido

from ditto_live.bridges.midi import FakeMidiPort, MidiInput
from ditto_live.server.midi_control import MidiControl

C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]


def play_scale(midi_in: MidiInput, t0: float, seconds_per_note: float) -> None:
    for k, p in enumerate(C_MAJOR):
        midi_in.feed(mido.Message("note_on", note=p, velocity=90), t0 + k * seconds_per_note)
        midi_in.feed(mido.Message("note_off", note=p), t0 + (k + 1) * seconds_per_note - 1e-3)


def take_server(make_server, live=None):
    midi_in = MidiInput(FakeMidiPort())
    control = MidiControl(midi_in, live if live is not None else {}, bpm=120.0)
    return midi_in, control, make_server(midi=control, live_controls=control.live_controls)


def test_a_played_scale_is_submitted_as_a_melody_job(make_server, client_for):
    midi_in, control, server = take_server(make_server)
    play_scale(midi_in, 100.0, 0.5)  # quarter notes at 120 bpm
    client = client_for(server)
    client.send("/ditto/midi/take", "take1", json.dumps({"seed": 4, "name": "take",
                                                          "controls": [{"type": "structure", "form": "AB"}]}))
    assert client.expect_address("/ditto/job/accepted", "take1").args[1] == 0
    done = client.terminal("take1")
    assert done.address == "/ditto/job/done", done
    job = json.loads(open(json.loads(done.args[2])["sidecar"]).read())["job"]
    assert job["seed"] == 4 and job["bpm"] == 120.0 and job["bars"] == 2
    kinds = [c["type"] for c in job["controls"]]
    assert kinds == ["structure", "melody"]
    notes = job["controls"][1]["notes"]
    assert [n[0] for n in notes] == C_MAJOR and [n[1] for n in notes] == [float(k) for k in range(8)]


def test_reset_starts_a_new_take_and_an_empty_take_is_refused(make_server, client_for):
    midi_in, control, server = take_server(make_server)
    play_scale(midi_in, 10.0, 0.5)
    client = client_for(server)
    client.send("/ditto/server/status")
    state = json.loads(client.expect_address("/ditto/server/state").args[0])
    assert state["midi"] == {"notes": 8, "bpm": 120.0}
    client.send("/ditto/midi/reset")
    assert client.expect_address("/ditto/midi/state").args == (0, 120.0)
    client.send("/ditto/midi/take", "empty", "")
    err = client.terminal("empty")
    assert err.address == "/ditto/job/error" and err.args[1] == "bad_request" and "empty" in err.args[2]


def test_a_take_with_a_bad_base_spec_gets_one_error(make_server, client_for, tmp_path):
    midi_in, _, server = take_server(make_server)
    play_scale(midi_in, 10.0, 0.5)
    client = client_for(server)
    client.send("/ditto/midi/take", "notjson", "{oops")
    client.send("/ditto/midi/take", "outside", "@/etc/passwd")
    client.send("/ditto/midi/take", "badkey", '{"colour": "red"}')
    codes = {j: client.terminal(j).args[1] for j in ("notjson", "outside", "badkey")}
    assert codes == {"notjson": "bad_request", "outside": "forbidden", "badkey": "bad_request"}
    client.drain()
    assert not [m for m in client.seen if m.address == "/ditto/job/accepted"]


def test_without_midi_take_and_reset_say_so(make_server, client_for):
    client = client_for(make_server())
    client.send("/ditto/midi/take", "nomidi", "")
    err = client.terminal("nomidi")
    assert err.args[1] == "failed" and "--midi" in err.args[2]
    client.send("/ditto/midi/reset")
    assert client.expect_address("/ditto/error").args[0] == "failed"
