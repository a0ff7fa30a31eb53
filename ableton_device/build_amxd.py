"""Build the Max for Live device: ``build/DittoLive.amxd``, one frozen file that carries its js.

    python ableton_device/build_amxd.py [--out DIR]
    python ableton_device/build_amxd.py --out ableton_device/prebuilt   # refresh the committed device

Inputs are committed text: ``src/DittoLive.maxpat`` (the patcher JSON), the device's JS in ``src/``
and the server's protocol table ``ditto_live/protocol.json``. Output, in DIR (default
``ableton_device/build/``), ``DittoLive.amxd``: the binary container Live reads. Chunks of a 4-byte tag
and a little-endian uint32 size: ``ampf`` (4 bytes, the device type: ``mmmm`` MIDI effect), ``meta``
(4 bytes) and ``ptch``. The device is **frozen**, as Max's Freeze button writes it, so the one file works
alone (Collect All and Save, a shared set, a moved .amxd): ``ptch`` holds ``mx@c``, a big-endian
header size (16) and uint64 offset of the footer, then the files (the patcher JSON first, then
``ditto_live_device.js``), then the footer ``dlst`` with one ``dire`` entry per file (type, name,
size, offset, version, flags, HFS+ date). This is the layout Ableton's own reader parses
(github.com/Ableton/maxdevtools, maxdiff/amxd_textconv.py, freezing_utils.py, frozen_device_printer.py).

``ditto_live_device.js`` is the table as ``var DITTO_PROTOCOL = {...};`` followed by the sources in
JS_SOURCES order, for the patcher's ``js`` object (ES5, one file, so Max needs no module loader and the
device speaks exactly the server's table). ``--with-js`` also writes it beside the device (to edit the
device in Max unfrozen); ``--unfrozen`` writes the older layout, a plain ``ptch`` patcher that loads the js
from beside it (a fallback should a Live not open the frozen device).

The build validates what it wrote: it parses the container back, checks the patcher references
only files frozen inside it, passes MIDI through (midiin -> midiout) and declares no Int parameter
over Live's 256 values, and (when node is installed) that the js parses.

The build is deterministic: no timestamps, no absolute paths, ``\n`` line endings on every platform,
so the same sources give the same bytes (the frozen entries carry one fixed date, FROZEN_DATE).
``prebuilt/`` holds a committed build for producers without Python; a test checks it equals a fresh build.
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PREBUILT = HERE / "prebuilt"  # the committed device (DittoLive.amxd + its js)
PATCHER = HERE / "src" / "DittoLive.maxpat"
PROTOCOL = REPO / "ditto_live" / "protocol.json"
JS_SOURCES = ("protocol.js", "clip.js", "live.js", "link.js", "persist.js", "reader.js", "settings.js", "tracks.js",
              "review.js", "controller.js", "max_main.js")  # concatenation order: each after what it uses
JS_NAME = "ditto_live_device.js"
DEVICE_NAME = "DittoLive.amxd"
DEVICE_TYPES = {b"mmmm": "midi effect", b"aaaa": "audio effect", b"iiii": "instrument"}
FROZEN_MAGIC = b"mx@c"
FROZEN_META = 7  # the meta chunk's value in devices Max froze (maxdevtools' FrozenTest.amxd); unfrozen ones have 0/1
# Every frozen entry's modification date: fixed, so that builds are byte-identical (HFS+ seconds since 1904).
FROZEN_DATE = 3850070400  # 2026-01-01 00:00:00 UTC
DEVICE_FLAG = 0x11  # the flags Max writes on a frozen device's own entry (the patcher); 0 on its dependencies


class AmxdError(ValueError):
    """A .amxd file or the patcher inside it is malformed."""


def chunk(tag: bytes, data: bytes) -> bytes:
    """One container chunk: 4-byte tag, little-endian uint32 size, data."""
    return tag + struct.pack("<I", len(data)) + data


def patcher_bytes(patcher: dict) -> bytes:
    """The patcher JSON as the device stores it (NUL-terminated)."""
    return json.dumps(patcher, indent=1, ensure_ascii=False).encode("utf-8") + b"\n\x00"


def amxd_bytes(patcher: dict, device_type: bytes = b"mmmm") -> bytes:
    """An unfrozen .amxd container around a patcher dict (its files must sit beside it)."""
    return chunk(b"ampf", device_type) + chunk(b"meta", struct.pack("<I", 0)) + chunk(b"ptch", patcher_bytes(patcher))


def field(tag: bytes, data: bytes) -> bytes:
    """One field of a frozen entry: tag, big-endian uint32 size (header included), data."""
    return tag + struct.pack(">I", 8 + len(data)) + data


def dire(kind: bytes, name: str, offset: int, size: int, flag: int) -> bytes:
    """A frozen entry: the file's type, its name NUL-padded to a multiple of 4, size, offset, version, flags, date."""
    raw = name.encode("utf-8")
    fnam = raw + b"\x00" * (4 - len(raw) % 4)
    body = (field(b"type", kind) + field(b"fnam", fnam) + field(b"sz32", struct.pack(">I", size))
            + field(b"of32", struct.pack(">I", offset)) + field(b"vers", struct.pack(">I", 0))
            + field(b"flag", struct.pack(">I", flag)) + field(b"mdat", struct.pack(">I", FROZEN_DATE)))
    return b"dire" + struct.pack(">I", 8 + len(body)) + body


