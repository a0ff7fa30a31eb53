// The built ditto_live_device.js runs in a Max-like global scope (no require, no module) and
// the sources stay within the ES5 that Max's js object understands.
"use strict";
var test = require("node:test");
var assert = require("node:assert/strict");
var path = require("node:path");
var fs = require("node:fs");
var os = require("node:os");
var vm = require("node:vm");
var child = require("node:child_process");
var support = require("../test_support/fake_live.js");
var harness = require("../test_support/max_harness.js");

var ROOT = path.join(__dirname, "..");
function plain(x) { return JSON.parse(JSON.stringify(x)); } // arrays from the vm realm

var MAX_SOURCES = ["protocol.js", "clip.js", "live.js", "link.js", "persist.js", "reader.js", "settings.js", "tracks.js",
    "review.js", "controller.js", "max_main.js"];

// Build into dir and open the device the way Live does: the one .amxd, its js frozen inside.
function buildInto(dir) {
    child.execFileSync(process.env.PYTHON || "python3", [path.join(ROOT, "build_amxd.py"), "--out", dir], { stdio: "pipe" });
    var device = harness.readAmxd(fs.readFileSync(path.join(dir, "DittoLive.amxd")));
    assert.equal(device.type, "mmmm", "a MIDI effect");
    assert.ok(device.frozen, "frozen: the device carries its js");
    return device;
}

var built = null; // one fresh build shared by the tests below: {dir, code, patcher}
function freshBuild() {
    if (!built) {
        var dir = fs.mkdtempSync(path.join(os.tmpdir(), "ditto-amxd-"));
        var device = buildInto(dir);
        built = { dir: dir, code: device.files["ditto_live_device.js"].toString("utf8"), patcher: device.patcher };
    }
    return built;
}

function boxesById(patcher) {
    var out = {};
    patcher.boxes.forEach(function (b) { out[b.box.id] = b.box; });
    return out;
}

// [source box, destination box] of every patch cord.
function cords(patcher) {
    var boxes = boxesById(patcher);
    return patcher.lines.map(function (l) { return [boxes[l.patchline.source[0]], boxes[l.patchline.destination[0]]]; });
}

