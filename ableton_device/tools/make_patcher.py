"""Write ``ableton_device/src/DittoLive.maxpat``, the device's patcher, from the table below.

The committed ``DittoLive.maxpat`` is the source the build uses; this script is how it was laid
out without a Max licence, and a way to regenerate it after changing the controls here. Once the
patcher has been edited in Max (Open ``DittoLive.maxpat``, edit, save), edit it there instead.

Wiring: live.thisdevice -> [t b b] -> "init" to the js object, then a bang to the controls that
re-output their value on a bang (dial, number boxes, menus); settings that arrive before init are
kept by the js and applied at init. Controls -> [prepend <setting>] -> js. js outlet 0 -> udpsend
(OSC + host/port), outlet 1 -> [route ...] -> the UI objects, outlet 2 -> udpreceive (port), outlet 3 ->
a second udpsend to 127.0.0.1:<reply port> (the probe that tells a stopped server from a reply port that
is not ours).
udpreceive -> [deferlow] -> js, so Live is only touched from the low-priority thread.
MIDI passes through unchanged: midiin -> midiout (a MIDI effect that does not pass MIDI on silences
its track). What is saved with the set beyond the Live parameters (target track, server host,
caption) lives in blob pattr objects: js -> [route store_*] -> pattr, pattr -> [prepend restore_*] -> js.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
JS_NAME = "ditto_live_device.js"


# Live's Info View text for every control (the box's annotation), shown while the mouse is over it.
INFO = {
    "Intensity": "Target loudness of the result (smoothed RMS, dB). Automate it in a session clip's envelope "
                 "to shape the level over the clip; otherwise this value holds for the whole clip.",
    "Melody": "On: the clip's unmuted notes inside the loop brace become the melody the result follows.",
    "Use Intensity": "On: send the Intensity target (envelope or dial). Off: loudness is left to the model.",
    "Seed": "Random seed. The same seed and settings give the same clip; change it for another take.",
    "Genre": "Genre tag for the model (Any: none).",
    "Mood": "Mood tag for the model (Any: none).",
    "Instrument": "Instrument tag for the model (Any: none).",
    "Quality": "Draft is fastest; Normal uses each control's default steps; High optimises longer; "
               "DITTO (slow) is the original method, for comparison.",
    "Mode": "New: generate the loop. Inpaint: regenerate the loop brace inside the audio clip beside this one "
            "on the target track. Continue: continue that clip. Loop: a seamless loop.",
    "Target": "The audio track that receives results. A saved track that is missing shows as (missing) "
              "until you pick another.",
    "Caption": "Describe the sound (text control). Press Enter to apply.",
    "Generate": "Read this track's clip and send the job to ditto-live serve.",
    "Cancel": "Stop the running or queued job, or stop reading the clip.",
    "Check Server": "Check the server now; the outcome shows on the status line.",
    "Audition": "Play the waiting result on the target track (a preview clip in an empty scene slot); "
                "press again to stop it.",
    "Place": "Put the waiting result on the target track, as without Review first, and remove the preview clip.",
    "Review": "On: a finished result waits for Audition and Place. Off: it lands on the target track at once.",
    "Show File": "Open the folder of the last result. Drag the WAV onto a track when Live could not place it.",
    "Result": "The last WAV the server wrote.",
    "Status": "What the device is doing, the job's progress, and any error in words.",
    "Server line": "The server's state: checking, not running, reply port not receiving, connected, "
                   "warming up, ready, or protocol mismatch.",
    "Server": "The computer ditto-live serve runs on (default 127.0.0.1: this one).",
    "Port": "The UDP port ditto-live serve listens on (default 9010, --port).",
    "Reply Port": "The UDP port this device receives replies on (default 9011). Give each DittoLive its own.",
}


def choices() -> dict:
    """The menus' labels, read from clip.js so the patcher and the JS cannot drift apart."""
    out = subprocess.run(
        ["node", "-e", "process.stdout.write(JSON.stringify(require('./src/clip.js').CHOICES))"],
        cwd=HERE, check=True, capture_output=True, text=True,
    ).stdout
    return {k: v["labels"] for k, v in json.loads(out).items()}


