// What a real Live set breaks (issue 30, findings 1-7), each against the device as built and opened the
// way Live opens it (the one .amxd; its patcher's load sequence; Live's parameter rules), or against the
// controller on a fake set where tracks move, clips are replaced and meters are not 4/4.
"use strict";
var test = require("node:test");
var assert = require("node:assert/strict");
var path = require("node:path");
var fs = require("node:fs");
var os = require("node:os");
var child = require("node:child_process");
var support = require("../test_support/fake_live.js");
var harness = require("../test_support/max_harness.js");
var rigs = require("../test_support/rig.js");

var ROOT = path.join(__dirname, "..");
var JS_NAME = "ditto_live_device.js";

var built = null; // {dir, patcher, code, frozen}: one fresh build, opened as Live opens it
function freshBuild() {
    if (!built) {
        var dir = fs.mkdtempSync(path.join(os.tmpdir(), "ditto-real-set-"));
        child.execFileSync(process.env.PYTHON || "python3", [path.join(ROOT, "build_amxd.py"), "--out", dir], { stdio: "pipe" });
        var device = harness.readAmxd(fs.readFileSync(path.join(dir, "DittoLive.amxd")));
        // A device that is not frozen loads its js from beside it (an older build): still testable.
        var code = device.files[JS_NAME] ? device.files[JS_NAME].toString("utf8")
            : fs.readFileSync(path.join(dir, JS_NAME), "utf8");
        built = { dir: dir, patcher: device.patcher, code: code, frozen: device.frozen };
    }
    return built;
}

var MELODY = { name: "Melody", midi: true, slots: { 0: { midi: true, looping: true, loop_start: 0, loop_end: 8,
    start_marker: 0, end_marker: 8, notes: [{ pitch: 60, start_time: 0, duration: 2 }] } } };

function openDevice(tracks, before) {
    var b = freshBuild(), live = support.fakeLive({ detail: { track: 0, slot: 0 }, tracks: [MELODY].concat(tracks) });
    var dev = harness.loadDevice(b.code, live), model = harness.parameterModel(b.patcher);
    if (before) {
        before(dev.ctx);
    }
    harness.loadPatcher(dev, b.patcher, model);
    return { dev: dev, model: model, patcher: b.patcher, live: live };
}

// A server that answers every check the device sends (pong, then its state), and the device's probe of
// its own reply port coming back, for `ms` of Max time.
function serve(dev, ms) {
    var seen = { ping: 0, probe: 0 };
    function answer() {
        var pings = dev.sent("/ditto/server/ping");
        for (; seen.ping < pings.length; seen.ping++) {
            dev.reply("/ditto/server/pong", [pings[seen.ping][1], rigs.TABLE.version]);
            dev.reply("/ditto/server/state", ["{\"engine\": \"ready\", \"queued\": [], \"running\": null}"]);
        }
        var probes = dev.outs[3].filter(function (m) { return m[0] !== "port"; });
        for (; seen.probe < probes.length; seen.probe++) {
            dev.reply(probes[seen.probe][0], probes[seen.probe].slice(1));
        }
    }
    answer();
    for (var t = 0; t < ms; t += 100) {
        dev.clock.advance(100);
        answer();
    }
}

function lastNet(dev, outletIndex, key) {
    var m = dev.outs[outletIndex].filter(function (x) { return x[0] === key; }).pop();
    return m ? m[1] : null;
}

test("finding 1: Port, Reply Port and Seed keep their values under Live's parameter rules (Int holds 256 values)", function () {
    var o = openDevice([{ name: "Out", midi: false }]);
    var p = o.model.params;
    assert.equal(p.Port.value, 9010, "Port loads as 9010, not clamped to an Int's 256 values");
    assert.equal(p["Reply Port"].value, 9011);
    assert.equal(o.model.set("Seed", 54321), 54321, "a five-digit seed is kept");
    assert.equal(lastNet(o.dev, 0, "port"), 9010, "udpsend gets the whole port");
    assert.equal(lastNet(o.dev, 2, "port"), 9011, "udpreceive gets the whole reply port");
    Object.keys(p).forEach(function (k) {
        assert.ok(p[k].type !== 1 || p[k].max - p[k].min + 1 <= 256, k + ": an Int parameter over 256 values");
    });
    o.dev.ctx.seed(o.model.set("Seed", 54321)); // the producer types it: Live outputs a float
    o.dev.ctx.generate();
    assert.equal(JSON.parse(o.dev.sent("/ditto/job/submit")[0][2]).seed, 54321);
});

