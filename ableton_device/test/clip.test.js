// Regions, notes, envelope sampling and the job JSON, without Live.
"use strict";
var test = require("node:test");
var assert = require("node:assert/strict");
var Clip = require("../src/clip.js");

var SETTINGS = { intensityDb: -18, useMelody: 1, useIntensity: 1, genre: 2, mood: 1, instrument: 1, quality: 1,
    mode: 0, seed: 7, caption: "" };

test("region is the loop brace when looping, else the start/end markers", function () {
    var c = { looping: true, loop_start: 4, loop_end: 12, start_marker: 0, end_marker: 16 };
    assert.deepEqual(Clip.regionOf(c), { start: 4, end: 12, beats: 8 });
    c.looping = false;
    assert.deepEqual(Clip.regionOf(c), { start: 0, end: 16, beats: 16 });
});

test("notes are cut to the region, shifted to its start, muted ones dropped, sorted", function () {
    var notes = [
        { pitch: 64, start_time: 5, duration: 1, mute: 0 },
        { pitch: 60, start_time: 3, duration: 2, mute: 0 }, // starts before: keeps its last beat
        { pitch: 67, start_time: 11.5, duration: 2, mute: 0 }, // runs past the end: cut
        { pitch: 72, start_time: 6, duration: 1, mute: 1 }, // muted
        { pitch: 50, start_time: 12, duration: 1, mute: 0 } // outside
    ];
    assert.deepEqual(Clip.notesInRegion(notes, 4, 12), [[60, 0, 1], [64, 1, 1], [67, 7.5, 0.5]]);
});

// Samples of f on the envelope grid, as reader.js takes them: [[offset, f(offset)], ...].
function onGrid(f, beats) {
    return Clip.envelopeGrid(beats, Clip.ENVELOPE_GRID_BEATS, Clip.MAX_ENVELOPE_CALLS).map(function (o) { return [o, f(o)]; });
}

test("envelope grid: every 1/16 note over the region, its end included", function () {
    var g = Clip.envelopeGrid(4, 0.25, 256);
    assert.equal(g.length, 17);
    assert.equal(g[0], 0);
    assert.equal(g[1], 0.25);
    assert.equal(g[g.length - 1], 4, "the last sample sits on the region end");
    assert.deepEqual(Clip.envelopeGrid(1.1, 0.25, 256), [0, 0.25, 0.5, 0.75, 1, 1.1], "an uneven region ends on its end");
});

test("envelope grid: a long region gets an even, coarser grid within the call cap", function () {
    var g = Clip.envelopeGrid(120, 0.25, 256); // 60 s at 120 bpm: 481 sixteenths
    assert.ok(g.length <= 256, g.length + " calls");
    assert.equal(g[g.length - 1], 120);
    var step = g[1] - g[0];
    assert.ok(step > 0.25 && step < 0.5, "step " + step);
    g.slice(1).forEach(function (o, i) { assert.ok(Math.abs(o - g[i] - step) < 1e-5, "even at " + o); });
});

test("simplify keeps the breakpoints of straight-line automation and nothing else", function () {
    // -40 dB ramping to -10 dB over beats 0..2, then flat, then a drop at beat 3.
    var f = function (b) { return b < 2 ? -40 + 15 * b : b < 3 ? -10 : -30; };
    var samples = onGrid(f, 4);
    var pts = Clip.envelopePoints(samples, 0.25, 256);
    assert.ok(pts.length <= 8, "got " + pts.length + " points from " + samples.length + " samples");
    // Every sample is within tolerance of the polyline through the kept points.
    samples.forEach(function (p) {
        var i = 0;
        while (i + 1 < pts.length && pts[i + 1][0] < p[0]) {
            i++;
        }
        var a = pts[i], b = pts[Math.min(i + 1, pts.length - 1)];
        var v = b[0] === a[0] ? a[1] : a[1] + (b[1] - a[1]) * (p[0] - a[0]) / (b[0] - a[0]);
        assert.ok(Math.abs(v - p[1]) <= 0.25 + 0.01, "at beat " + p[0] + ": " + v + " vs " + p[1]);
    });
    assert.deepEqual(pts[0], [0, -40]);
    assert.deepEqual(pts[pts.length - 1], [4, -30]);
});

test("a noisy envelope is capped at maxPoints by raising the tolerance", function () {
    var x = 1;
    var noisy = onGrid(function () { x = (x * 16807) % 2147483647; return -30 + (x % 2000) / 100; }, 32);
    assert.ok(Clip.envelopePoints(noisy, 0.25, 50).length <= 50);
});

test("buildJob: tags, melody, intensity from the dial or the envelope, quality preset, bars at the tempo", function () {
    var data = { bpm: 96, regionBeats: 8, notes: [[60, 0, 1]], envelope: null, reference: null };
    var job = Clip.buildJob(SETTINGS, data);
    assert.equal(job.method, "ditto2");
    assert.equal(job.bars, 2);
    assert.equal(job.bpm, 96);
    assert.equal(job.seed, 7);
    assert.deepEqual(job.tags, { genre: "folk", mood: "major", instrument: "piano" });
    assert.deepEqual(job.controls[0], { type: "melody", notes: [[60, 0, 1]], unit: "beats" });
    assert.deepEqual(job.controls[1], { type: "intensity", points: [[0, -18], [8, -18]], unit: "beats" });
    data.envelope = [[0, -30], [8, -10]];
    assert.deepEqual(Clip.buildJob(SETTINGS, data).controls[1].points, [[0, -30], [8, -10]]);
    var draft = Clip.buildJob(Object.assign({}, SETTINGS, { quality: 0, caption: "  warm strings " }), data);
    assert.equal(draft.steps, 20);
    assert.equal(draft.decode_steps, 1);
    assert.deepEqual(draft.controls[2], { type: "text", caption: "warm strings" });
    var off = Clip.buildJob(Object.assign({}, SETTINGS, { useMelody: 0, useIntensity: 0, genre: 0 }), data);
    assert.deepEqual(off.controls, []);
    assert.deepEqual(off.tags, { mood: "major", instrument: "piano" });
});

test("buildJob: inpaint and continue need a reference; too long or empty loops are refused with a reason", function () {
    var data = { bpm: 120, regionBeats: 16, notes: [], envelope: null, reference: null };
    assert.throws(function () { Clip.buildJob(Object.assign({}, SETTINGS, { mode: 1 }), data); }, /audio clip on the target track/);
    data.reference = { path: "/music/take.wav", startBeats: 4, endBeats: 8 };
    var inpaint = Clip.buildJob(Object.assign({}, SETTINGS, { mode: 1 }), data).controls.pop();
    assert.deepEqual(inpaint, { type: "inpaint", reference: "/music/take.wav", unit: "seconds", start: 2, end: 4 });
    var cont = Clip.buildJob(Object.assign({}, SETTINGS, { mode: 2 }), data).controls.pop();
    assert.deepEqual(cont, { type: "outpaint", reference: "/music/take.wav", overlap: 2 });
    assert.deepEqual(Clip.buildJob(Object.assign({}, SETTINGS, { mode: 3 }), data).controls.pop(), { type: "loop" });
    assert.throws(function () { Clip.buildJob(SETTINGS, { bpm: 60, regionBeats: 64, notes: [] }); }, /up to 60 s/);
    assert.throws(function () { Clip.buildJob(SETTINGS, { bpm: 120, regionBeats: 0, notes: [] }); }, /loop is empty/);
});
