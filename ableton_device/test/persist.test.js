// The target track, server host and caption are saved with the set and come back on reload, even
// though every LOM id changes and tracks may have moved or been renamed meanwhile.
"use strict";
var test = require("node:test");
var assert = require("node:assert/strict");
var support = require("../test_support/fake_live.js");
var rigs = require("../test_support/rig.js");
var Persist = require("../src/persist.js");

var MELODY = { name: "Melody", midi: true, slots: { 0: { midi: true, looping: true, loop_start: 0, loop_end: 4,
    start_marker: 0, end_marker: 4, notes: [{ pitch: 60, start_time: 0, duration: 1 }] } } };

function set(tracks) {
    return support.fakeLive({ detail: { track: 0, slot: 0 }, tracks: [MELODY].concat(tracks) });
}

// Reload: a new device on the reloaded set gets the saved values before live.thisdevice (as pattr outputs them).
function reloadWith(saved, live) {
    return rigs.deviceRig(live, { before: function (ctl) {
        saved.forEach(function (kv) { ctl.restore(kv[0], kv[1]); });
    } });
}

// The Target menu's selected item: the items appended since its last clear, at the index last set.
function chosenName(r) {
    var clear = -1;
    r.ui.forEach(function (m, i) { clear = m[0] === "tracks" && m[1] === "clear" ? i : clear; });
    var items = r.ui.slice(clear).filter(function (m) { return m[0] === "tracks" && m[1] === "append"; });
    return items[r.last("tracks")[1]][2];
}

test("choosing a target, a host and a caption writes each to its pattr once; unchanged values are not rewritten", function () {
    var r = rigs.deviceRig(set([{ name: "Drums", midi: false }, { name: "Ditto out", midi: false }]));
    assert.deepEqual(r.savedValues(), [], "nothing is written at load");
    r.ctl.set("target", 1);
    assert.deepEqual(r.stored("target"), [2, "Ditto out"], "index in live_set tracks, then name");
    r.ctl.set("host", "192.168.1.20");
    r.ctl.set("caption", "warm café strings");
    assert.deepEqual(r.stored("host"), ["192.168.1.20"]);
    assert.deepEqual(r.stored("caption"), ["warm café strings"]);
    var writes = r.ui.filter(function (m) { return /^store_/.test(m[0]); }).length;
    r.ctl.set("host", "192.168.1.20");
    r.ctl.set("target", 1);
    assert.equal(r.ui.filter(function (m) { return /^store_/.test(m[0]); }).length, writes);
});

test("reloaded set: new ids and a track inserted before the target; the target is found by name", function () {
    var live = set([{ name: "Drums", midi: false }, { name: "Ditto out", midi: false }]);
    var first = rigs.deviceRig(live);
    first.ctl.set("target", 1);
    first.ctl.set("host", "10.0.0.5");
    first.ctl.set("caption", "dusty piano");
    var saved = first.savedValues();

    var reloaded = live.reload({ tracks: [MELODY, { name: "New audio", midi: false }, { name: "Drums", midi: false },
        { name: "Ditto out", midi: false }] });
    assert.notEqual(reloaded.tracks[3].id, live.tracks[2].id, "LOM ids do not survive a reload");
    var r = reloadWith(saved, reloaded);
    assert.equal(chosenName(r), "Ditto out");
    assert.deepEqual(r.stored("target"), [3, "Ditto out"], "the moved track's new index is saved");
    assert.deepEqual(r.net.filter(function (m) { return m[1] === "host"; }).pop(), ["udpsend", "host", "10.0.0.5"]);
    assert.deepEqual(r.last("host_text"), ["set", "10.0.0.5"]);
    assert.deepEqual(r.last("caption_text"), ["set", "dusty piano"]);
    r.ctl.generate();
    var spec = JSON.parse(r.sentTo("/ditto/job/submit")[0][2]);
    assert.equal(spec.controls.filter(function (c) { return c.type === "text"; })[0].caption, "dusty piano");
    r.ctl.onMessage("/ditto/job/done", support.padReply(rigs.TABLE, "/ditto/job/done", ["job1", "/o/a.wav", "{}"]));
    assert.equal(reloaded.tracks[3].slots[0].clip.data.file_path, "/o/a.wav", "the result lands on the saved target");
});

