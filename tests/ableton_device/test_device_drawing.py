"""The device's drawing in docs/ableton.md (ableton_device/device.svg) shows the committed patcher."""

from __future__ import annotations

import importlib.util
import json

from tests.ableton_device.conftest import DEVICE


def _draw():
    spec = importlib.util.spec_from_file_location("draw_device", DEVICE / "tools" / "draw_device.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_drawing_matches_the_patcher():
    """Else: python3 ableton_device/tools/draw_device.py, and commit device.svg."""
    draw = _draw()
    fresh = draw.render(json.loads((DEVICE / "src" / "DittoLive.maxpat").read_text(encoding="utf-8")))
    assert (DEVICE / "device.svg").read_text(encoding="utf-8") == fresh


def test_drawing_shows_every_button_of_the_device():
    svg = (DEVICE / "device.svg").read_text(encoding="utf-8")
    for label in ("Generate", "Cancel", "Check Server", "Audition", "Place", "Show file", "Review first", "Target"):
        assert f">{label}" in svg, label
