"""Build the Max for Live device: ``build/DittoLive.amxd`` and the js file beside it.

    python ableton_device/build_amxd.py [--out DIR]
    python ableton_device/build_amxd.py --out ableton_device/prebuilt   # refresh the committed device

Inputs are committed text: ``src/DittoLive.maxpat`` (the patcher JSON), the device's JS in ``src/``
and the server's protocol table ``ditto_live/protocol.json``. Outputs, in DIR (default
``ableton_device/build/``):

- ``ditto_live_device.js``: the table as ``var DITTO_PROTOCOL = {...};`` followed by the sources in
  JS_SOURCES order, for the patcher's ``js`` object (ES5, one file, so Max needs no module loader
  and the device speaks exactly the server's table);
- ``DittoLive.amxd``: the binary container Live reads. Chunks of a 4-byte tag and a little-endian
  uint32 size: ``ampf`` (4 bytes, the device type: ``mmmm`` MIDI effect), ``meta`` (4 bytes, 0),
  ``ptch`` (the patcher JSON, NUL-terminated). This is the layout Ableton's own reader parses
  (github.com/Ableton/maxdevtools, maxdiff/amxd_textconv.py).

The build validates what it wrote: it parses the container back, checks the patcher references
only files that sit beside it and passes MIDI through (midiin -> midiout), and (when node is
installed) that the js file parses.

The build is deterministic: no timestamps, no absolute paths, ``\n`` line endings on every platform,
so the same sources give the same bytes. ``prebuilt/`` holds a committed build for producers
without Python; a test checks it equals a fresh build.
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PREBUILT = HERE / "prebuilt"  # the committed device (DittoLive.amxd + its js)
PATCHER = HERE / "src" / "DittoLive.maxpat"
PROTOCOL = REPO / "ditto_live" / "protocol.json"
JS_SOURCES = ("protocol.js", "clip.js", "live.js", "link.js", "persist.js", "reader.js", "controller.js",
              "max_main.js")  # concatenation order
JS_NAME = "ditto_live_device.js"
DEVICE_TYPES = {b"mmmm": "midi effect", b"aaaa": "audio effect", b"iiii": "instrument"}


class AmxdError(ValueError):
    """A .amxd file or the patcher inside it is malformed."""


def chunk(tag: bytes, data: bytes) -> bytes:
    """One container chunk: 4-byte tag, little-endian uint32 size, data."""
    return tag + struct.pack("<I", len(data)) + data


def amxd_bytes(patcher: dict, device_type: bytes = b"mmmm") -> bytes:
    """The .amxd container around a patcher dict."""
    body = json.dumps(patcher, indent=1, ensure_ascii=False).encode("utf-8") + b"\n\x00"
    return chunk(b"ampf", device_type) + chunk(b"meta", struct.pack("<I", 0)) + chunk(b"ptch", body)


def parse_amxd(data: bytes) -> tuple[str, dict]:
    """(device type, patcher dict) of a .amxd; raises AmxdError when it does not parse."""
    chunks: dict[bytes, bytes] = {}
    at = 0
    while at < len(data):
        if at + 8 > len(data):
            raise AmxdError(f"truncated chunk header at byte {at}")
        tag, size = data[at:at + 4], struct.unpack("<I", data[at + 4:at + 8])[0]
        if at + 8 + size > len(data):
            raise AmxdError(f"chunk {tag!r} claims {size} bytes, only {len(data) - at - 8} left")
        chunks[tag] = data[at + 8:at + 8 + size]
        at += 8 + size
    if list(chunks)[:1] != [b"ampf"] or chunks[b"ampf"] not in DEVICE_TYPES:
        raise AmxdError("not a Max for Live device: no ampf chunk with a device type first")
    if b"ptch" not in chunks:
        raise AmxdError("no ptch chunk")
    body = chunks[b"ptch"].rstrip(b"\x00")
    try:
        patcher = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AmxdError(f"ptch is not JSON: {exc}") from None
    return DEVICE_TYPES[chunks[b"ampf"]], patcher


def referenced_files(patcher: dict) -> set[str]:
    """File names the patcher loads: js/v8/node.script arguments and its dependency cache."""
    names = {d["name"] for d in patcher["patcher"].get("dependency_cache", [])}
    for b in patcher["patcher"]["boxes"]:
        box = b["box"]
        words = str(box.get("text", "")).split()
        if box.get("maxclass") == "newobj" and words and words[0] in ("js", "jsui", "v8", "node.script"):
            names.add(words[1])
        if box.get("maxclass") in ("bpatcher", "fpic"):
            names.add(box.get("name") or box.get("pic", ""))
    return names


def check_patcher(patcher: dict, folder: Path) -> None:
    """Lines join existing boxes within their inlet/outlet counts; referenced files sit in folder."""
    p = patcher["patcher"]
    boxes = {b["box"]["id"]: b["box"] for b in p["boxes"]}
    for line in p["lines"]:
        (src, outlet), (dst, inlet) = line["patchline"]["source"], line["patchline"]["destination"]
        if src not in boxes or dst not in boxes:
            raise AmxdError(f"patchline joins a missing box: {src} -> {dst}")
        if not 0 <= outlet < boxes[src]["numoutlets"] or not 0 <= inlet < boxes[dst]["numinlets"]:
            raise AmxdError(f"patchline {src}:{outlet} -> {dst}:{inlet} is outside the boxes' outlets/inlets")
    for name in referenced_files(patcher):
        if Path(name).is_absolute() or "/" in name or "\\" in name:
            raise AmxdError(f"the patcher references {name!r}: only bare names of files beside the device")
        if not (folder / name).is_file():
            raise AmxdError(f"the patcher references {name!r}, which is not in {folder}")
    check_midi_passthrough(p, boxes)
    longnames = [b["saved_attribute_attributes"]["valueof"]["parameter_longname"]
                 for b in boxes.values() if is_parameter(b)]
    if len(longnames) != len(set(longnames)):
        raise AmxdError(f"duplicate parameter names: {sorted(longnames)}")


def is_parameter(box: dict) -> bool:
    """A Live parameter: a live.* object, or a Max object (pattr) in parameter mode."""
    return bool(box.get("parameter_enable") or box.get("saved_object_attributes", {}).get("parameter_enable"))


def check_midi_passthrough(p: dict, boxes: dict) -> None:
    """A MIDI effect passes incoming MIDI on, else the instrument after it gets no notes."""
    kinds = {oid: str(b.get("text", "")).split(" ")[0] for oid, b in boxes.items()}
    for line in p["lines"]:
        (src, _), (dst, _) = line["patchline"]["source"], line["patchline"]["destination"]
        if kinds[src] == "midiin" and kinds[dst] == "midiout":
            return
    raise AmxdError("no midiin -> midiout: the device would silence its track's MIDI")


def device_js(protocol_json: str) -> str:
    """The js object's one file: the protocol table, then the sources in order."""
    table = json.loads(protocol_json)
    parts = ["// Built by ableton_device/build_amxd.py from ditto_live/protocol.json and ableton_device/src/*.js.",
             "// Do not edit: edit the sources and rebuild.",
             "var DITTO_PROTOCOL = " + json.dumps(table, separators=(",", ":"), ensure_ascii=True) + ";"]
    for name in JS_SOURCES:
        parts.append(f"// ---- {name} ----")
        parts.append((HERE / "src" / name).read_text(encoding="utf-8"))
    return "\n".join(parts) + "\n"