class Patcher:
    def __init__(self) -> None:
        self.boxes: list[dict] = []
        self.lines: list[dict] = []
        self.parameters: dict[str, list] = {}

    def box(self, maxclass: str, rect: list[float], ins: int, outs: int, outtypes: list[str] | None = None,
            pres: list[float] | None = None, **attrs) -> str:
        oid = f"obj-{len(self.boxes) + 1}"
        b = {"id": oid, "maxclass": maxclass, "numinlets": ins, "numoutlets": outs,
             "patching_rect": [float(v) for v in rect]}
        if outs:
            b["outlettype"] = outtypes or [""] * outs
        if pres is not None:
            b["presentation"] = 1
            b["presentation_rect"] = [float(v) for v in pres]
        b.update(attrs)
        self.boxes.append({"box": b})
        return oid

    def obj(self, text: str, rect: list[float], ins: int, outs: int, outtypes: list[str] | None = None, **a) -> str:
        return self.box("newobj", rect, ins, outs, outtypes, text=text, **a)

    def param(self, maxclass: str, rect, ins, outs, outtypes, pres, name: str, ptype: int, visibility: int = 0,
              info: str = "", **valueof) -> str:
        """A Live parameter object; ptype 0 float, 1 int, 2 enum. visibility 0 automatable, 1 stored, 2 hidden.

        info: the text Live's Info View shows while the mouse is over the control (annotation).
        Live's Int type holds at most 256 values: a wider integer range is a Float with the Int unit style
        (int_param), and build_amxd.py refuses an Int parameter over 256 values.
        """
        v = {"parameter_longname": name, "parameter_shortname": name[:12], "parameter_type": ptype,
             "parameter_invisible": visibility, **valueof}
        oid = self.box(maxclass, rect, ins, outs, outtypes, pres, parameter_enable=1, varname=name.replace(" ", "_"),
                       annotation=info, annotation_name=name, saved_attribute_attributes={"valueof": v})
        self.parameters[oid] = [name, name[:12], 0]
        return oid

    def int_param(self, rect, pres, name: str, low: int, high: int, initial: int, visibility: int, info: str) -> str:
        """A whole-number live.numbox over a range wider than Live's Int type: Float type, Int unit style (0)."""
        return self.param("live.numbox", rect, 1, 2, ["", "float"], pres, name, 0, visibility, info,
                          parameter_mmin=float(low), parameter_mmax=float(high), parameter_initial=[float(initial)],
                          parameter_initial_enable=1, parameter_unitstyle=0)

    def stored(self, name: str, varname: str, rect: list[float]) -> str:
        """A pattr in parameter mode holding a blob (any atoms), stored with the set, never automated."""
        v = {"parameter_longname": name, "parameter_shortname": name[:12], "parameter_type": 3,
             "parameter_invisible": 1}
        oid = self.obj("pattr @parameter_enable 1", rect, 1, 3, ["", "", ""], varname=varname,
                       saved_attribute_attributes={"valueof": v},
                       saved_object_attributes={"parameter_enable": 1, "parameter_mappable": 0})
        self.parameters[oid] = [name, name[:12], 0]
        return oid

    def line(self, src: str, outlet: int, dst: str, inlet: int = 0) -> None:
        self.lines.append({"patchline": {"source": [src, outlet], "destination": [dst, inlet]}})

    def label(self, text: str, pres: list[float]) -> str:
        return self.box("comment", [900, 20 * len(self.boxes), 100, 18], 1, 0, pres=pres, text=text, fontsize=9.5)