test("finding 2: a second live.thisdevice bang (preset load, device save) keeps one controller and every setting", function () {
    var o = openDevice([{ name: "Out", midi: false }]), dev = o.dev;
    serve(dev, 1000);
    dev.ctx.text("dusty", "piano");
    o.model.set("Melody", 0);
    dev.ctx.use_melody(0);
    harness.bangThisDevice(dev, o.patcher, o.model);
    serve(dev, 60000);
    assert.match(dev.ui("server")[1], /: ready$/, "the server line follows the live server, not an orphaned heartbeat");
    var before = dev.sent("/ditto/server/ping").length;
    serve(dev, 45000);
    var pings = dev.sent("/ditto/server/ping").length - before;
    assert.ok(pings <= 3, "one heartbeat (every 15 s once ready), not two: " + pings + " pings in 45 s");
    dev.ctx.generate();
    var spec = JSON.parse(dev.sent("/ditto/job/submit")[0][2]);
    assert.deepEqual(spec.controls.filter(function (c) { return c.type === "text"; }), [{ type: "text", caption: "dusty piano" }],
        "the caption survives the second bang");
    assert.equal(spec.controls.filter(function (c) { return c.type === "melody"; }).length, 0, "Melody off survives it");
});

test("finding 2: a second live.thisdevice bang while a job runs keeps the job, its buttons and its result", function () {
    var o = openDevice([{ name: "Out", midi: false }]), dev = o.dev;
    dev.ctx.generate();
    var id = dev.sent("/ditto/job/submit")[0][1];
    dev.reply("/ditto/job/accepted", support.padReply(rigs.TABLE, "/ditto/job/accepted", [id, 0]));
    harness.bangThisDevice(dev, o.patcher, o.model);
    assert.deepEqual(dev.ui("generate_active"), [0], "Generate stays greyed while the job runs");
    dev.ctx.generate();
    assert.equal(dev.sent("/ditto/job/submit").length, 1, "no second job");
    dev.reply("/ditto/job/done", support.padReply(rigs.TABLE, "/ditto/job/done", [id, "/o/k.wav", "{}"]));
    assert.equal(o.live.tracks[1].slots[0].clip.data.file_path, "/o/k.wav");
});

test("finding 3: the patcher's load sequence does not overwrite a saved target that is missing", function () {
    var o = openDevice([{ name: "Bass", midi: true }, { name: "Vox", midi: false }], function (ctx) {
        ctx.restore_target(5, "Ditto out"); // saved, but the set has no such track any more
    });
    var stores = o.dev.outs[1].filter(function (m) { return m[0] === "store_target"; });
    assert.deepEqual(stores, [], "nothing replaced the saved [5, 'Ditto out']");
    var items = o.dev.outs[1].filter(function (m) { return m[0] === "tracks" && m[1] === "append"; }).map(function (m) { return m[2]; });
    assert.equal(items[o.dev.ui("tracks")[1]], "Ditto out (missing)", "shown as missing until the producer picks");
    harness.bangThisDevice(o.dev, o.patcher, o.model); // and again on a preset load
    assert.deepEqual(o.dev.outs[1].filter(function (m) { return m[0] === "store_target"; }), []);
});

function arrangementSet(extra) {
    return support.fakeLive(Object.assign({
        detail: { track: 0, arrangement: 0 },
        tracks: [{ name: "Lead", midi: true, arrangement: [{ midi: true, notes: [{ pitch: 62, start_time: 0, duration: 2 }],
            looping: true, loop_start: 0, loop_end: 16, start_marker: 0, end_marker: 16, start_time: 0, end_time: 16 }] },
        { name: "Out", midi: false, arrangement: [{ midi: false, file_path: "/o/take1.wav", start_time: 0, end_time: 16 }] }]
    }, extra || {}));
}

function finish(r, wav) {
    var id = r.sentTo("/ditto/job/submit").pop()[1];
    r.ctl.onMessage("/ditto/job/done", support.padReply(rigs.TABLE, "/ditto/job/done", [id, wav, "{\"seed\": 3}"]));
}

