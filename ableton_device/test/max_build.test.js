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

var ROOT = path.join(__dirname, "..");
function plain(x) { return JSON.parse(JSON.stringify(x)); } // arrays from the vm realm

var MAX_SOURCES = ["protocol.js", "clip.js", "live.js", "controller.js", "max_main.js"];

function buildInto(dir) {
    child.execFileSync(process.env.PYTHON || "python3", [path.join(ROOT, "build_amxd.py"), "--out", dir], { stdio: "pipe" });
    return fs.readFileSync(path.join(dir, "ditto_live_device.js"), "utf8");
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

test("the built js, loaded like Max loads it, drives a job from init to a placed clip", function () {
    var dir = fs.mkdtempSync(path.join(os.tmpdir(), "ditto-amxd-"));
    var code = buildInto(dir);
    var table = JSON.parse(fs.readFileSync(path.join(ROOT, "..", "ditto_live", "protocol.json"), "utf8"));
    assert.ok(code.indexOf("var DITTO_PROTOCOL = " + JSON.stringify(table) + ";") >= 0, "the table is embedded verbatim");

    var live = support.fakeLive({
        tempo: 100, detail: { track: 0, slot: 0 },
        tracks: [{ name: "Lead", midi: true, slots: { 0: { midi: true, looping: true, loop_start: 0, loop_end: 4,
            start_marker: 0, end_marker: 4, notes: [{ pitch: 62, start_time: 1, duration: 1 }] } } },
        { name: "Ditto", midi: false }]
    });
    var clock = support.fakeClock(), outs = [[], [], []], posts = [];
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
    assert.equal(ctx.outlets, 3);
    assert.equal(typeof ctx.module, "undefined");

    ctx.seed(5); // Live parameters output their stored values before live.thisdevice bangs
    ctx.generate(); // a click before init is refused, not a crash
    assert.match(posts.join(""), /not ready/);
    posts.length = 0;
    ctx.init();
    assert.deepEqual(plain(outs[2]), [["port", 9011]]);
    ctx.text("bright", "plucked", "strings");
    ctx.generate();
    var submit = outs[0].filter(function (m) { return m[0] === "/ditto/job/submit"; })[0];
    var spec = JSON.parse(submit[2]);
    assert.equal(spec.seed, 5);
    assert.equal(spec.bpm, 100);
    assert.deepEqual(plain(spec.controls[0].notes), [[62, 1, 1]]);
    assert.deepEqual(plain(spec.controls[2]), { type: "text", caption: "bright plucked strings" });

    ctx.messagename = "/ditto/job/done";
    ctx.anything(submit[1], "/tmp/out/live-5.wav", "{\"seed\": 5}");
    var created = live.calls.filter(function (c) { return c.method === "create_audio_clip"; });
    assert.deepEqual(plain(created).map(function (c) { return [c.path, c.args[0]]; }), [["live_set tracks 1 clip_slots 0", "/tmp/out/live-5.wav"]]);
    var last = outs[1].filter(function (m) { return m[0] === "generate_active"; }).pop();
    assert.deepEqual(plain(last), ["generate_active", 1]);
    assert.deepEqual(posts, []);

    // The client-side timeout runs on Max's Task.
    ctx.generate();
    clock.advance(5000);
    var status = outs[1].filter(function (m) { return m[0] === "status"; }).pop();
    assert.match(status[2], /no answer from the server/);
});
