"""The built DittoLive.amxd parses (binary header + a frozen patcher that carries its js) and references only
repository files."""

from __future__ import annotations

import json
import struct

import pytest

from tests.ableton_device.conftest import DEVICE

REPO = DEVICE.parent


@pytest.fixture(scope="module")
def built(build_amxd, tmp_path_factory):
    out = tmp_path_factory.mktemp("device")
    return build_amxd.build(out), out


def test_amxd_is_a_midi_effect_whose_ptch_chunk_is_the_committed_patcher(built, build_amxd):
    amxd, _ = built
    data = amxd.read_bytes()
    assert data[:4] == b"ampf" and struct.unpack("<I", data[4:8])[0] == 4 and data[8:12] == b"mmmm"
    assert data[12:16] == b"meta" and data[24:28] == b"ptch"
    assert struct.unpack("<I", data[28:32])[0] == len(data) - 32, "ptch size covers the rest of the file"
    assert data[32:36] == b"mx@c", "frozen, as Max's Freeze writes it"
    kind, patcher = build_amxd.parse_amxd(data)
    assert kind == "midi effect"
    assert patcher == json.loads((DEVICE / "src" / "DittoLive.maxpat").read_text(encoding="utf-8"))


def test_patcher_references_only_files_built_from_the_repository(built, build_amxd):
    amxd, out = built
    _, patcher = build_amxd.parse_amxd(amxd.read_bytes())
    assert build_amxd.referenced_files(patcher) == {"ditto_live_device.js"}
    js = build_amxd.embedded_files(amxd.read_bytes())["ditto_live_device.js"].decode("utf-8")
    for name in build_amxd.JS_SOURCES:
        assert (DEVICE / "src" / name).read_text(encoding="utf-8") in js, name
    table = json.loads((REPO / "ditto_live" / "protocol.json").read_text(encoding="utf-8"))
    assert "var DITTO_PROTOCOL = " + json.dumps(table, separators=(",", ":")) + ";" in js
    assert sorted(p.name for p in out.iterdir()) == ["DittoLive.amxd"], "one file: the js is frozen inside"
    text = json.dumps(patcher)
    for absolute in ("/Users/", "/home/", "C:\\\\", "/tmp/", str(REPO)):
        assert absolute not in text


def test_every_patchline_joins_existing_boxes_and_parameters_are_unique(built, build_amxd):
    amxd, out = built
    _, patcher = build_amxd.parse_amxd(amxd.read_bytes())
    build_amxd.check_patcher(patcher, None, build_amxd.embedded_files(amxd.read_bytes()))  # raises on a dangling line or duplicate parameter
    broken = json.loads(json.dumps(patcher))
    broken["patcher"]["lines"].append({"patchline": {"source": ["obj-1", 9], "destination": ["obj-2", 0]}})
    with pytest.raises(build_amxd.AmxdError, match="outside"):
        build_amxd.check_patcher(broken, None, build_amxd.embedded_files(amxd.read_bytes()))


def test_parse_refuses_truncated_and_foreign_files(built, build_amxd):
    data = built[0].read_bytes()
    with pytest.raises(build_amxd.AmxdError, match="claims"):
        build_amxd.parse_amxd(data[:-10])
    with pytest.raises(build_amxd.AmxdError, match="not a Max for Live device"):
        build_amxd.parse_amxd(b"RIFF" + data[4:])
    with pytest.raises(build_amxd.AmxdError, match="not JSON"):
        build_amxd.parse_amxd(build_amxd.chunk(b"ampf", b"mmmm") + build_amxd.chunk(b"ptch", b"{nope"))


def test_a_js_neither_frozen_nor_beside_the_device_is_an_error(built, build_amxd, tmp_path):
    _, patcher = build_amxd.parse_amxd(built[0].read_bytes())
    with pytest.raises(build_amxd.AmxdError, match="neither frozen"):
        build_amxd.check_patcher(patcher, tmp_path)
    build_amxd.check_patcher(patcher, None, build_amxd.embedded_files(built[0].read_bytes()))


