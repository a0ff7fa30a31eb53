// Replies, timeouts and buttons drive the device's UI state; it never stays greyed out.
"use strict";
var test = require("node:test");
var assert = require("node:assert/strict");
var path = require("node:path");
var fs = require("node:fs");
var Controller = require("../src/controller.js");
var support = require("../test_support/fake_live.js");

var TABLE = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "ditto_live", "protocol.json"), "utf8"));

function rig(liveSpec) {
    var live = support.fakeLive(Object.assign({
        version: [12, 1, 0], tempo: 120, detail: { track: 0, slot: 0 },
        tracks: [{ name: "Melody", midi: true, slots: { 0: { midi: true, looping: true, loop_start: 0, loop_end: 8,
            start_marker: 0, end_marker: 8, notes: [{ pitch: 60, start_time: 0, duration: 2 }, { pitch: 67, start_time: 2, duration: 2 }] } } },
        { name: "Out", midi: false }]
    }, liveSpec || {}));
    var r = { live: live, sent: [], net: [], ui: [], clock: support.fakeClock(), n: 0 };
    r.ctl = Controller.create({
        table: TABLE, api: live.api, clock: r.clock,
        send: function (m) { r.sent.push(m); },
        net: function (w, m) { r.net.push([w].concat(m)); },
        ui: function (m) { r.ui.push(m); },
        newJobId: function () { r.n += 1; return "job" + r.n; }
    });
    var onMessage = r.ctl.onMessage; // replies padded to the table's argument count (see padReply)
    r.ctl.onMessage = function (address, args) { return onMessage(address, support.padReply(TABLE, address, args)); };
    r.last = function (target) {
        for (var i = r.ui.length - 1; i >= 0; i--) {
            if (r.ui[i][0] === target) {
                return r.ui[i].slice(1);
            }
        }
        return null;
    };
    r.status = function () { var s = r.last("status"); return s ? s[1] : ""; };
    r.active = function () { return [r.last("generate_active")[0], r.last("cancel_active")[0]]; };
    r.ctl.init();
    return r;
}

function sentTo(r, address) {
    return r.sent.filter(function (m) { return m[0] === address; });
}

test("init configures udpsend/udpreceive, lists audio tracks, subscribes the reply port, shows Ready", function () {
    var r = rig();
    assert.deepEqual(r.net, [["udpsend", "host", "127.0.0.1"], ["udpsend", "port", 9010], ["udpreceive", "port", 9011]]);
    assert.deepEqual(sentTo(r, "/ditto/client/subscribe"), [["/ditto/client/subscribe", 9011]]);
    assert.deepEqual(r.last("tracks"), ["set", 0]);
    assert.ok(r.ui.some(function (m) { return m[0] === "tracks" && m[1] === "append" && m[2] === "Out"; }));
    assert.match(r.status(), /^Ready \(Live 12\.1\.0\)/);
    assert.deepEqual(r.active(), [1, 0]);
});

test("Generate sends one submit built from the table with the job JSON; accepted/progress/done drive the UI", function () {
    var r = rig();
    r.ctl.set("seed", 42);
    r.ctl.set("genre", 2);
    r.ctl.generate();
    var submit = sentTo(r, "/ditto/job/submit");
    assert.equal(submit.length, 1);
    assert.equal(submit[0].length, 3);
    assert.equal(submit[0][1], "job1");
    var spec = JSON.parse(submit[0][2]);
    assert.equal(spec.seed, 42);
    assert.equal(spec.bars, 2);
    assert.deepEqual(spec.tags, { genre: "folk" });
    assert.deepEqual(spec.controls[0].notes, [[60, 0, 2], [67, 2, 2]]);
    assert.equal(r.ctl.state(), "submitting");
    assert.deepEqual(r.active(), [0, 1], "Generate greyed, Cancel live");

    r.ctl.onMessage("/ditto/job/accepted", ["job1", 1]);
    assert.equal(r.ctl.state(), "queued");
    assert.match(r.status(), /Queued behind 1/);
    r.ctl.onMessage("/ditto/job/progress", ["job1", "optimise", 35, 70, 0.25]);
    assert.equal(r.ctl.state(), "running");
    assert.deepEqual(r.last("progress"), [45]);
    assert.match(r.status(), /Optimising 35\/70 \(loss 0\.250\)/);
    r.ctl.onMessage("/ditto/job/progress", ["job1", "decode", 1, 2, 0]);
    assert.deepEqual(r.last("progress"), [89]);

    r.ctl.onMessage("/ditto/job/done", ["job1", "/home/me/ditto_live_out/live-1.wav", "{\"seed\": 42}"]);
    assert.equal(r.ctl.state(), "idle");
    assert.deepEqual(r.active(), [1, 0]);
    assert.deepEqual(r.last("progress"), [100]);
    assert.deepEqual(r.last("path"), ["set", "/home/me/ditto_live_out/live-1.wav"]);
    assert.match(r.status(), /Done: 'ditto 42' in scene 1/);
    var create = r.live.calls.filter(function (c) { return c.method === "create_audio_clip"; });
    assert.deepEqual(create[0].args, ["/home/me/ditto_live_out/live-1.wav"]);
    assert.equal(create[0].path, "live_set tracks 1 clip_slots 0");
    assert.equal(r.clock.pending(), 1, "no job timer left running: only the server heartbeat");
});