test("a renamed target is found by its index; two tracks with its name: the one nearest its index", function () {
    var saved = [["target", [2, "Ditto out"]]];
    var renamed = reloadWith(saved, set([{ name: "Drums", midi: false }, { name: "Ditto take 2", midi: false }]));
    assert.equal(chosenName(renamed), "Ditto take 2");
    var twins = reloadWith([["target", [3, "Ditto out"]]], set([{ name: "Ditto out", midi: false },
        { name: "Pad", midi: false }, { name: "Ditto out", midi: false }]));
    assert.deepEqual(twins.last("tracks"), ["set", 2], "the 'Ditto out' at live_set tracks 3, not the one at 1");
});

test("a deleted target: shown as missing, no stand-in, the saved choice kept until the producer picks", function () {
    var r = reloadWith([["target", [5, "Ditto out"]]], set([{ name: "Bass", midi: true }, { name: "Vox", midi: false }]));
    assert.equal(chosenName(r), "Ditto out (missing)");
    assert.match(r.status(), /The saved target track 'Ditto out' is missing: pick a Target\./);
    assert.equal(r.stored("target"), null, "nothing is written over the saved choice");
    r.ctl.refreshTracks(); // Live's tracks observer fires later: still not written
    r.ctl.set("target", 0); // the menu outputs its "(missing)" item (a bang, or the producer clicks it)
    assert.equal(r.stored("target"), null);
    r.ctl.generate(); // no target: the job is not sent to land nowhere (or on a track nobody chose)
    assert.equal(r.sentTo("/ditto/job/submit").length, 0);
    assert.match(r.status(), /missing: pick a Target/);
    r.ctl.set("target", 1); // the producer picks Vox (item 1, after the missing one)
    assert.deepEqual(r.stored("target"), [2, "Vox"]);
    assert.equal(chosenName(r), "Vox", "the (missing) item leaves the menu");
    assert.deepEqual(r.last("tracks"), ["set", 0]);
});

test("a value saved after the device started (pattr output after init) still applies", function () {
    var r = rigs.deviceRig(set([{ name: "A", midi: false }, { name: "B", midi: false }]));
    assert.equal(chosenName(r), "A");
    r.ctl.restore("target", [2, "B"]);
    assert.equal(chosenName(r), "B");
});

test("pattr's echo of each stored value (it outputs what it receives) changes nothing", function () {
    var r = rigs.deviceRig(set([{ name: "A", midi: false }, { name: "B", midi: false }]));
    r.ctl.set("target", 1);
    r.ctl.set("host", "10.1.1.1");
    r.ctl.set("caption", "airy");
    var before = r.ui.length, net = r.net.length;
    r.savedValues().forEach(function (kv) { r.ctl.restore(kv[0], kv[1]); });
    assert.deepEqual(r.ui.slice(before), [], "no menu rebuild, no text reset, nothing stored again");
    assert.equal(r.net.length, net, "udpsend is not reconfigured");
    r.ctl.generate();
    r.ctl.onMessage("/ditto/job/done", support.padReply(rigs.TABLE, "/ditto/job/done", ["job1", "/o/b.wav", "{}"]));
    assert.equal(r.live.tracks[2].slots[0].clip.data.file_path, "/o/b.wav", "the chosen target is still B");
});

test("empty pattr values (nothing ever saved) restore nothing", function () {
    var r = reloadWith([["target", [0]], ["host", [0]], ["caption", []]], set([{ name: "A", midi: false }]));
    assert.equal(chosenName(r), "A");
    assert.equal(r.ctl.settings().host, "127.0.0.1");
    assert.equal(r.ctl.settings().caption, "");
    assert.equal(r.last("host_text"), null);
});

test("decodeTarget/decodeText read pattr atoms; resolveTarget prefers the name, then the index", function () {
    assert.deepEqual(Persist.decodeTarget([3, "Ditto", "out"]), { index: 3, name: "Ditto out" });
    assert.equal(Persist.decodeTarget([3]), null);
    assert.equal(Persist.decodeTarget(["x", "y"]), null);
    assert.equal(Persist.decodeText([0]), null);
    assert.equal(Persist.decodeText(["warm", "strings"]), "warm strings");
    var tracks = [{ name: "A", path: "live_set tracks 1" }, { name: "B", path: "live_set tracks 4" }];
    assert.deepEqual(Persist.resolveTarget(tracks, { index: 9, name: "B" }), { at: 1, how: "name" });
    assert.deepEqual(Persist.resolveTarget(tracks, { index: 1, name: "Z" }), { at: 0, how: "index" });
    assert.deepEqual(Persist.resolveTarget(tracks, { index: 2, name: "Z" }), { at: -1, how: "missing" });
});
