"""The built DittoLive.amxd parses (binary header + patcher JSON) and references only repository files."""

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
    kind, patcher = build_amxd.parse_amxd(data)
    assert kind == "midi effect"
    assert patcher == json.loads((DEVICE / "src" / "DittoLive.maxpat").read_text(encoding="utf-8"))


def test_patcher_references_only_files_built_from_the_repository(built, build_amxd):
    amxd, out = built
    _, patcher = build_amxd.parse_amxd(amxd.read_bytes())
    assert build_amxd.referenced_files(patcher) == {"ditto_live_device.js"}
    js = (out / "ditto_live_device.js").read_text(encoding="utf-8")
    for name in build_amxd.JS_SOURCES:
        assert (DEVICE / "src" / name).read_text(encoding="utf-8") in js, name
    table = json.loads((REPO / "ditto_live" / "protocol.json").read_text(encoding="utf-8"))
    assert "var DITTO_PROTOCOL = " + json.dumps(table, separators=(",", ":")) + ";" in js
    assert sorted(p.name for p in out.iterdir()) == ["DittoLive.amxd", "ditto_live_device.js"]
    text = json.dumps(patcher)
    for absolute in ("/Users/", "/home/", "C:\\\\", "/tmp/", str(REPO)):
        assert absolute not in text


def test_every_patchline_joins_existing_boxes_and_parameters_are_unique(built, build_amxd):
    amxd, out = built
    _, patcher = build_amxd.parse_amxd(amxd.read_bytes())
    build_amxd.check_patcher(patcher, out)  # raises on a dangling line or duplicate parameter
    broken = json.loads(json.dumps(patcher))
    broken["patcher"]["lines"].append({"patchline": {"source": ["obj-1", 9], "destination": ["obj-2", 0]}})
    with pytest.raises(build_amxd.AmxdError, match="outside"):
        build_amxd.check_patcher(broken, out)


def test_parse_refuses_truncated_and_foreign_files(built, build_amxd):
    data = built[0].read_bytes()
    with pytest.raises(build_amxd.AmxdError, match="claims"):
        build_amxd.parse_amxd(data[:-10])
    with pytest.raises(build_amxd.AmxdError, match="not a Max for Live device"):
        build_amxd.parse_amxd(b"RIFF" + data[4:])
    with pytest.raises(build_amxd.AmxdError, match="not JSON"):
        build_amxd.parse_amxd(build_amxd.chunk(b"ampf", b"mmmm") + build_amxd.chunk(b"ptch", b"{nope"))


def test_missing_js_beside_the_device_is_an_error(built, build_amxd, tmp_path):
    _, patcher = build_amxd.parse_amxd(built[0].read_bytes())
    with pytest.raises(build_amxd.AmxdError, match="not in"):
        build_amxd.check_patcher(patcher, tmp_path)


def test_build_refuses_a_patcher_without_midi_passthrough(built, build_amxd):
    amxd, out = built
    _, patcher = build_amxd.parse_amxd(amxd.read_bytes())
    boxes = {b["box"]["id"]: b["box"] for b in patcher["patcher"]["boxes"]}
    silent = json.loads(json.dumps(patcher))
    silent["patcher"]["lines"] = [ln for ln in silent["patcher"]["lines"]
                                  if boxes[ln["patchline"]["source"][0]].get("text") != "midiin"]
    with pytest.raises(build_amxd.AmxdError, match="midiin -> midiout"):
        build_amxd.check_patcher(silent, out)


def test_prebuilt_device_is_byte_identical_to_a_fresh_build(built, build_amxd):
    """The committed device is what the sources build (else: build_amxd.py --out ableton_device/prebuilt)."""
    _, out = built
    for name in ("DittoLive.amxd", build_amxd.JS_NAME):
        committed = (build_amxd.PREBUILT / name).read_bytes()
        assert committed == (out / name).read_bytes(), (
            f"prebuilt/{name} is stale: run `python3 ableton_device/build_amxd.py --out ableton_device/prebuilt`")


def test_build_is_deterministic(built, build_amxd, tmp_path):
    _, out = built
    again = build_amxd.build(tmp_path)
    assert again.read_bytes() == (out / "DittoLive.amxd").read_bytes()
    assert (tmp_path / build_amxd.JS_NAME).read_bytes() == (out / build_amxd.JS_NAME).read_bytes()
    assert b"\r\n" not in again.read_bytes()


def test_saved_values_are_parameters_and_their_names_unique(built, build_amxd):
    amxd, out = built
    _, patcher = build_amxd.parse_amxd(amxd.read_bytes())
    names = {b["box"]["saved_attribute_attributes"]["valueof"]["parameter_longname"]
             for b in patcher["patcher"]["boxes"] if build_amxd.is_parameter(b["box"])}
    assert {"Target Track", "Server Host", "Caption", "Port", "Reply Port"} <= names
    twin = json.loads(json.dumps(patcher))
    pattr = next(b["box"] for b in twin["patcher"]["boxes"] if b["box"].get("varname") == "saved_caption")
    pattr["saved_attribute_attributes"]["valueof"]["parameter_longname"] = "Intensity"
    with pytest.raises(build_amxd.AmxdError, match="duplicate parameter names"):
        build_amxd.check_patcher(twin, out)
