"""Finding 2 of issue 16 (live-control poisoning): live controls obey the ranges of the job fields (one
schema), are refused at once out of range and change nothing then, belong to the client that set them,
can be reset, and are shown in status."""

from __future__ import annotations

import json

import pytest

from ditto_live.generation.jobspec import FIELD_RANGES, LIVE_CONTROL_RANGES, JobSpecError, check_live_control
from ditto_live.protocol import LIVE_CONTROLS, to_json

from .conftest import FakeStream


def sidecar_job(done) -> dict:
    return json.loads(open(json.loads(done.args[2])["sidecar"]).read())["job"]


@pytest.mark.parametrize(("name", "value", "says"), [
    ("bpm", 0.0, "20 <= bpm <= 400"), ("bpm", -5.0, "20 <= bpm <= 400"), ("cfg", 1e30, "0 <= cfg <= 20"),
    ("seed", 1e30, "seed <= 2147483647"), ("seed", 2.5, "a whole number"), ("intensity", 1e30, "-100 <= intensity <= 0 dB"),
    ("cfg", float("inf"), "0 <= cfg <= 20"),
])
def test_a_control_out_of_range_is_refused_at_once_naming_the_range_and_changes_nothing(
        name, value, says, make_server, client_for):
    stream = FakeStream()
    server = make_server(stream=stream)
    client = client_for(server)
    client.send("/ditto/control/set", name, value, types="sf")
    error = client.expect_address("/ditto/error", timeout=1.0)
    assert error.args[0] == "bad_request" and says in error.args[1], error.args
    assert server.live_controls == {} and stream.controls == {}
    client.send("/ditto/server/status")
    assert json.loads(client.expect_address("/ditto/server/state").args[0])["client"]["controls"] == {}


def test_after_an_attempted_poisoning_a_burst_of_jobs_that_leave_bpm_out_all_run(make_server, client_for):
    server = make_server(queue_size=20, max_queued_per_client=20)
    client = client_for(server)
    client.send("/ditto/control/set", "bpm", 0.0, types="sf")
    client.expect_address("/ditto/error")
    for i in range(20):
        client.send("/ditto/job/submit", f"j{i}", json.dumps({"seconds": 0.5, "name": f"j{i}"}))
    assert all(client.terminal(f"j{i}").address == "/ditto/job/done" for i in range(20))


def test_a_clients_controls_fill_in_only_its_own_jobs(make_server, client_for):
    server = make_server()
    setter, other = client_for(server), client_for(server)
    for name, value in (("seed", 11.0), ("cfg", 4.5), ("bpm", 90.0)):
        setter.send("/ditto/control/set", name, value, types="sf")
        setter.expect_address("/ditto/control/value")
    setter.send("/ditto/job/submit", "own", json.dumps({"seconds": 0.5, "name": "own"}))
    other.send("/ditto/job/submit", "theirs", json.dumps({"seconds": 0.5, "name": "theirs"}))
    own, theirs = sidecar_job(setter.terminal("own")), sidecar_job(other.terminal("theirs"))
    assert (own["seed"], own["cfg"], own["bpm"]) == (11, 4.5, 90.0)
    assert (theirs["seed"], theirs["cfg"], theirs["bpm"]) == (0, 3.0, 120.0)  # the job language's defaults


def test_reset_forgets_one_control_or_all_and_the_next_job_uses_its_own_defaults(make_server, client_for):
    stream = FakeStream()
    server = make_server(stream=stream)
    client = client_for(server)
    for name, value in (("seed", 5.0), ("cfg", 7.0), ("intensity", -20.0)):
        client.send("/ditto/control/set", name, value, types="sf")
        client.expect_address("/ditto/control/value")
    client.send("/ditto/control/reset", "cfg")
    assert json.loads(client.expect_address("/ditto/control/state").args[0]) == {"seed": 5.0, "intensity": -20.0}
    assert "cfg" not in server.live_controls and server.live_controls["intensity"] == -20.0
    client.send("/ditto/job/submit", "after-one", json.dumps({"seconds": 0.5}))
    job = sidecar_job(client.terminal("after-one"))
    assert (job["seed"], job["cfg"]) == (5, 3.0)
    client.send("/ditto/control/reset", "")
    assert json.loads(client.expect_address("/ditto/control/state").args[0]) == {}
    assert server.live_controls == {}  # the stream falls back to its spec too
    client.send("/ditto/control/reset", "tempo")
    assert client.expect_address("/ditto/error").args[0] == "bad_request"


def test_status_shows_the_clients_own_controls_and_the_controls_steering_the_stream(make_server, client_for):
    server = make_server(stream=FakeStream())
    a, b = client_for(server), client_for(server)
    a.send("/ditto/control/set", "intensity", -18.0, types="sf")
    a.expect_address("/ditto/control/value")
    b.send("/ditto/server/status")
    state = json.loads(b.expect_address("/ditto/server/state").args[0])
    assert state["controls"] == {"intensity": -18.0} and state["client"]["controls"] == {}
    a.send("/ditto/server/status")
    assert json.loads(a.expect_address("/ditto/server/state").args[0])["client"]["controls"] == {"intensity": -18.0}


def test_live_controls_share_the_job_fields_ranges_and_the_table_exports_them():
    for name in ("cfg", "seed", "bpm"):
        assert LIVE_CONTROL_RANGES[name] is FIELD_RANGES[name]
    assert LIVE_CONTROLS == tuple(LIVE_CONTROL_RANGES)
    exported = json.loads(to_json())["live_control_ranges"]
    assert exported["bpm"] == {"low": 20, "high": 400, "integer": False}
    assert check_live_control("bpm", 120) == 120.0
    with pytest.raises(JobSpecError, match="control .tempo."):
        check_live_control("tempo", 1.0)


def test_a_midi_clock_outside_the_tempo_range_is_held_to_it():
    from ditto_live.bridges.midi import FakeMidiPort, MidiInput
    from ditto_live.server.midi_control import MidiControl

    live: dict[str, float] = {}
    control = MidiControl(MidiInput(FakeMidiPort()), live)
    control.set_bpm(5.0)
    assert live["bpm"] == 20.0