test("an error reply ends the job with its message and re-enables Generate", function () {
    var r = rig();
    r.ctl.generate();
    r.ctl.onMessage("/ditto/job/accepted", ["job1", 0]);
    r.ctl.onMessage("/ditto/job/error", ["job1", "bad_request", "controls[0].notes: expected a non-empty list"]);
    assert.equal(r.ctl.state(), "idle");
    assert.deepEqual(r.active(), [1, 0]);
    assert.equal(r.status(), "Error (bad_request): controls[0].notes: expected a non-empty list");
    r.ctl.generate();
    r.ctl.onMessage("/ditto/job/error", ["job2", "busy", "queue full"]);
    assert.match(r.status(), /queue is full/);
    assert.deepEqual(r.active(), [1, 0]);
});

test("no answer at all: a clear timeout message and the device is usable again", function () {
    var r = rig();
    r.ctl.generate();
    r.clock.advance(4999);
    assert.equal(r.ctl.state(), "submitting");
    r.clock.advance(1);
    assert.equal(r.ctl.state(), "idle");
    assert.deepEqual(r.active(), [1, 0]);
    assert.match(r.status(), /no answer from the server at 127\.0\.0\.1:9010 within 5 s \(is `ditto-live serve` running, and is the reply port 9011 free\?\)\. The job was cancelled\./);
    assert.deepEqual(sentTo(r, "/ditto/job/cancel"), [["/ditto/job/cancel", "job1"]],
        "a server that got the job but cannot reach us stops computing it (issue 30, finding 7)");
    // A late reply for the abandoned job changes nothing.
    r.ctl.onMessage("/ditto/job/done", ["job1", "/x.wav", "{}"]);
    assert.equal(r.live.calls.filter(function (c) { return c.method === "create_audio_clip"; }).length, 0);
});

test("a stalled job: the device asks its state once, keeps waiting if running, gives up if silent", function () {
    var r = rig();
    r.ctl.generate();
    r.ctl.onMessage("/ditto/job/accepted", ["job1", 0]);
    r.clock.advance(120000);
    assert.deepEqual(sentTo(r, "/ditto/job/status"), [["/ditto/job/status", "job1"]]);
    r.ctl.onMessage("/ditto/job/state", ["job1", "running"]);
    assert.equal(r.ctl.state(), "queued");
    r.clock.advance(120000 + 5000);
    assert.equal(r.ctl.state(), "idle");
    assert.match(r.status(), /stopped answering/);
    assert.deepEqual(sentTo(r, "/ditto/job/cancel"), [["/ditto/job/cancel", "job1"]], "the give-up cancels the job on the server");
    assert.deepEqual(r.active(), [1, 0]);
    r.ctl.generate();
    r.ctl.onMessage("/ditto/job/accepted", ["job2", 0]);
    r.clock.advance(120000);
    r.ctl.onMessage("/ditto/job/state", ["job2", "unknown"]);
    assert.match(r.status(), /lost the job/);
});