def check_js(path: Path) -> None:
    """node --check the built js when node is installed (it parses what Max's js will parse)."""
    node = shutil.which("node")
    if node is None:
        return
    result = subprocess.run([node, "--check", str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        raise AmxdError(f"{path.name} does not parse: {result.stderr.strip()}")


def build(out: Path, protocol: Path = PROTOCOL) -> Path:
    """Write the device into ``out`` and validate it; returns the .amxd path."""
    out.mkdir(parents=True, exist_ok=True)
    js_path = out / JS_NAME
    js_path.write_bytes(device_js(protocol.read_text(encoding="utf-8")).encode("utf-8"))
    check_js(js_path)
    patcher = json.loads(PATCHER.read_text(encoding="utf-8"))
    amxd = out / "DittoLive.amxd"
    tmp = amxd.with_suffix(".amxd.tmp")
    tmp.write_bytes(amxd_bytes(patcher))
    kind, parsed = parse_amxd(tmp.read_bytes())
    if kind != "midi effect" or parsed != patcher:
        raise AmxdError("the written device does not read back as the patcher")
    check_patcher(parsed, out)
    tmp.replace(amxd)
    return amxd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "build", help="output folder (default: %(default)s)")
    parser.add_argument("--protocol", type=Path, default=PROTOCOL,
                        help="the protocol table to embed (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        amxd = build(args.out, args.protocol)
    except AmxdError as exc:
        sys.stderr.write(f"build_amxd: {exc}\n")
        return 1
    sys.stdout.write(f"wrote {amxd} and {amxd.parent / JS_NAME}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