def frozen_ptch(patcher: dict, files: list[tuple[str, bytes, bytes]]) -> bytes:
    """A frozen ptch: the patcher first, then files [(name, 4-byte type, data)], then the dlst footer."""
    entries = [(DEVICE_NAME, b"JSON", patcher_bytes(patcher), DEVICE_FLAG)] + [(n, k, d, 0) for n, k, d in files]
    blob, footer, at = b"", b"", 16
    for name, kind, data, flag in entries:
        footer += dire(kind, name, at, len(data), flag)
        blob += data
        at += len(data)
    footer = b"dlst" + struct.pack(">I", 8 + len(footer)) + footer
    return FROZEN_MAGIC + struct.pack(">I", 16) + struct.pack(">Q", 16 + len(blob)) + blob + footer


def frozen_amxd_bytes(patcher: dict, files: list[tuple[str, bytes, bytes]], device_type: bytes = b"mmmm") -> bytes:
    """The frozen .amxd: one file that carries the patcher and its dependencies."""
    return (chunk(b"ampf", device_type) + chunk(b"meta", struct.pack("<I", FROZEN_META))
            + chunk(b"ptch", frozen_ptch(patcher, files)))


def frozen_files(ptch: bytes) -> dict[str, bytes]:
    """{name: data} of a frozen ptch, in footer order (the device's own patcher first)."""
    if ptch[:4] != FROZEN_MAGIC or len(ptch) < 16:
        raise AmxdError("not a frozen ptch (no mx@c header)")
    footer = struct.unpack(">Q", ptch[8:16])[0]
    if ptch[footer:footer + 4] != b"dlst" or struct.unpack(">I", ptch[footer + 4:footer + 8])[0] != len(ptch) - footer:
        raise AmxdError("frozen device without a whole dlst footer")
    files, at = {}, footer + 8
    while at < len(ptch):
        size = struct.unpack(">I", ptch[at + 4:at + 8])[0]
        fields, f = {}, at + 8
        while f < at + size:
            fsize = struct.unpack(">I", ptch[f + 4:f + 8])[0]
            fields[ptch[f:f + 4]] = ptch[f + 8:f + fsize]
            f += fsize
        offset, length = struct.unpack(">I", fields[b"of32"])[0], struct.unpack(">I", fields[b"sz32"])[0]
        if offset + length > footer:
            raise AmxdError("a frozen entry runs into the footer")
        files[fields[b"fnam"].rstrip(b"\x00").decode("utf-8")] = ptch[offset:offset + length]
        at += size
    return files


def amxd_chunks(data: bytes) -> dict[bytes, bytes]:
    """The container's chunks {tag: data}; raises AmxdError on a truncated file."""
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
    return chunks


def embedded_files(data: bytes) -> dict[str, bytes]:
    """The files a frozen .amxd carries ({} when it is not frozen)."""
    ptch = amxd_chunks(data)[b"ptch"]
    return frozen_files(ptch) if ptch[:4] == FROZEN_MAGIC else {}


def parse_amxd(data: bytes) -> tuple[str, dict]:
    """(device type, patcher dict) of a .amxd, frozen or not; raises AmxdError when it does not parse."""
    chunks = amxd_chunks(data)
    ptch = chunks[b"ptch"]
    if ptch[:4] == FROZEN_MAGIC:
        ptch = next(iter(frozen_files(ptch).values()), b"")  # the device's own patcher comes first
    body = ptch.rstrip(b"\x00")
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