test("finding 4: a new arrangement clip over an equal span replaces the old one and is reported placed", function () {
    ["id", "none"].forEach(function (answer) { // create_audio_clip answering the new clip's id, or nothing
        var live = arrangementSet({ createAnswer: answer }), r = rigs.deviceRig(live);
        r.ctl.generate();
        finish(r, "/o/take2.wav");
        assert.deepEqual(live.tracks[1].arrangement.map(function (c) { return c.data.file_path; }), ["/o/take2.wav"],
            "Live replaced the clip: the count did not grow");
        assert.match(r.status(), /^Done: 'ditto 3' in the arrangement at bar 1\.$/, answer + ": " + r.status());
        assert.ok(live.calls.some(function (c) { return c.method === "set" && c.args[1] === "ditto 3"; }), "named");
    });
});

// The file of the clip in a track's session slot, or null.
function fileIn(track, slot) {
    var c = track.slots[slot].clip;
    return c ? c.data.file_path : null;
}

test("finding 5: tracks added or deleted during a job: the result goes to the chosen track, or is refused", function () {
    var live = support.fakeLive({ detail: { track: 0, slot: 0 }, tracks: [MELODY, { name: "Drums", midi: false },
        { name: "Out", midi: false }] });
    var r = rigs.deviceRig(live);
    r.ctl.set("target", 1); // Out, live_set tracks 2
    r.ctl.generate();
    live.insertTrack(1, { name: "New audio", midi: false }); // Out moves to live_set tracks 3
    finish(r, "/o/a.wav");
    assert.equal(live.tracks[3].data.name, "Out");
    assert.equal(fileIn(live.tracks[2], 0), null, "not on Drums, which now has Out's old index");
    assert.equal(fileIn(live.tracks[3], 0), "/o/a.wav", "on Out, where it moved");

    r.ctl.generate();
    live.deleteTrack(3); // Out is deleted while the job runs
    finish(r, "/o/b.wav");
    assert.match(r.status(), /would not place the clip \(the target track was deleted while the job ran\)/);
    live.tracks.forEach(function (t) {
        t.slots.forEach(function (s) { assert.ok(!s.clip || s.clip.data.file_path !== "/o/b.wav", "placed nowhere else"); });
    });
});

test("finding 6: the .amxd alone works: frozen, with its js inside, in a folder that holds nothing else", function () {
    var b = freshBuild(), alone = fs.mkdtempSync(path.join(os.tmpdir(), "ditto-alone-"));
    fs.copyFileSync(path.join(b.dir, "DittoLive.amxd"), path.join(alone, "DittoLive.amxd"));
    var device = harness.readAmxd(fs.readFileSync(path.join(alone, "DittoLive.amxd")));
    assert.ok(device.frozen, "frozen (ptch starts with mx@c)");
    var js = device.files[JS_NAME];
    assert.ok(js, "the js the patcher loads is inside the device");
    assert.ok(device.patcher.boxes.some(function (x) { return x.box.text === "js " + JS_NAME; }));
    var live = support.fakeLive({ detail: { track: 0, slot: 0 }, tracks: [MELODY, { name: "Out", midi: false }] });
    var dev = harness.loadDevice(js.toString("utf8"), live);
    harness.loadPatcher(dev, device.patcher, harness.parameterModel(device.patcher));
    assert.match(dev.ui("status")[1], /^Ready \(Live 12\.1\.0\)/);
    assert.deepEqual(fs.readdirSync(alone), ["DittoLive.amxd"]);
});

test("finding 7a: every local give-up (no answer, a stall) cancels the job on the server", function () {
    var r = rigs.deviceRig(support.fakeLive({ detail: { track: 0, slot: 0 }, tracks: [MELODY, { name: "Out", midi: false }] }));
    r.ctl.generate();
    r.clock.advance(5000);
    assert.deepEqual(r.sentTo("/ditto/job/cancel"), [["/ditto/job/cancel", "job1"]], "no answer within 5 s");
    r.ctl.generate();
    r.ctl.onMessage("/ditto/job/accepted", ["job2", 0]);
    r.clock.advance(120000 + 5000);
    assert.deepEqual(r.sentTo("/ditto/job/cancel").pop(), ["/ditto/job/cancel", "job2"], "a stall");
    assert.equal(r.ctl.state(), "idle");
});