test("Cancel sends the table's cancel; the cancelled error (or silence) returns to idle", function () {
    var r = rig();
    r.ctl.generate();
    r.ctl.onMessage("/ditto/job/progress", ["job1", "optimise", 3, 70, 1.5]);
    r.ctl.cancel();
    assert.deepEqual(sentTo(r, "/ditto/job/cancel"), [["/ditto/job/cancel", "job1"]]);
    assert.equal(r.ctl.state(), "cancelling");
    r.ctl.onMessage("/ditto/job/progress", ["job1", "optimise", 4, 70, 1.4]);
    assert.equal(r.ctl.state(), "cancelling", "progress after Cancel does not flip back to running");
    r.ctl.onMessage("/ditto/job/error", ["job1", "cancelled", "cancelled by the client"]);
    assert.equal(r.status(), "Cancelled.");
    assert.deepEqual(r.active(), [1, 0]);
    r.ctl.generate();
    r.ctl.cancel();
    r.clock.advance(5000);
    assert.equal(r.ctl.state(), "idle");
    assert.match(r.status(), /did not confirm/);
});

test("replies for other jobs (another device on the same server) are ignored", function () {
    var r = rig();
    r.ctl.generate();
    assert.equal(r.ctl.onMessage("/ditto/job/done", ["someone-else", "/x.wav", "{}"]), false);
    assert.equal(r.ctl.state(), "submitting");
});

test("a Live error while reading the clip is shown and nothing is sent", function () {
    var r = rig({ tracks: [{ name: "Melody", midi: true }, { name: "Out", midi: false }], detail: null });
    r.ctl.generate();
    assert.equal(sentTo(r, "/ditto/job/submit").length, 0);
    assert.match(r.status(), /No MIDI clip on this track/);
    assert.deepEqual(r.active(), [1, 0]);
});

test("old Live: done shows the file for drag and drop instead of calling create_audio_clip", function () {
    var r = rig({ version: [11, 3, 13] });
    assert.match(r.status(), /drag and drop/);
    r.ctl.generate();
    r.ctl.onMessage("/ditto/job/done", ["job1", "/out/old.wav", "{}"]);
    assert.deepEqual(r.last("path"), ["set", "/out/old.wav"]);
    assert.match(r.status(), /needs 12\.0\.5\+\): drag the file below/);
    assert.equal(r.live.calls.filter(function (c) { return c.method === "create_audio_clip"; }).length, 0);
    assert.deepEqual(r.active(), [1, 0]);
});

test("placement failure after done still ends idle with the path shown", function () {
    var r = rig();
    r.ctl.generate();
    r.live.tracks[1].data.midi = true; // the target became unusable (Live refuses)
    r.ctl.onMessage("/ditto/job/done", ["job1", "/out/x.wav", "not json"]);
    assert.equal(r.ctl.state(), "idle");
    assert.match(r.status(), /Live would not place the clip/);
    assert.deepEqual(r.last("path"), ["set", "/out/x.wav"]);
});

test("a job JSON over the datagram limit goes as /ditto/job/chunk pieces that rebuild the JSON", function () {
    var notes = [];
    for (var i = 0; i < 600; i++) {
        notes.push({ pitch: 48 + (i % 24), start_time: i * 0.05, duration: 0.05 });
    }
    var r = rig({ tracks: [{ name: "Melody", midi: true, slots: { 0: { midi: true, looping: true, loop_start: 0,
        loop_end: 32, start_marker: 0, end_marker: 32, notes: notes } } }, { name: "Out", midi: false }] });
    r.ctl.generate();
    assert.equal(sentTo(r, "/ditto/job/submit").length, 0);
    var chunks = sentTo(r, "/ditto/job/chunk");
    assert.ok(chunks.length >= 2);
    var spec = JSON.parse(chunks.map(function (c) { return c[4]; }).join(""));
    assert.equal(spec.controls[0].notes.length, 600);
    chunks.forEach(function (c, k) { assert.deepEqual(c.slice(1, 4), ["job1", k, chunks.length]); });
    assert.match(r.status(), /chunks/);
});

test("Check server: pong reports the server up; silence reports how to start it", function () {
    var r = rig();
    r.ctl.ping();
    var ping = sentTo(r, "/ditto/server/ping")[0];
    r.ctl.onMessage("/ditto/server/pong", [ping[1], TABLE.version]);
    assert.match(r.status(), /is up/);
    r.ctl.ping();
    r.clock.advance(5000);
    assert.match(r.status(), /ditto-live serve/);
});

