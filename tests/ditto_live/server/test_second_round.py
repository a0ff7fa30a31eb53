"""Issue 28's smaller findings, item by item: one terminal reply per job request inside bundles, the MIDI
take's malformed base, stream start/stop floods, CLI errors as one line and exit 2, settings that could not
be used, existence oracles (``~user``, job ids), hidden model folders, numbers too large for a float,
junk nested deep in control values, log floods and the shared controls of a forgotten client."""

from __future__ import annotations

import json
import logging
import struct
import threading
import time

import pytest

from ditto_live.bridges.osc import encode_message
from ditto_live.cli import main
from ditto_live.config import ConfigError, config_from_dict
from ditto_live.runner.fake import FakeRunner

from .conftest import FakeMidiTake, FakeStream, job_json

TERMINAL = ("/ditto/job/done", "/ditto/job/error")


def bundle(*messages: bytes) -> bytes:
    return b"#bundle\x00" + b"\x00" * 7 + b"\x01" + b"".join(struct.pack(">i", len(m)) + m for m in messages)


def error_lines(capsys) -> list[str]:
    """The ERROR lines on stderr (the CLI routes its log there); a traceback fails the test."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return [line for line in err.splitlines() if " ERROR " in line]


# -- one terminal reply per job request, bundles included ----------------------------------------------------
@pytest.mark.parametrize("confirmed", [True, False])
def test_a_64_submit_bundle_into_a_full_queue_gets_one_terminal_reply_per_request(make_server, client_for,
                                                                                  out_dir, confirmed):
    server = make_server(runner=FakeRunner(out_dir, steps=3, step_s=0.01, seconds=0.05), queue_size=4,
                         confirmed=confirmed)
    client = client_for(server)
    spec = job_json(name="b") if confirmed else job_json(name="bundled", tags={"genre": "folk", "mood": "major"})
    ids = [f"b{i:02d}" for i in range(64)]
    client.send_raw(bundle(*[encode_message("/ditto/job/submit", [i, spec]) for i in ids]))
    ends = [client.terminal(i, timeout=10) for i in ids]
    assert {m.args[0] for m in ends} == set(ids)
    client.drain(0.5)
    counts = {i: sum(m.address in TERMINAL and m.args[0] == i for m in client.seen) for i in ids}
    assert set(counts.values()) == {1}
    assert any(m.address == "/ditto/job/error" and m.args[1] == "busy" for m in ends)


# -- the MIDI take's base spec -------------------------------------------------------------------------------
@pytest.mark.parametrize("base", ['{"controls": 5}', '{"controls": [5]}', "[1, 2]", '{"seconds": "x"}'])
def test_a_midi_take_with_a_malformed_base_is_a_job_error_with_its_id_and_no_traceback(base, make_server,
                                                                                       client_for, caplog):
    server = make_server(midi=FakeMidiTake())
    client = client_for(server)
    with caplog.at_level(logging.WARNING):
        client.send("/ditto/midi/take", "take-1", base)
        error = client.terminal("take-1")
    assert error.address == "/ditto/job/error" and error.args[1] == "bad_request", error.args
    assert not [r for r in caplog.records if r.exc_info]
    assert not [m for m in client.seen if m.address == "/ditto/error"]


# -- stream start/stop floods --------------------------------------------------------------------------------
class SlowStream(FakeStream):
    def stop(self) -> None:
        time.sleep(0.05)  # waits for the window in flight
        super().stop()


def test_300_stream_requests_use_one_helper_thread_and_the_overflow_is_busy(make_server, client_for):
    server = make_server(stream=SlowStream())
    client = client_for(server)
    before = threading.active_count()
    for _ in range(300):
        client.send("/ditto/stream/stop")
    peak = before
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        peak = max(peak, threading.active_count())
        time.sleep(0.01)
    assert peak <= before + 1
    got = client.drain(0.5)
    assert any(m.address == "/ditto/error" and m.args[0] == "busy" for m in got)
    assert any(m.address == "/ditto/stream/state" for m in got)


# -- the CLI: one line, exit 2 -------------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["serve", "--fake-runner", "--port", "0", "--output-dir", "/proc/ditto-x"],
    ["serve", "--fake-runner", "--port", "0", "--output-dir", "{file}"],
    ["serve", "--fake-runner", "--port", "0", "--output-dir", "{out}", "--drop-folder", "/proc/ditto-x"],
    ["serve", "--fake-runner", "--port", "0", "--output-dir", "{out}", "--drop-folder", "{file}/drop"],
    ["serve", "--set", 'server.host="a\\u0000b"', "--fake-runner", "--output-dir", "{out}"],
    ["demo", "--fake-runner", "--output-dir", "{out}", "--timeout", "-1"],
    ["demo", "--fake-runner", "--output-dir", "{out}", "--timeout", "nan"],
    ["demo", "--fake-runner", "--output-dir", "{out}", "--timeout", "0.001"],  # the job cannot end in time
    ["demo", "--set", 'generate.device="bogus"', "--fake-runner", "--output-dir", "{out}"],
    ["demo", "--set", "midi.channel=99", "--fake-runner", "--output-dir", "{out}"],
    ["demo", "--set", "server.threads=100000", "--fake-runner", "--output-dir", "{out}"],
    ["demo", "--set", "server.max_payload_bytes=100000000000", "--fake-runner", "--output-dir", "{out}"],
], ids=["output-under-proc", "output-a-file", "drop-under-proc", "drop-under-a-file", "host-nul", "timeout-negative",
        "timeout-nan", "timeout-passes", "device-bogus", "midi-channel-99", "threads-100000", "payload-unbounded"])
def test_each_unusable_invocation_is_one_error_line_and_exit_2(argv, tmp_path, capsys):
    file = tmp_path / "a-file"
    file.write_text("x")
    argv = [a.format(file=file, out=tmp_path / "out") for a in argv]
    assert main(argv) == 2
    assert len(error_lines(capsys)) == 1


@pytest.mark.parametrize(("section", "key", "value"), [
    ("generate", "device", "bogus"), ("midi", "channel", 99), ("midi", "intensity_cc", 200),
    ("server", "threads", 100_000), ("server", "max_payload_bytes", 10**12), ("server", "host", "a\x00b"),
])
def test_settings_that_cannot_be_used_are_refused_naming_the_key(section, key, value):
    with pytest.raises(ConfigError, match=f"{section}.{key}"):
        config_from_dict({section: {key: value}})


def test_usable_devices_still_pass():
    for device in ("auto", "cpu", "cuda", "cuda:1", "mps"):
        assert config_from_dict({"generate": {"device": device}}).generate.device == device


# -- oracles and paths ---------------------------------------------------------------------------------------
def test_a_tilde_user_path_says_nothing_about_which_users_exist(make_server, client_for):
    server = make_server()
    client = client_for(server)
    replies = []
    for user in ("root", "no-such-user-ditto"):
        client.send("/ditto/job/submit", f"u-{user}", f"@~{user}/job.json")
        replies.append(client.terminal(f"u-{user}").args)
    assert [r[1] for r in replies] == ["forbidden", "forbidden"]
    assert replies[0][2].replace("root", "U") == replies[1][2].replace("no-such-user-ditto", "U")


def test_revoke_says_nothing_about_which_job_ids_exist(make_server, client_for, out_dir):
    server = make_server(runner=FakeRunner(out_dir, steps=50, step_s=0.02))
    owner, prober = client_for(server), client_for(server)
    owner.send("/ditto/job/submit", "secret", job_json(name="secret"))
    owner.expect_address("/ditto/job/accepted", "secret")
    answers = []
    for job_id in ("secret", "nothing"):
        prober.send("/ditto/job/revoke", job_id, "0" * 16)
        answers.append(prober.terminal(job_id).args)
    assert answers[0][1] == answers[1][1] == "not_found"
    assert answers[0][2].replace("secret", "X") == answers[1][2].replace("nothing", "X")
    owner.send("/ditto/job/cancel", "secret")
    owner.terminal("secret")


def test_a_hidden_folder_is_refused_as_a_model(make_server, client_for, tmp_path):
    hidden = tmp_path / ".cache" / "model"
    hidden.mkdir(parents=True)
    server = make_server()
    client = client_for(server)
    client.send("/ditto/job/submit", "hidden", job_json(model=str(hidden)))
    assert client.terminal("hidden").args[1] == "forbidden"


@pytest.mark.parametrize("spec", [
    '{"seconds": 1e309}', '{"seconds": 1' + "0" * 400 + "}", '{"seed": 1' + "0" * 400 + "}",
    '{"controls": [{"type": "melody", "notes": [[60, 0, 1' + "0" * 400 + "]]}]}",
    '{"controls": [{"type": "intensity", "points": [[0, 1e309]]}]}',
    '{"controls": [{"type": "intensity", "shape": "flat", "junk": ' + "[" * 900 + "]" * 900 + "}]}",
    '{"controls": [{"type": "intensity", "shape": "flat", "junk": {"a": {"b": {"c": {"d": 1}}}}}]}',
], ids=["1e309", "10^400", "seed-10^400", "note-10^400", "point-1e309", "900-deep", "4-deep"])
def test_numbers_too_large_and_deep_junk_are_bad_requests_before_accepted(spec, make_server, client_for):
    server = make_server()
    client = client_for(server)
    client.send("/ditto/job/submit", "big", spec)
    reply = client.terminal("big")
    assert reply.address == "/ditto/job/error" and reply.args[1] == "bad_request", reply.args
    assert not [m for m in client.seen if m.address == "/ditto/job/accepted"]


@pytest.mark.parametrize("control", [
    {"type": "intensity", "shape": "flat", "junk": 1}, {"type": "melody", "notes": [[60, 0, 1]], "velocity": 3},
    {"type": "text", "caption": "x", "model": "y"}, {"type": "loop", "seam": 1},
])
def test_an_unknown_key_inside_a_control_is_a_bad_request_naming_it(control, make_server, client_for):
    server = make_server()
    client = client_for(server)
    client.send("/ditto/job/submit", "keys", job_json(controls=[control]))
    reply = client.terminal("keys")
    unknown = next(k for k in control if k not in ("type", "shape", "notes", "caption"))
    assert reply.args[1] == "bad_request" and f"controls[0].{unknown}: unknown key" in reply.args[2], reply.args


def test_every_kind_declares_its_keys_and_its_example_uses_only_them():
    from ditto_live.controls import KINDS
    from ditto_live.generation.jobspec import COMMON_CONTROL_KEYS

    for name, kind in KINDS.items():
        assert kind.keys, f"{name} declares no keys: any junk would pass"
        if kind.example is not None:
            example = kind.example(5.94, "/tmp/ref.wav")
            assert set(example) - {"type", "weight"} <= {*kind.keys, *COMMON_CONTROL_KEYS}, (name, example)


# -- logs and forgotten clients ------------------------------------------------------------------------------
def test_a_flood_of_withheld_replies_logs_one_warning_not_one_per_datagram(make_server, client_for, caplog):
    server = make_server(confirmed=False)
    client = client_for(server)
    with caplog.at_level(logging.WARNING, logger="ditto_live.server.server"):
        for _ in range(200):
            client.send_raw(b"\x00")  # too small to pay for its error: withheld
        time.sleep(0.5)
    assert server.withheld >= 150
    assert len([r for r in caplog.records if "withheld" in r.getMessage()]) == 1


def test_the_shared_stream_controls_of_a_forgotten_client_go_with_it(make_server, client_for):
    stream = FakeStream()
    server = make_server(stream=stream, client_ttl_s=0.3)
    steerer, keeper = client_for(server), client_for(server)
    steerer.send("/ditto/control/set", "intensity", -12.0, types="sf")
    steerer.expect_address("/ditto/control/value")
    keeper.send("/ditto/control/set", "cfg", 4.0, types="sf")
    keeper.expect_address("/ditto/control/value")
    deadline = time.monotonic() + 3
    while "intensity" in server.live_controls and time.monotonic() < deadline:
        keeper.send("/ditto/server/ping", "alive")  # the keeper stays; the steerer goes silent
        time.sleep(0.1)
    assert "intensity" not in server.live_controls
    assert server.live_controls.get("cfg") == pytest.approx(4.0)


def test_status_json_is_valid_for_a_confirmed_and_an_unconfirmed_host(make_server, client_for):
    for confirmed in (True, False):
        server = make_server(confirmed=confirmed)
        client = client_for(server)
        client.send("/ditto/server/status")
        state = json.loads(client.expect_address("/ditto/server/state").args[0])
        assert ("limits" in state) is confirmed