test("finding 7b: a reply port that is not ours is told apart from a stopped server", function () {
    var set = { detail: { track: 0, slot: 0 }, tracks: [MELODY, { name: "Out", midi: false }] };
    var stopped = rigs.deviceRig(support.fakeLive(set));
    var deaf = rigs.deviceRig(support.fakeLive(set), { replyPortTaken: true });
    stopped.clock.advance(5000);
    deaf.clock.advance(5000);
    assert.equal(stopped.serverLine(), "Server 127.0.0.1:9010: not running");
    assert.equal(deaf.serverLine(), "Server 127.0.0.1:9010: reply port not receiving");
    deaf.ctl.ping();
    deaf.clock.advance(5000);
    assert.match(deaf.status(), /reply port 9011 is not receiving/);
    deaf.ctl.generate();
    deaf.clock.advance(5000);
    assert.match(deaf.status(), /this device's reply port 9011 is not receiving: give it another Reply port/);
});

test("finding 7c: bars follow the clip's and the song's meter, not 4/4", function () {
    // 3/4: Continue's one-bar overlap is 3 beats; a result at beat 12 is at bar 5.
    var live = arrangementSet({ signature: [3, 4], tempo: 120 });
    live.tracks[0].arrangement[0].data.start_time = 12;
    var r = rigs.deviceRig(live);
    r.ctl.set("mode", 2); // Continue the audio clip beside this one
    live.tracks[1].arrangement[0].data.start_time = 12;
    live.tracks[1].arrangement[0].data.end_time = 28;
    r.ctl.generate();
    var spec = JSON.parse(r.sentTo("/ditto/job/submit")[0][2]);
    assert.equal(spec.controls.filter(function (c) { return c.type === "outpaint"; })[0].overlap, 1.5, "3 beats at 120 BPM");
    finish(r, "/o/c.wav");
    assert.match(r.status(), /in the arrangement at bar 5\./);    // Bars of other meters: numerator * 4 / denominator quarter notes.
    var Live = require("../src/live.js"), meter = function (n, d) {
        return { get: function (k) { return [k === "signature_numerator" ? n : d]; } };
    };
    assert.deepEqual([Live.beatsPerBar(meter(6, 8)), Live.beatsPerBar(meter(7, 4)), Live.beatsPerBar(meter(4, 4))], [3, 7, 4]);
});

test("audition before placing: with Review first, a result waits, plays as a preview on the target track, then Place keeps it", function () {
    var live = support.fakeLive({ detail: { track: 0, slot: 0 }, tracks: [MELODY, { name: "Out", midi: false }] });
    var r = rigs.deviceRig(live), creates = function () {
        return live.calls.filter(function (c) { return c.method === "create_audio_clip"; }).length;
    };
    r.ctl.set("review", 1);
    r.ctl.generate();
    finish(r, "/o/r.wav");
    assert.equal(creates(), 0, "nothing placed yet");
    assert.deepEqual(r.last("review_active"), [1], "Audition and Place light up");
    assert.match(r.status(), /press Audition to hear 'ditto 3'/);
    r.ctl.audition();
    var preview = live.tracks[1].slots[0].clip;
    assert.equal(preview.data.file_path, "/o/r.wav");
    assert.equal(preview.data.name, "ditto preview");
    assert.equal(preview.data.playing, true, "fired: it plays through the target track");
    r.ctl.audition();
    assert.equal(preview.data.playing, false, "a second press stops it");
    r.ctl.place();
    assert.equal(live.tracks[1].slots[0].clip.data.name, "ditto 3", "placed where it would have gone without Review");
    assert.equal(live.tracks[1].slots.filter(function (s) { return s.clip; }).length, 1, "the preview clip is gone");
    assert.deepEqual(r.last("review_active"), [0]);
    assert.match(r.status(), /^Done: 'ditto 3' in scene 1/);
    r.ctl.place();
    assert.match(r.status(), /No result waiting/);
});

test("audition: a new Generate drops the waiting result and its preview; arrangement results preview in a session slot", function () {
    var live = arrangementSet(), r = rigs.deviceRig(live);
    r.ctl.set("review", 1);
    r.ctl.generate();
    finish(r, "/o/p.wav");
    r.ctl.audition();
    assert.equal(live.tracks[1].slots[0].clip.data.file_path, "/o/p.wav", "previewed in the session, scene 1");
    r.ctl.generate(); // the producer wants another take: the preview goes
    assert.equal(live.tracks[1].slots[0].clip, null);
    finish(r, "/o/q.wav");
    r.ctl.place();
    assert.deepEqual(live.tracks[1].arrangement.map(function (c) { return c.data.file_path; }), ["/o/q.wav"]);
    assert.match(r.status(), /in the arrangement at bar 1\./);
});
