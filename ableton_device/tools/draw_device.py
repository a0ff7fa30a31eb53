"""Draw the device as Live shows it (presentation mode) into ``ableton_device/device.svg``.

A layout drawing made from the patcher's presentation rectangles and the controls' labels and initial
values, not a screenshot (no Live runs where this is built). docs/ableton.md shows it; a test checks the
committed drawing matches the patcher.

    python ableton_device/tools/draw_device.py
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
PATCHER = HERE / "src" / "DittoLive.maxpat"
OUT = HERE / "device.svg"
DEVICE_HEIGHT = 169  # Live's device view is 169 pixels high
FONT = "font-family='Arial, Helvetica, sans-serif'"


def _text(x: float, y: float, s: str, size: float = 9.0, fill: str = "#111", anchor: str = "start") -> str:
    return f"<text x='{x:g}' y='{y:g}' {FONT} font-size='{size:g}' fill='{fill}' text-anchor='{anchor}'>{escape(s)}</text>"


def _rect(x: float, y: float, w: float, h: float, fill: str, stroke: str = "#555", rx: float = 2) -> str:
    return f"<rect x='{x:g}' y='{y:g}' width='{w:g}' height='{h:g}' rx='{rx:g}' fill='{fill}' stroke='{stroke}'/>"


def _fit(s: str, width: float, size: float = 8.5) -> str:
    """The text cut to what fits a box this wide (about 0.55 em a character), as the box would clip it."""
    room = max(1, int((width - 6) / (0.55 * size)))
    return s if len(s) <= room else s[:room - 1] + "…"


def _initial(box: dict) -> str:
    v = box.get("saved_attribute_attributes", {}).get("valueof", {})
    value = (v.get("parameter_initial") or [0])[0]
    if v.get("parameter_enum") and box["maxclass"] == "live.menu":
        return v["parameter_enum"][int(value)]
    return f"{value:g}" + (" dB" if v.get("parameter_unitstyle") == 4 else "")


def draw_box(box: dict) -> list[str]:
    """SVG elements for one presentation box."""
    x, y, w, h = box["presentation_rect"]
    kind = box["maxclass"]
    if kind == "live.dial":
        r = min(w, h - 14) / 2
        return [f"<circle cx='{x + w / 2:g}' cy='{y + r + 1:g}' r='{r - 2:g}' fill='#ddd' stroke='#555'/>",
                _text(x + w / 2, y + r + 4, _initial(box), 8, anchor="middle"),
                _text(x + w / 2, y + h - 2, box["saved_attribute_attributes"]["valueof"]["parameter_longname"], 8.5,
                      anchor="middle")]
    if kind == "live.text":
        on = box.get("mode") == 1 and box.get("saved_attribute_attributes", {}).get("valueof", {}).get(
            "parameter_initial", [0])[0] == 1
        return [_rect(x, y, w, h, "#f2c14e" if on else "#e6e6e6"),
                _text(x + w / 2, y + h / 2 + 3.5, box.get("text", ""), 9, anchor="middle")]
    if kind in ("live.numbox", "live.menu", "umenu"):
        label = "Target ▾" if kind == "umenu" else _initial(box) + (" ▾" if kind == "live.menu" else "")
        return [_rect(x, y, w, h, "#fafafa"), _text(x + 4, y + h / 2 + 3.5, label, 8.5)]
    if kind == "textedit":
        hint = box.get("text") or box.get("hint", "")
        return [_rect(x, y, w, h, "#fff"),
                _text(x + 4, y + h / 2 + 3.5, _fit(hint, w), 8.5, "#111" if box.get("text") else "#888")]
    if kind == "slider":
        return [_rect(x, y, w, h, "#eee", rx=1), _rect(x, y, w * 0.45, h, "#6aa0d8", rx=1)]
    if kind == "comment":
        return [_text(x, y + 10, box.get("text", ""), 8.5)]
    return []


def render(patcher: dict) -> str:
    boxes = [b["box"] for b in patcher["patcher"]["boxes"] if b["box"].get("presentation")]
    width = max(b["presentation_rect"][0] + b["presentation_rect"][2] for b in boxes) + 6
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width:g}' height='{DEVICE_HEIGHT}' "
             f"viewBox='0 0 {width:g} {DEVICE_HEIGHT}'>",
             "<title>DittoLive in Live's device view: a layout drawn from the patcher, not a screenshot</title>",
             _rect(0, 0, width, DEVICE_HEIGHT, "#c9c9c9", "#888", 0)]
    for box in boxes:
        parts.extend(draw_box(box))
    return "\n".join(parts + ["</svg>"]) + "\n"


if __name__ == "__main__":
    OUT.write_text(render(json.loads(PATCHER.read_text(encoding="utf-8"))), encoding="utf-8")
    print(f"wrote {OUT}")