def check_patcher(patcher: dict, folder: Path | None, embedded: dict[str, bytes] | None = None) -> None:
    """Lines join existing boxes within their inlet/outlet counts; referenced files are frozen inside the
    device (embedded) or sit in folder."""
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
        if name in (embedded or {}):
            continue
        if folder is None or not (folder / name).is_file():
            raise AmxdError(f"the patcher references {name!r}, which is neither frozen in the device nor in {folder}")
    check_midi_passthrough(p, boxes)
    longnames = [b["saved_attribute_attributes"]["valueof"]["parameter_longname"]
                 for b in boxes.values() if is_parameter(b)]
    if len(longnames) != len(set(longnames)):
        raise AmxdError(f"duplicate parameter names: {sorted(longnames)}")
    check_parameter_ranges(boxes)


LIVE_INT_VALUES = 256  # Live's Int parameter type holds at most this many values (0-255)


def check_parameter_ranges(boxes: dict) -> None:
    """Refuse an Int parameter wider than Live's Int type: Cycling '74's parameter reference says Live's
    integers are limited to a range of 0-255, and a wider range must be a Float with the Int unit style."""
    for b in boxes.values():
        v = b.get("saved_attribute_attributes", {}).get("valueof", {})
        if not is_parameter(b) or v.get("parameter_type") != 1:
            continue
        low, high = float(v.get("parameter_mmin", 0)), float(v.get("parameter_mmax", 127))
        if high - low + 1 > LIVE_INT_VALUES:
            raise AmxdError(f"Int parameter {v['parameter_longname']!r} spans {high - low + 1:.0f} values; Live's Int "
                            f"holds {LIVE_INT_VALUES}: make it a Float with the Int unit style (parameter_unitstyle 0)")


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


def check_js(path: Path, code: bytes) -> None:
    """node --check the built js when node is installed (it parses what Max's js will parse)."""
    node = shutil.which("node")
    if node is None:
        return
    path.write_bytes(code)
    result = subprocess.run([node, "--check", str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        raise AmxdError(f"{path.name} does not parse: {result.stderr.strip()}")


def build(out: Path, protocol: Path = PROTOCOL, with_js: bool = False, frozen: bool = True) -> Path:
    """Write the device into ``out`` and validate it; returns the .amxd path. frozen: the js inside the
    device (with_js: also beside it); not frozen: the js beside it, where the device looks for it."""
    out.mkdir(parents=True, exist_ok=True)
    js = device_js(protocol.read_text(encoding="utf-8")).encode("utf-8")
    with tempfile.TemporaryDirectory() as tmpdir:
        check_js(Path(tmpdir) / JS_NAME, js)
    patcher = json.loads(PATCHER.read_text(encoding="utf-8"))
    if with_js or not frozen:
        (out / JS_NAME).write_bytes(js)
    amxd = out / DEVICE_NAME
    tmp = amxd.with_suffix(".amxd.tmp")
    tmp.write_bytes(frozen_amxd_bytes(patcher, [(JS_NAME, b"TEXT", js)]) if frozen else amxd_bytes(patcher))
    kind, parsed = parse_amxd(tmp.read_bytes())
    embedded = embedded_files(tmp.read_bytes())
    if kind != "midi effect" or parsed != patcher or (frozen and embedded.get(JS_NAME) != js):
        raise AmxdError("the written device does not read back as the patcher and its js")
    check_patcher(parsed, None if frozen else out, embedded)
    tmp.replace(amxd)
    return amxd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "build", help="output folder (default: %(default)s)")
    parser.add_argument("--protocol", type=Path, default=PROTOCOL,
                        help="the protocol table to embed (default: %(default)s)")
    parser.add_argument("--with-js", action="store_true",
                        help=f"also write {JS_NAME} beside the device (to edit it unfrozen in Max)")
    parser.add_argument("--unfrozen", action="store_true",
                        help=f"write an unfrozen device that loads {JS_NAME} from beside it (a fallback)")
    args = parser.parse_args(argv)
    try:
        amxd = build(args.out, args.protocol, args.with_js, frozen=not args.unfrozen)
    except AmxdError as exc:
        sys.stderr.write(f"build_amxd: {exc}\n")
        return 1
    what = f"unfrozen, {JS_NAME} beside it" if args.unfrozen else f"frozen, {JS_NAME} inside" + (
        ", and beside it" if args.with_js else "")
    sys.stdout.write(f"wrote {amxd} ({what})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
