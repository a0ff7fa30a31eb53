"""The patcher and the device's JS agree: menus, messages into the js object, UI messages out of it."""

from __future__ import annotations

import json
import re

import pytest

from tests.ableton_device.conftest import DEVICE


@pytest.fixture(scope="module")
def patcher():
    return json.loads((DEVICE / "src" / "DittoLive.maxpat").read_text(encoding="utf-8"))["patcher"]


def _boxes(patcher):
    return {b["box"]["id"]: b["box"] for b in patcher["boxes"]}


def test_menus_list_exactly_the_js_choices(patcher, node_eval):
    choices = node_eval("process.stdout.write(JSON.stringify(require('./src/clip.js').CHOICES))")
    menus = {b["saved_attribute_attributes"]["valueof"]["parameter_longname"].lower():
             b["saved_attribute_attributes"]["valueof"]["parameter_enum"]
             for b in _boxes(patcher).values() if b["maxclass"] == "live.menu"}
    assert menus == {k: v["labels"] for k, v in choices.items()}


def test_every_message_into_the_js_object_has_a_handler(patcher):
    boxes = _boxes(patcher)
    js_id = next(i for i, b in boxes.items() if str(b.get("text", "")).startswith("js "))
    code = (DEVICE / "src" / "max_main.js").read_text(encoding="utf-8")
    handlers = set(re.findall(r"^function (\w+)\(", code, re.M))
    senders = [boxes[line["patchline"]["source"][0]] for line in patcher["lines"]
               if line["patchline"]["destination"][0] == js_id]
    names = set()
    for b in senders:
        text = str(b.get("text", ""))
        if b["maxclass"] == "message":
            names.add(text.split()[0])
        elif text.startswith("prepend "):
            names.add(text.split()[1])
        elif b["maxclass"] == "textedit":
            names.add("text")
        elif text in ("deferlow",):
            names.add("anything")  # OSC replies: the address is the message name
    assert names >= {"init", "generate", "cancel", "intensity", "text", "anything", "target"}
    assert names <= handlers, f"no js function for {sorted(names - handlers)}"


def test_ui_route_covers_exactly_what_the_controller_emits(patcher):
    route = next(b for b in _boxes(patcher).values() if str(b.get("text", "")).startswith("route status"))
    routed = set(route["text"].split()[1:])
    emitters = ("controller.js", "link.js", "tracks.js", "review.js")  # the sources that send UI messages
    code = "".join((DEVICE / "src" / name).read_text(encoding="utf-8") for name in emitters)
    emitted = set(re.findall(r'ui\(\["(\w+)"', code))
    assert routed == emitted


def test_the_intensity_dial_is_a_db_parameter_named_as_live_js_looks_it_up(patcher):
    code = (DEVICE / "src" / "live.js").read_text(encoding="utf-8")
    name = re.search(r'INTENSITY_PARAM = "(\w+)"', code).group(1)
    dial = next(b for b in _boxes(patcher).values() if b["maxclass"] == "live.dial")
    v = dial["saved_attribute_attributes"]["valueof"]
    assert v["parameter_longname"] == name
    assert (v["parameter_mmin"], v["parameter_mmax"], v["parameter_unitstyle"]) == (-60.0, 0.0, 4)


def test_tag_menus_offer_only_tags_the_corpus_uses(node_eval):
    from ditto_live.data import arrange, sources  # the corpus builder defines the tag vocabulary
    choices = node_eval("process.stdout.write(JSON.stringify(require('./src/clip.js').CHOICES))")
    genres = {g for _, g in sources.SOURCES.values()} | {arrange.DRUM_GENRE}
    assert set(choices["genre"]["values"]) - {""} <= genres
    assert set(choices["instrument"]["values"]) - {""} <= set(arrange.FAMILIES)
    assert set(choices["mood"]["values"]) - {""} == {"major", "minor"}


def test_buttons_fire_once_per_click_and_init_never_presses_or_flips_them(patcher):
    boxes = _boxes(patcher)
    trig = next(i for i, b in boxes.items() if b.get("text") == "t b b")
    banged = [boxes[ln["patchline"]["destination"][0]] for ln in patcher["lines"] if ln["patchline"]["source"][0] == trig]
    assert banged and all(b["maxclass"] != "live.text" for b in banged)
    assert all(b["maxclass"] != "umenu" for b in banged), "a bang on the Target menu would save a stand-in (issue 30)"
    for i, b in boxes.items():
        if b["maxclass"] == "live.text" and b.get("mode") == 0:  # button mode: one bang per click
            (dst,) = [boxes[ln["patchline"]["destination"][0]] for ln in patcher["lines"] if ln["patchline"]["source"][0] == i]
            assert dst["maxclass"] == "message" and dst["text"] in ("generate", "cancel", "ping", "reveal", "audition", "place")