test("changing the reply port reconfigures udpreceive, gives the old subscription back and subscribes the new one", function () {
    var r = rig();
    r.ctl.set("reply_port", 9123);
    assert.deepEqual(r.net.slice(-1)[0], ["udpreceive", "port", 9123]);
    assert.deepEqual(sentTo(r, "/ditto/client/subscribe").slice(-1)[0], ["/ditto/client/subscribe", 9123]);
    assert.deepEqual(sentTo(r, "/ditto/client/unsubscribe"), [["/ditto/client/unsubscribe", 9011]], "the old port is given back");
});

test("Show file opens the result's folder as a file URL (POSIX and Windows paths)", function () {
    var r = rig({ version: [11, 3, 13] });
    r.ctl.reveal();
    assert.match(r.status(), /No result yet/);
    r.ctl.generate();
    r.ctl.onMessage("/ditto/job/done", ["job1", "/Users/me/ditto out/live-1.wav", "{}"]);
    r.ctl.reveal();
    assert.deepEqual(r.last("reveal"), ["file:///Users/me/ditto%20out"]);
    r.ctl.generate();
    r.ctl.onMessage("/ditto/job/done", ["job2", "C:\\Users\\me\\ditto_live_out\\live-2.wav", "{}"]);
    r.ctl.reveal();
    assert.deepEqual(r.last("reveal"), ["file:///C:/Users/me/ditto_live_out"]);
});

test("removing the device cancels its job, unsubscribes and leaves no timer", function () {
    var r = rig();
    r.ctl.generate();
    r.ctl.close();
    assert.deepEqual(sentTo(r, "/ditto/job/cancel"), [["/ditto/job/cancel", "job1"]]);
    assert.deepEqual(sentTo(r, "/ditto/client/unsubscribe"), [["/ditto/client/unsubscribe", 9011]]);
    assert.equal(r.clock.pending(), 0);
});

test("Cancel while the envelope is still being read: nothing is sent, the device is idle at once", function () {
    var r = rig({ tracks: [{ name: "Melody", midi: true, slots: { 0: { midi: true, looping: true, loop_start: 0, loop_end: 8,
        start_marker: 0, end_marker: 8, notes: [{ pitch: 60, start_time: 0, duration: 2 }],
        envelopes: { Intensity: function (b) { return -30 + b; } } } } }, { name: "Out", midi: false }] });
    r.ctl.generate();
    assert.equal(r.ctl.state(), "reading");
    assert.deepEqual(r.active(), [0, 1], "Generate greyed, Cancel live while reading");
    r.ctl.cancel();
    assert.equal(r.ctl.state(), "idle");
    assert.equal(r.status(), "Cancelled.");
    r.clock.advance(1000);
    assert.equal(sentTo(r, "/ditto/job/submit").length, 0);
    r.ctl.generate();
    r.clock.advance(1000);
    assert.equal(sentTo(r, "/ditto/job/submit").length, 1, "the next Generate reads and sends");
});

test("a WAV path with spaces that Live will not load: the device reports the drag-and-drop fallback and shows the file", function () {
    var r = rig({ audioPaths: "broken" });
    r.ctl.generate();
    r.ctl.onMessage("/ditto/job/done", ["job1", "/Users/Jo Smith/ditto_live_out/live-1.wav", "{}"]);
    assert.equal(r.ctl.state(), "idle");
    assert.match(r.status(), /^Done, but Live would not place the clip \(Live could not load a WAV whose path has spaces/);
    assert.match(r.status(), /--output-dir on a folder without spaces\): drag the file below into a track\.$/);
    assert.deepEqual(r.last("path"), ["set", "/Users/Jo Smith/ditto_live_out/live-1.wav"]);
    assert.deepEqual(r.active(), [1, 0]);
});

test("a refused status request (rate limit) does not fail a job waiting for its accepted reply", function () {
    var r = rig();
    r.ctl.generate();
    r.ctl.onMessage("/ditto/error", ["busy", "status: at most 4 a second per client (server.status_per_s); 1 refused"]);
    assert.equal(r.ctl.state(), "submitting");
    r.ctl.onMessage("/ditto/error", ["bad_request", "datagram of 9000 bytes"]);
    assert.equal(r.ctl.state(), "idle");
});
