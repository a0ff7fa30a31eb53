/*
 * max_main.js — the glue between Max's `js` object and the controller (controller.js).
 *
 * Only Max-specific things live here: inlets/outlets, LiveAPI, Task timers, and one function per
 * message the patcher sends (`generate`, `cancel`, `intensity 0.5`, `text ...`, OSC replies from
 * udpreceive arrive as `anything` with the OSC address as the message name; values saved with the
 * set arrive as `restore_target`, `restore_host`, `restore_caption` from their pattr objects). The
 * build script concatenates, in order: the protocol table (`var DITTO_PROTOCOL = {...};`),
 * protocol.js, clip.js, live.js, link.js, persist.js, reader.js, controller.js and this file into
 * one ditto_live_device.js.
 *
 * Outlets: 0 -> udpsend (OSC messages, host/port), 1 -> UI (route by first word), 2 -> udpreceive,
 * 3 -> the probe udpsend (127.0.0.1, our own reply port: is udpreceive really receiving? see link.js).
 */
/* global DITTO_PROTOCOL, DittoController, LiveAPI, Task, post, outlet, arrayfromargs, messagename, jsarguments */
autowatch = 0;
inlets = 1;
outlets = 4;

var ctl = null;
var pending = []; // settings and saved values that arrived before init (output as the device loads)
var jobCounter = 0;
var tracksObserver = null;

function makeController() {
    return DittoController.create({
        table: DITTO_PROTOCOL,
        api: function (path) { return new LiveAPI(path); },
        send: function (msg) { outlet(0, msg); },
        net: function (which, msg) { outlet(which === "udpsend" ? 0 : 2, msg); },
        ui: function (msg) { outlet(1, msg); },
        probe: function (msg) { outlet(3, msg); },
        clock: {
            after: function (ms, fn) {
                var t = new Task(fn, this);
                t.schedule(ms);
                return t;
            },
            cancel: function (t) { t.cancel(); }
        },
        newJobId: function () {
            jobCounter += 1;
            return "dl" + new Date().getTime().toString(36) + jobCounter;
        }
    });
}

function guard(fn) {
    if (!ctl) {
        post("ditto: device not ready yet (waiting for live.thisdevice)\n");
        return;
    }
    try {
        fn();
    } catch (e) {
        outlet(1, ["status", "set", "Error: " + e.message]);
        post("ditto: " + e.message + "\n");
    }
}

// live.thisdevice bangs when the Live API is usable, and again on a preset load or a device save: then
// the same controller (its settings, saved values, job and heartbeat) just re-reads Live.
function init() {
    if (ctl) {
        guard(function () { ctl.init(); });
        return;
    }
    ctl = makeController();
    for (var i = 0; i < pending.length; i++) {
        guard(pending[i]);
    }
    pending = [];
    ctl.init();
    tracksObserver = new LiveAPI(function () { guard(function () { ctl.refreshTracks(); }); }, "live_set");
    tracksObserver.property = "tracks";
}

function generate() { guard(function () { ctl.generate(); }); }
function cancel() { guard(function () { ctl.cancel(); }); }
function audition() { guard(function () { ctl.audition(); }); }
function place() { guard(function () { ctl.place(); }); }
function ping() { guard(function () { ctl.ping(); }); }
function reveal() { guard(function () { ctl.reveal(); }); }
function refresh() { guard(function () { ctl.refreshTracks(); }); }

function setting(name, value) {
    var apply = function () { ctl.set(name, value); };
    if (!ctl) {
        pending.push(apply);
        return;
    }
    guard(apply);
}

// A value saved with the set, as its pattr outputs it (see persist.js).
function restoring(name, args) {
    var atoms = arrayfromargs(args);
    var apply = function () { ctl.restore(name, atoms); };
    if (!ctl) {
        pending.push(apply);
        return;
    }
    guard(apply);
}

function restore_target() { restoring("target", arguments); }
function restore_host() { restoring("host", arguments); }
function restore_caption() { restoring("caption", arguments); }

function intensity(v) { setting("intensity", v); }
function use_melody(v) { setting("use_melody", v); }
function use_intensity(v) { setting("use_intensity", v); }
function genre(v) { setting("genre", v); }
function mood(v) { setting("mood", v); }
function instrument(v) { setting("instrument", v); }
function quality(v) { setting("quality", v); }
function mode(v) { setting("mode", v); }
function seed(v) { setting("seed", v); }
function target(v) { setting("target", v); }
function port(v) { setting("port", v); }
function reply_port(v) { setting("reply_port", v); }
function review(v) { setting("review", v); }
function max_datagram(v) { setting("max_datagram", v); } // not in the UI: send "max_datagram 4000" to the js
function sample_rate_out(v) { setting("sample_rate_out", v); } // 0 (model rate), 22050, 44100 or 48000

// textedit sends "text word word ..."; an empty field sends "text" alone.
function text() {
    var words = arrayfromargs(arguments);
    setting("caption", words.join(" "));
}

function host() {
    var words = arrayfromargs(arguments);
    if (words.length) {
        setting("host", String(words[0]));
    }
}

// Max calls this when the device is deleted (or the set closes).
function notifydeleted() {
    if (ctl) {
        guard(function () { ctl.close(); });
    }
}

// Replies from udpreceive: the OSC address is the message name.
function anything() {
    var args = arrayfromargs(arguments);
    if (String(messagename).charAt(0) !== "/") {
        post("ditto: unknown message " + messagename + "\n");
        return;
    }
    guard(function () { ctl.onMessage(String(messagename), args); });
}