def test_frozen_layout_matches_maxs_freeze(built, build_amxd):
    """ptch = mx@c, header size 16, uint64 footer offset; files back to back from byte 16; a dlst footer whose
    size covers it, one dire per file (type, fnam padded to 4, sz32, of32, vers, flag, mdat), as in
    Ableton's maxdevtools (freezing_utils.py) and the frozen test device there."""
    ptch = build_amxd.amxd_chunks(built[0].read_bytes())[b"ptch"]
    assert struct.unpack(">I", ptch[4:8])[0] == 16
    footer = struct.unpack(">Q", ptch[8:16])[0]
    assert ptch[footer:footer + 4] == b"dlst" and struct.unpack(">I", ptch[footer + 4:footer + 8])[0] == len(ptch) - footer
    at, expect, names = footer + 8, 16, []
    while at < len(ptch):
        assert ptch[at:at + 4] == b"dire"
        size = struct.unpack(">I", ptch[at + 4:at + 8])[0]
        body, fields, f = ptch[at + 8:at + size], {}, 0
        while f < len(body):
            fields[body[f:f + 4]] = body[f + 8:f + struct.unpack(">I", body[f + 4:f + 8])[0]]
            f += struct.unpack(">I", body[f + 4:f + 8])[0]
        assert list(fields) == [b"type", b"fnam", b"sz32", b"of32", b"vers", b"flag", b"mdat"]
        assert len(fields[b"fnam"]) % 4 == 0 and fields[b"fnam"].endswith(b"\x00")
        assert struct.unpack(">I", fields[b"of32"])[0] == expect, "files sit back to back"
        expect += struct.unpack(">I", fields[b"sz32"])[0]
        names.append((fields[b"fnam"].rstrip(b"\x00").decode(), fields[b"type"], struct.unpack(">I", fields[b"flag"])[0]))
        at += size
    assert expect == footer
    assert names == [("DittoLive.amxd", b"JSON", 0x11), ("ditto_live_device.js", b"TEXT", 0)]


def test_build_refuses_an_int_parameter_wider_than_lives_256_values(built, build_amxd):
    amxd, out = built
    _, patcher = build_amxd.parse_amxd(amxd.read_bytes())
    embedded = build_amxd.embedded_files(amxd.read_bytes())
    wide = json.loads(json.dumps(patcher))
    port = next(b["box"] for b in wide["patcher"]["boxes"] if b["box"].get("varname") == "Port")
    port["saved_attribute_attributes"]["valueof"].update(parameter_type=1, parameter_mmin=1024, parameter_mmax=65535)
    with pytest.raises(build_amxd.AmxdError, match="Int parameter 'Port' spans 64512 values"):
        build_amxd.check_patcher(wide, None, embedded)
    port["saved_attribute_attributes"]["valueof"].update(parameter_mmin=0, parameter_mmax=255)
    build_amxd.check_patcher(wide, None, embedded)  # 256 values: allowed


def test_build_refuses_a_patcher_without_midi_passthrough(built, build_amxd):
    amxd, out = built
    _, patcher = build_amxd.parse_amxd(amxd.read_bytes())
    boxes = {b["box"]["id"]: b["box"] for b in patcher["patcher"]["boxes"]}
    silent = json.loads(json.dumps(patcher))
    silent["patcher"]["lines"] = [ln for ln in silent["patcher"]["lines"]
                                  if boxes[ln["patchline"]["source"][0]].get("text") != "midiin"]
    with pytest.raises(build_amxd.AmxdError, match="midiin -> midiout"):
        build_amxd.check_patcher(silent, None, build_amxd.embedded_files(amxd.read_bytes()))


def test_prebuilt_device_is_byte_identical_to_a_fresh_build(built, build_amxd):
    """The committed device is what the sources build (else: build_amxd.py --out ableton_device/prebuilt)."""
    _, out = built
    assert sorted(p.name for p in build_amxd.PREBUILT.iterdir()) == ["DittoLive.amxd"], "one frozen file"
    committed = (build_amxd.PREBUILT / "DittoLive.amxd").read_bytes()
    assert committed == (out / "DittoLive.amxd").read_bytes(), (
        "prebuilt/DittoLive.amxd is stale: run `python3 ableton_device/build_amxd.py --out ableton_device/prebuilt`")


def test_build_is_deterministic(built, build_amxd, tmp_path):
    _, out = built
    again = build_amxd.build(tmp_path)
    assert again.read_bytes() == (out / "DittoLive.amxd").read_bytes()
    assert b"\r\n" not in again.read_bytes()


def test_saved_values_are_parameters_and_their_names_unique(built, build_amxd):
    amxd, _ = built
    _, patcher = build_amxd.parse_amxd(amxd.read_bytes())
    names = {b["box"]["saved_attribute_attributes"]["valueof"]["parameter_longname"]
             for b in patcher["patcher"]["boxes"] if build_amxd.is_parameter(b["box"])}
    assert {"Target Track", "Server Host", "Caption", "Port", "Reply Port"} <= names
    twin = json.loads(json.dumps(patcher))
    pattr = next(b["box"] for b in twin["patcher"]["boxes"] if b["box"].get("varname") == "saved_caption")
    pattr["saved_attribute_attributes"]["valueof"]["parameter_longname"] = "Intensity"
    with pytest.raises(build_amxd.AmxdError, match="duplicate parameter names"):
        build_amxd.check_patcher(twin, None, build_amxd.embedded_files(amxd.read_bytes()))


def test_unfrozen_fallback_loads_its_js_from_beside_it(build_amxd, tmp_path):
    amxd = build_amxd.build(tmp_path, frozen=False)
    data = amxd.read_bytes()
    assert data[32:33] == b"{" and build_amxd.embedded_files(data) == {}, "a plain patcher in ptch"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["DittoLive.amxd", "ditto_live_device.js"]
    _, patcher = build_amxd.parse_amxd(data)
    build_amxd.check_patcher(patcher, tmp_path)