def build() -> dict:
    c = choices()
    p = Patcher()
    dev = p.obj("live.thisdevice", [20, 20, 90, 22], 1, 3, ["bang", "int", "int"])
    trig = p.obj("t b b", [20, 50, 40, 22], 1, 2, ["bang", "bang"])
    init = p.box("message", [70, 80, 35, 22], 2, 1, text="init")
    js = p.obj(f"js {JS_NAME}", [20, 420, 200, 22], 1, 4, saved_object_attributes={"filename": JS_NAME,
                                                                                  "parameter_enable": 0})
    p.line(dev, 0, trig)
    p.line(trig, 1, init)
    p.line(init, 0, js)

    controls: list[tuple[str, str, int]] = []  # (object id, setting name, outlet)

    # Column 1: intensity dial, control switches, seed.
    dial = p.param("live.dial", [20, 120, 60, 48], 1, 2, ["", "float"], [6, 4, 58, 48], "Intensity", 0,
                   info=INFO["Intensity"], parameter_mmin=-60.0, parameter_mmax=0.0, parameter_initial=[-20.0], parameter_initial_enable=1,
                   parameter_unitstyle=4)
    controls.append((dial, "intensity", 0))
    for i, (name, setting) in enumerate([("Melody", "use_melody"), ("Use Intensity", "use_intensity")]):
        t = p.param("live.text", [90 + 70 * i, 120, 60, 18], 1, 2, ["", ""], [6, 56 + 20 * i, 58, 17], name, 2,
                    info=INFO[name], parameter_enum=["off", "on"], parameter_mmax=1, parameter_initial=[1], parameter_initial_enable=1)
        p.boxes[-1]["box"].update({"mode": 1, "text": name.replace("Use ", ""), "texton": name.replace("Use ", "")})
        controls.append((t, setting, 0))
    p.label("Seed", [6, 98, 58, 15])
    seed = p.int_param([230, 120, 50, 15], [6, 114, 58, 15], "Seed", 0, 99999, 0, 0, INFO["Seed"])
    controls.append((seed, "seed", 0))

    # Column 2: the menus.
    for i, field in enumerate(["genre", "mood", "instrument", "quality", "mode"]):
        y = 4 + 19 * i
        p.label(field.capitalize(), [70, y, 58, 16])
        labels = c[field]
        m = p.param("live.menu", [300 + 110 * i, 120, 100, 15], 1, 3, ["", "", "float"], [128, y + 1, 100, 15],
                    field.capitalize(), 2, info=INFO[field.capitalize()], parameter_enum=labels, parameter_mmax=len(labels) - 1,
                    parameter_initial=[1 if field == "quality" else 0], parameter_initial_enable=1)
        controls.append((m, field, 0))
    p.label("Target", [70, 100, 58, 16])
    tracks = p.box("umenu", [20, 200, 120, 22], 1, 3, ["int", "", ""], [128, 101, 100, 17], items=[],
                   varname="target_track", annotation=INFO["Target"], annotation_name="Target")
    controls.append((tracks, "target", 0))

    # Column 3: caption, buttons, progress, status, result path, server settings.
    caption = p.box("textedit", [20, 240, 200, 22], 1, 4, ["", "int", "", ""], [236, 4, 318, 20],
                    varname="caption", hint="describe the sound (text control), press Enter", fontsize=10.0,
                    annotation=INFO["Caption"], annotation_name="Caption")
    p.line(caption, 0, js)  # textedit sends "text ...", which calls text() in the js
    buttons = []
    for i, (name, msg, rect) in enumerate([("Generate", "generate", [236, 28, 100, 22]),
                                           ("Cancel", "cancel", [342, 28, 70, 22]),
                                           ("Check Server", "ping", [418, 28, 136, 22])]):
        b = p.param("live.text", [20 + 110 * i, 280, 100, 20], 1, 2, ["", ""], rect, name, 2, 2,
                    info=INFO[name], parameter_enum=["off", "on"], parameter_mmax=1)
        p.boxes[-1]["box"].update({"mode": 0, "text": name, "texton": name})
        m = p.box("message", [20 + 110 * i, 330, 60, 22], 2, 1, text=msg)
        p.line(b, 0, m)  # a button-mode live.text sends one bang per click
        p.line(m, 0, js)
        buttons.append(b)
    progress = p.box("slider", [350, 280, 150, 16], 1, 1, [""], [236, 54, 318, 8], orientation=1, size=101.0,
                     ignoreclick=1, varname="progress")
    status = p.box("comment", [350, 300, 300, 30], 1, 0, pres=[236, 64, 318, 44], text="Loading...",
                   linecount=3, fontsize=9.5, varname="status", annotation=INFO["Status"], annotation_name="Status")
    path = p.box("textedit", [350, 340, 300, 22], 1, 4, ["", "int", "", ""], [236, 110, 118, 18], readonly=1,
                 fontsize=9.0, varname="result_path", hint="result WAV (drag it in on Live < 12.0.5)",
                 annotation=INFO["Result"], annotation_name="Result")
    show = p.param("live.text", [660, 340, 60, 20], 1, 2, ["", ""], [490, 110, 64, 18], "Show File", 2, 2,
                   info=INFO["Show File"], parameter_enum=["off", "on"], parameter_mmax=1)
    p.boxes[-1]["box"].update({"mode": 0, "text": "Show file", "texton": "Show file"})
    show_msg = p.box("message", [660, 390, 50, 22], 2, 1, text="reveal")
    p.line(show, 0, show_msg)
    p.line(show_msg, 0, js)
    # Review first: results wait for Audition (a preview clip played on the target track) and Place.
    for i, (name, msg, rect) in enumerate([("Audition", "audition", [358, 110, 62, 18]),
                                           ("Place", "place", [424, 110, 62, 18])]):
        b = p.param("live.text", [740 + 70 * i, 340, 60, 20], 1, 2, ["", ""], rect, name, 2, 2,
                    info=INFO[name], parameter_enum=["off", "on"], parameter_mmax=1)
        p.boxes[-1]["box"].update({"mode": 0, "text": name, "texton": name})
        m = p.box("message", [740 + 70 * i, 390, 60, 22], 2, 1, text=msg)
        p.line(b, 0, m)
        p.line(m, 0, js)
        buttons.append(b)
    review = p.param("live.text", [880, 340, 70, 20], 1, 2, ["", ""], [128, 120, 100, 13], "Review", 2, 1,
                     info=INFO["Review"], parameter_enum=["off", "on"], parameter_mmax=1, parameter_initial=[0],
                     parameter_initial_enable=1)
    p.boxes[-1]["box"].update({"mode": 1, "text": "Review first", "texton": "Review first"})
    controls.append((review, "review", 0))

    p.label("Server", [236, 132, 40, 16])
    host = p.box("textedit", [20, 370, 120, 22], 1, 4, ["", "int", "", ""], [276, 132, 90, 16], text="127.0.0.1",
                 fontsize=9.0, varname="host", annotation=INFO["Server"], annotation_name="Server")
    host_route = p.obj("route text", [20, 395, 60, 22], 2, 2)
    p.line(host, 0, host_route)
    controls.append((host_route, "host", 0))
    p.label("Port", [370, 132, 30, 16])
    port = p.int_param([150, 370, 50, 15], [400, 132, 50, 15], "Port", 1024, 65535, 9010, 1, INFO["Port"])
    controls.append((port, "port", 0))
    p.label("Reply", [456, 132, 34, 16])
    reply = p.int_param([210, 370, 50, 15], [490, 132, 50, 15], "Reply Port", 1024, 65535, 9011, 1,
                        INFO["Reply Port"])
    controls.append((reply, "reply_port", 0))

    # Controls -> [prepend setting] -> js. Live parameters output their restored values as the device
    # loads (the js keeps them until init); then the init trigger bangs the controls a bang re-outputs
    # without changing (not live.text: a bang would flip a toggle, or press a button; not the Target
    # umenu: the js fills and selects it, and its bang would save a stand-in over a missing saved target).
    for k, (oid, setting, outlet) in enumerate(controls):
        pre = p.obj(f"prepend {setting}", [20 + 100 * (k % 7), 450 + 25 * (k // 7), 95, 22], 1, 1)
        p.line(oid, outlet, pre)
        p.line(pre, 0, js)
        if oid == host_route:
            p.line(trig, 0, host)
        elif p.boxes[int(oid.split("-")[1]) - 1]["box"]["maxclass"] not in ("live.text", "umenu"):
            p.line(trig, 0, oid)

    # Network.
    send = p.obj("udpsend 127.0.0.1 9010", [20, 560, 140, 22], 1, 0)
    recv = p.obj("udpreceive 9011", [200, 560, 100, 22], 1, 1)
    defer = p.obj("deferlow", [200, 590, 60, 22], 1, 1)
    p.line(js, 0, send)
    p.line(js, 2, recv)
    p.line(recv, 0, defer)
    p.line(defer, 0, js)
    # The probe: the js sends a token to its own reply port; its return proves udpreceive holds the port.
    probe = p.obj("udpsend 127.0.0.1 9011", [320, 560, 140, 22], 1, 0)
    p.line(js, 3, probe)

    # MIDI passes through: the instrument after this device still gets the clip's and the player's notes.
    midi_in = p.obj("midiin", [800, 20, 50, 22], 1, 1, ["int"])
    midi_out = p.obj("midiout", [800, 60, 55, 22], 1, 0)
    p.line(midi_in, 0, midi_out)

    # The server's state (not running / connected / warming up / ready), kept current by the js.
    server = p.box("comment", [350, 620, 220, 18], 1, 0, pres=[6, 134, 222, 16], text="Server: checking...",
                   fontsize=9.0, varname="server_state", annotation=INFO["Server line"], annotation_name="Server line")

    # Saved with the set: pattr (blob) <- [route store_*] <- js, and pattr -> [prepend restore_*] -> js.
    stores = {}
    for k, (name, key) in enumerate([("Target Track", "target"), ("Server Host", "host"), ("Caption", "caption")]):
        pat = p.stored(name, f"saved_{key}", [800, 120 + 60 * k, 140, 22])
        back = p.obj(f"prepend restore_{key}", [800, 150 + 60 * k, 130, 22], 1, 1)
        p.line(pat, 0, back)
        p.line(back, 0, js)
        stores[key] = pat

    # UI feedback from the js.
    targets = ["status", "progress", "path", "tracks", "generate_active", "cancel_active", "reveal", "server",
               "store_target", "store_host", "store_caption", "host_text", "caption_text", "review_active"]
    route = p.obj("route " + " ".join(targets), [250, 450, 400, 22], 2, len(targets) + 1)
    p.line(js, 1, route)
    act_gen = p.obj("prepend active", [420, 480, 90, 22], 1, 1)
    act_can = p.obj("prepend active", [520, 480, 90, 22], 1, 1)
    launch = p.box("message", [620, 480, 160, 22], 2, 1, text=";\rmax launchbrowser $1")
    act_review = p.obj("prepend active", [620, 510, 90, 22], 1, 1)
    for i, dst in enumerate([status, progress, path, tracks, act_gen, act_can, launch, server, stores["target"],
                             stores["host"], stores["caption"], host, caption, act_review]):
        p.line(route, i, dst)
    p.line(act_gen, 0, buttons[0])
    p.line(act_can, 0, buttons[1])
    p.line(act_review, 0, buttons[3])  # Audition and Place are active while a result waits
    p.line(act_review, 0, buttons[4])

    return {"patcher": {
        "fileversion": 1,
        "appversion": {"major": 8, "minor": 6, "revision": 0, "architecture": "x64", "modernui": 1},
        "classnamespace": "box",
        "rect": [100.0, 100.0, 1000.0, 700.0],
        "openinpresentation": 1,
        "default_fontsize": 10.0,
        "default_fontname": "Arial Bold",
        "gridsize": [8.0, 8.0],
        "description": "DITTO-2 controllable generation: sends this clip's melody, loop and intensity to ditto-live",
        "digest": "ditto_live",
        "tags": "ditto_live",
        "boxes": p.boxes,
        "lines": p.lines,
        "parameters": {**p.parameters, "inherited_shortname": 1},
        "dependency_cache": [{"name": JS_NAME, "bootpath": ".", "patcherrelativepath": ".", "type": "TEXT",
                              "implicit": 1}],
        "latency": 0,
        "is_mpe": 0,
        "minimum_live_version": "",
        "minimum_max_version": "",
        "platform_compatibility": 0,
        "autosave": 0,
    }}


if __name__ == "__main__":
    target = HERE / "src" / "DittoLive.maxpat"
    target.write_text(json.dumps(build(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {target}")