test("sources for Max's js object use no ES2015+ syntax or library calls", function () {
    var banned = [/=>/, /\blet\s/, /\bconst\s/, /`/, /\bclass\s+\w/, /\.\.\.\w/, /Object\.assign/, /\.includes\(/,
        /Array\.from/, /\.startsWith\(/, /\.endsWith\(/, /for\s*\([^)]*\bof\b/, /\bPromise\b/, /\basync\s/, /\bawait\s/];
    MAX_SOURCES.forEach(function (name) {
        var code = fs.readFileSync(path.join(ROOT, "src", name), "utf8").replace(/\/\*[\s\S]*?\*\//g, "")
            .replace(/"(?:[^"\\\n]|\\.)*"/g, "\"\"").replace(/\/\/.*$/gm, "");
        banned.forEach(function (re) { assert.doesNotMatch(code, re, name + " uses " + re); });
    });
});

test("the built device passes MIDI through: midiin -> midiout, so the instrument after it still plays", function () {
    var links = cords(freshBuild().patcher).filter(function (c) { return c[0].text === "midiin" && c[1].text === "midiout"; });
    assert.equal(links.length, 1, "no midiin -> midiout in the built patcher: the device would silence its track");
});

test("target, host and caption are blob pattr parameters stored with the set, written by and read back into the js", function () {
    var patcher = freshBuild().patcher, all = cords(patcher);
    var route = patcher.boxes.map(function (b) { return b.box; }).filter(function (b) { return /^route status/.test(b.text || ""); })[0];
    var routed = route.text.split(" ").slice(1);
    ["target", "host", "caption"].forEach(function (key) {
        var toPattr = all.filter(function (c) { return c[0] === route && /^pattr/.test(c[1].text || ""); })
            .filter(function (c) { return c[1].varname === "saved_" + key; });
        assert.equal(toPattr.length, 1, key + ": route -> pattr");
        var pattr = toPattr[0][1], v = pattr.saved_attribute_attributes.valueof;
        assert.equal(pattr.saved_object_attributes.parameter_enable, 1, key + ": parameter mode");
        assert.equal(v.parameter_type, 3, key + ": blob");
        assert.equal(v.parameter_invisible, 1, key + ": stored only, not automatable");
        var back = all.filter(function (c) { return c[0] === pattr; }).map(function (c) { return c[1]; });
        assert.deepEqual(back.map(function (b) { return b.text; }), ["prepend restore_" + key]);
        assert.ok(all.some(function (c) { return c[0] === back[0] && /^js /.test(c[1].text || ""); }), key + ": -> js");
        assert.ok(routed.indexOf("store_" + key) >= 0);
    });
    var ports = patcher.boxes.map(function (b) { return b.box; }).filter(function (b) { return b.maxclass === "live.numbox"; })
        .map(function (b) { return b.saved_attribute_attributes.valueof; }).filter(function (v) { return /Port/.test(v.parameter_longname); });
    assert.deepEqual(ports.map(function (v) { return [v.parameter_longname, v.parameter_invisible]; }), [["Port", 1], ["Reply Port", 1]],
        "the ports are stored-only Live parameters, saved with the set");
});

test("the committed prebuilt device is byte-identical to a fresh build (rebuild: python3 build_amxd.py --out prebuilt)", function () {
    var fresh = freshBuild().dir;
    assert.deepEqual(fs.readdirSync(path.join(ROOT, "prebuilt")), ["DittoLive.amxd"], "one file, nothing to keep beside it");
    var committed = fs.readFileSync(path.join(ROOT, "prebuilt", "DittoLive.amxd"));
    assert.ok(committed.equals(fs.readFileSync(path.join(fresh, "DittoLive.amxd"))), "prebuilt/DittoLive.amxd is stale: run "
        + "`python3 ableton_device/build_amxd.py --out ableton_device/prebuilt` and commit it");
    var again = fs.mkdtempSync(path.join(os.tmpdir(), "ditto-amxd-"));
    buildInto(again);
    assert.ok(fs.readFileSync(path.join(again, "DittoLive.amxd")).equals(fs.readFileSync(path.join(fresh, "DittoLive.amxd"))),
        "two builds of the same sources give the same bytes");
});

test("the built js, loaded like Max loads it, restores the saved target and drives a job to a placed clip", function () {
    var code = freshBuild().code;
    var table = JSON.parse(fs.readFileSync(path.join(ROOT, "..", "ditto_live", "protocol.json"), "utf8"));
    assert.ok(code.indexOf("var DITTO_PROTOCOL = " + JSON.stringify(table) + ";") >= 0, "the table is embedded verbatim");

    var live = support.fakeLive({
        tempo: 100, detail: { track: 0, slot: 0 },
        tracks: [{ name: "Lead", midi: true, slots: { 0: { midi: true, looping: true, loop_start: 0, loop_end: 4,
            start_marker: 0, end_marker: 4, notes: [{ pitch: 62, start_time: 1, duration: 1 }],
            envelopes: { Intensity: function (b) { return -30 + 5 * b; } } } } },
        { name: "Ditto", midi: false }, { name: "Ditto 2", midi: false }]
    });
    var clock = support.fakeClock(), outs = [[], [], [], []], posts = [];
    function Task(fn) { this.fn = fn; }
    Task.prototype.schedule = function (ms) { this.h = clock.after(ms, this.fn); };
    Task.prototype.cancel = function () { if (this.h) { clock.cancel(this.h); } };
    var ctx = {
        LiveAPI: live.LiveAPI, Task: Task,
        outlet: function (n, msg) { outs[n].push(msg); },
        post: function (s) { posts.push(s); },
        arrayfromargs: function (a) { return Array.prototype.slice.call(a); },
        JSON: JSON, Math: Math, Date: Date, Number: Number, String: String, Error: Error, Object: Object,
        encodeURI: encodeURI
    };
    vm.createContext(ctx);
    vm.runInContext(code, ctx, { filename: "ditto_live_device.js" });
    assert.equal(ctx.outlets, 4);
    assert.equal(typeof ctx.module, "undefined");

    ctx.seed(5); // Live parameters output their stored values before live.thisdevice bangs
    ctx.restore_target(2, "Ditto 2"); // and so do the pattr objects (saved target, host)
    ctx.restore_host("127.0.0.2");
    ctx.generate(); // a click before init is refused, not a crash
    assert.match(posts.join(""), /not ready/);
    posts.length = 0;
    ctx.init();
    assert.deepEqual(plain(outs[2]).pop(), ["port", 9011]);
    assert.deepEqual(plain(outs[0].filter(function (m) { return m[0] === "host"; }).pop()), ["host", "127.0.0.2"]);
    assert.deepEqual(plain(outs[1].filter(function (m) { return m[0] === "tracks" && m[1] === "set"; }).pop()), ["tracks", "set", 1]);
    ctx.text("bright", "plucked", "strings");
    assert.deepEqual(plain(outs[1].filter(function (m) { return m[0] === "store_caption"; }).pop()),
        ["store_caption", "bright plucked strings"]);
    ctx.generate();
    assert.equal(outs[0].filter(function (m) { return m[0] === "/ditto/job/submit"; }).length, 0,
        "the envelope is read on Max's Task, not inside the click");
    clock.advance(100);
    var submit = outs[0].filter(function (m) { return m[0] === "/ditto/job/submit"; })[0];
    var spec = JSON.parse(submit[2]);
    assert.equal(spec.seed, 5);
    assert.equal(spec.bpm, 100);
    assert.deepEqual(plain(spec.controls[0].notes), [[62, 1, 1]]);
    assert.ok(spec.controls[1].points.length >= 2, "the envelope's points were read");
    assert.deepEqual(plain(spec.controls[2]), { type: "text", caption: "bright plucked strings" });

    ctx.messagename = "/ditto/job/done";
    ctx.anything.apply(null, support.padReply(table, "/ditto/job/done", [submit[1], "/tmp/out/live-5.wav", "{\"seed\": 5}"]));
    var created = live.calls.filter(function (c) { return c.method === "create_audio_clip"; });
    assert.deepEqual(plain(created).map(function (c) { return [c.path, c.args[0]]; }), [["live_set tracks 2 clip_slots 0", "/tmp/out/live-5.wav"]],
        "on the restored target");
    var last = outs[1].filter(function (m) { return m[0] === "generate_active"; }).pop();
    assert.deepEqual(plain(last), ["generate_active", 1]);
    assert.deepEqual(posts, []);

    // The client-side timeout runs on Max's Task.
    ctx.generate();
    clock.advance(100 + 5000);
    var status = outs[1].filter(function (m) { return m[0] === "status"; }).pop();
    assert.match(status[2], /no answer from the server/);
});
