"""Finding 5 of issue 16, item by item: a lone surrogate in a JSON key, malformed bundles, non-ASCII job
names, IPv4 clients of a dual-stack socket, orphan files after SIGKILL, probing which files exist, and
the MIDI read error's empty reason. (Bad CLI invocations and [server] values: test_cli_config_errors.py.)"""

from __future__ import annotations

import json
import os
import struct
import time

import pytest

from ditto_live.bridges.osc import AllowList, Datagram, MemoryNetwork, encode_message, is_loopback
from ditto_live.config import ServerConfig
from ditto_live.runner.fake import FakeRunner
from ditto_live.server.server import Server

from .conftest import job_json

EMPTY_BUNDLE = b"#bundle\x00" + b"\x00" * 8


def test_a_lone_surrogate_in_a_json_key_is_a_bad_request_for_that_job(make_server, client_for):
    server = make_server()
    client = client_for(server)
    client.send("/ditto/job/submit", "surrogate", '{"\\ud800": 1}')
    reply = client.terminal("surrogate")
    assert reply.args[1] == "bad_request" and "unknown key" in reply.args[2] and "\\ud800" in reply.args[2]
    assert not [m for m in client.seen if m.address == "/ditto/error"]
    assert server.alive


@pytest.mark.parametrize(("datagram", "says"), [
    (EMPTY_BUNDLE, "empty bundle"),
    (EMPTY_BUNDLE + struct.pack(">i", 0), "size 0"),
    (EMPTY_BUNDLE + struct.pack(">i", 8) + b"garbage!", "not an OSC packet"),
    (EMPTY_BUNDLE + struct.pack(">i", 400) + b"/ditto", "size 400"),
    (b"#bundle", "header truncated"),
], ids=["empty", "element-size-0", "non-osc-element", "element-past-the-end", "truncated-header"])
def test_a_malformed_bundle_is_answered_with_an_error_never_dropped(datagram, says, make_server, client_for):
    server = make_server()
    client = client_for(server)
    client.send_raw(datagram)
    error = client.expect_address("/ditto/error")
    assert error.args[0] == "bad_request" and says in error.args[1], error.args


def test_a_well_formed_bundle_is_answered_message_by_message(make_server, client_for):
    server = make_server()
    client = client_for(server)
    pings = [encode_message("/ditto/server/ping", [f"b{i}"]) for i in range(3)]
    client.send_raw(EMPTY_BUNDLE + b"".join(struct.pack(">i", len(p)) + p for p in pings))
    assert [client.expect_address("/ditto/server/pong").args[0] for _ in range(3)] == ["b0", "b1", "b2"]


def test_a_non_ascii_job_name_is_refused_before_accepted(make_server, client_for, out_dir):
    server = make_server()
    client = client_for(server)
    client.send("/ditto/job/submit", "accent", job_json(name="café"))
    reply = client.terminal("accent")
    assert reply.args[1] == "bad_request" and "job.name" in reply.args[2]
    assert not [m for m in client.seen if m.address == "/ditto/job/accepted"]
    assert list(out_dir.iterdir()) == []


def test_an_ipv4_client_of_a_dual_stack_socket_matches_its_ipv4_allow_entry(tmp_path):
    assert "::ffff:127.0.0.1" in AllowList(["127.0.0.1"]) and "::ffff:10.0.0.9" not in AllowList(["127.0.0.1"])
    assert is_loopback("::ffff:127.0.0.1") and not is_loopback("::")
    net = MemoryNetwork()  # no socket is bound to "::": the server is handed datagrams directly
    config = ServerConfig(host="::", port=0, allow=("127.0.0.1",), output_dir=str(tmp_path / "out"),
                          allowed_roots=(str(tmp_path),))
    server = Server(config, FakeRunner(tmp_path / "out"), endpoint=net.endpoint(9010))
    ping = encode_message("/ditto/server/ping", ["x"])
    server.handle_datagram(Datagram(ping, ("::ffff:127.0.0.1", 5000)))
    server.handle_datagram(Datagram(ping, ("::ffff:10.0.0.9", 5000)))
    assert server.dropped == 1


def test_temp_files_and_wavs_without_a_sidecar_left_by_a_kill_are_removed_at_start(make_server, out_dir):
    old = time.time() - 3600
    part = out_dir / ".clip-20260101-000000-0123abcd.wav.x1y2.part"
    orphan = out_dir / "clip-20260101-000000-0123abcd.wav"
    kept = out_dir / "clip-20260101-000001-4567cdef.wav"  # a result with its sidecar
    mine = out_dir / "my-own-take.wav"  # not a name the server makes
    fresh = out_dir / ".clip-now.wav.abcd.part"  # a writer may still be at work on it
    stream_part = out_dir / ".stream" / ".w.wav.zz.part"
    stream_part.parent.mkdir()
    for path in (part, orphan, kept, kept.with_suffix(".json"), mine, fresh, stream_part):
        path.write_bytes(b"x")
    for path in (part, orphan, kept, kept.with_suffix(".json"), mine, stream_part):
        os.utime(path, (old, old))
    make_server()
    assert not part.exists() and not orphan.exists() and not stream_part.exists()
    assert kept.exists() and kept.with_suffix(".json").exists() and mine.exists() and fresh.exists()


@pytest.mark.parametrize("exists", [True, False])
def test_a_hidden_or_wrongly_named_file_is_refused_the_same_whether_it_exists_or_not(exists, make_server,
                                                                                     client_for, tmp_path):
    server = make_server()
    client = client_for(server)
    hidden, notes = tmp_path / ".secrets" / "job.json", tmp_path / "notes.txt"
    if exists:
        hidden.parent.mkdir()
        for path in (hidden, notes):
            path.write_text(job_json())
    client.send("/ditto/job/submit", "hidden", f"@{hidden}")
    client.send("/ditto/job/submit", "notes", f"@{notes}")
    client.send("/ditto/job/submit", "midi", json.dumps({"controls": [{"type": "melody", "midi": str(notes)}]}))
    assert client.terminal("hidden").args[1:] == ("forbidden", f"{str(hidden)!r}: hidden files and folders "
                                                              "are not readable by requests")
    assert client.terminal("notes").args[1:] == ("bad_request", f"{str(notes)!r}: expected a .json file")
    assert client.terminal("midi").args[1:] == ("bad_request", f"{str(notes)!r}: expected a .mid or .midi file")


def test_a_midi_read_error_names_its_reason(tmp_path):
    from ditto_live.controls.melody import notes_from_midi
    from ditto_live.generation.jobspec import JobSpecError

    bad = tmp_path / "broken.mid"
    bad.write_bytes(b"MThd")  # cut off after the tag: mido raises an exception with an empty message
    with pytest.raises(JobSpecError) as err:
        notes_from_midi(str(bad), [str(tmp_path)])
    assert str(err.value).endswith("not a readable MIDI file (EOFError)")  # it was "... file ()"
