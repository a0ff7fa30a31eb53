// Reading the clip, its markers and the Intensity envelope through a fake LiveAPI, and placing results.
"use strict";
var test = require("node:test");
var assert = require("node:assert/strict");
var Live = require("../src/live.js");
var Clip = require("../src/clip.js");
var Reader = require("../src/reader.js");
var support = require("../test_support/fake_live.js");
var fakeLive = support.fakeLive;

var NOTES = [
    { pitch: 60, start_time: 0, duration: 1 }, { pitch: 62, start_time: 4, duration: 1 },
    { pitch: 64, start_time: 5.5, duration: 0.5 }, { pitch: 65, start_time: 9, duration: 1 }
];

function ramp(beat) { // Intensity automation: -40 dB at beat 4 rising to -10 dB at beat 8, flat after
    return beat <= 4 ? -40 : beat >= 8 ? -10 : -40 + (beat - 4) * 7.5;
}

function sessionSet(over) {
    return fakeLive(Object.assign({
        version: [12, 1, 0], tempo: 120, scenes: 3,
        device: { track: 0, index: 0 },
        detail: { track: 0, slot: 1 },
        tracks: [
            { name: "Melody", midi: true, slots: {
                0: { midi: true, notes: [{ pitch: 40, start_time: 0, duration: 4 }], looping: true, loop_start: 0, loop_end: 4, start_marker: 0, end_marker: 4 },
                1: { midi: true, notes: NOTES, looping: true, loop_start: 4, loop_end: 8, start_marker: 0, end_marker: 12,
                    envelopes: { Intensity: ramp } } } },
            { name: "Drums", midi: true },
            { name: "Ditto out", midi: false, slots: { 1: { midi: false, file_path: "/takes/first.wav" } } }
        ]
    }, over || {}));
}

test("reads the Clip View's clip on the device's track: notes in the loop brace, tempo, loop length", function () {
    var live = sessionSet();
    var ctx = Live.readContext(live.api, "new", "live_set tracks 2");
    assert.equal(ctx.bpm, 120);
    assert.equal(ctx.regionBeats, 4);
    assert.deepEqual(ctx.notes, [[62, 0, 1], [64, 1.5, 0.5]]);
    assert.equal(ctx.source.slot, 1);
    assert.equal(ctx.source.arrangement, false);
    var q = live.calls.filter(function (c) { return c.method === "get_notes_extended"; })[0];
    assert.deepEqual(q.args, [0, 128, 4, 4]);
});

// Read a job's context the way the device does: envelope calls spread over clock ticks.
function readSpread(live, mode, targetPath) {
    var clock = support.fakeClock(), out = { ticks: 0 };
    var reader = Reader.create({ api: live.api, clock: clock });
    reader.read(mode, targetPath, function (ctx) { out.ctx = ctx; }, function (e) { out.error = e; },
        function () { out.ticks += 1; });
    out.syncDone = !!out.ctx;
    clock.advance(60000);
    return out;
}

test("the Intensity envelope is sampled on a 1/16-note grid through value_at_time and reduced to its breakpoints", function () {
    var live = sessionSet();
    var ctx = readSpread(live, "new", "").ctx;
    var times = live.calls.filter(function (c) { return c.method === "value_at_time"; }).map(function (c) { return c.args[0]; });
    assert.equal(times.length, 17, "4 beats of loop in sixteenths, both ends included");
    assert.equal(times[0], 4);
    assert.equal(times[1], 4.25);
    assert.equal(times[times.length - 1], 8);
    assert.ok(ctx.envelope.length >= 2 && ctx.envelope.length <= 4, JSON.stringify(ctx.envelope));
    assert.deepEqual(ctx.envelope[0], [0, -40]);
    assert.deepEqual(ctx.envelope[ctx.envelope.length - 1], [4, -10]);
    var env = live.calls.filter(function (c) { return c.method === "automation_envelope"; })[0];
    assert.equal(env.args[0], "id");
    assert.equal(String(env.args[1]), live.param("Intensity").id, "asks for the device's own Intensity parameter");
});

test("a 60 s loop reads its envelope in at most 256 calls, a batch per tick, never all at once", function () {
    var live = sessionSet({ tempo: 120, tracks: [{ name: "Melody", midi: true, slots: { 0: { midi: true, notes: NOTES,
        looping: true, loop_start: 0, loop_end: 120, start_marker: 0, end_marker: 120, envelopes: { Intensity: ramp } } } }],
    detail: { track: 0, slot: 0 } });
    var perTick = [], clock = support.fakeClock(), done = null;
    var reader = Reader.create({ api: live.api, clock: clock });
    var count = function () { return live.calls.filter(function (c) { return c.method === "value_at_time"; }).length; };
    reader.read("new", "", function (ctx) { done = ctx; }, function (e) { throw e; }, function () { perTick.push(count()); });
    assert.equal(count(), 0, "no envelope call before Max gets the main thread back");
    assert.equal(done, null);
    clock.advance(60000);
    assert.ok(done && done.envelope.length >= 2, "the read finishes");
    assert.ok(count() <= Clip.MAX_ENVELOPE_CALLS, count() + " calls");
    perTick.forEach(function (n, i) {
        assert.ok(n - (i ? perTick[i - 1] : 0) <= Reader.CALLS_PER_TICK, "tick " + i + " made " + n + " calls so far");
    });
    assert.ok(perTick.length >= Math.ceil(count() / Reader.CALLS_PER_TICK));
});

test("a read cancelled midway makes no more calls and never reports done", function () {
    var live = sessionSet(), clock = support.fakeClock(), done = false;
    var reader = Reader.create({ api: live.api, clock: clock });
    reader.read("new", "", function () { done = true; }, function (e) { throw e; });
    reader.cancel();
    clock.advance(60000);
    assert.equal(done, false);
    assert.equal(live.calls.filter(function (c) { return c.method === "value_at_time"; }).length, 0);
    assert.equal(clock.pending(), 0);
});

test("no envelope on the clip: the read completes at once, envelope null, the job falls back to the dial", function () {
    var live = sessionSet({ detail: { track: 0, slot: 0 } });
    var out = readSpread(live, "new", "");
    assert.equal(out.syncDone, true);
    var ctx = out.ctx;
    assert.equal(ctx.envelope, null);
    assert.deepEqual(ctx.notes, [[40, 0, 4]]);
});

test("without a Clip View clip on this track it takes the playing clip, then the first clip", function () {
    var live = sessionSet({ detail: null });
    assert.equal(Live.readContext(live.api, "new", "").source.slot, 0);
    live.tracks[0].data.playing = 1;
    assert.equal(Live.readContext(live.api, "new", "").source.slot, 1);
    var other = sessionSet({ detail: { track: 2, slot: 1 } }); // the Clip View shows another track's clip
    assert.equal(Live.readContext(other.api, "new", "").source.slot, 0);
});

test("a track without clips gives a clear error", function () {
    var live = fakeLive({ tracks: [{ name: "Empty", midi: true }], detail: null });
    assert.throws(function () { Live.readContext(live.api, "new", ""); }, /No MIDI clip on this track/);
});

test("inpaint covers the whole clip, regenerates the loop brace, and uses the audio clip beside it", function () {
    var live = sessionSet();
    var ctx = Live.readContext(live.api, "inpaint", "live_set tracks 2");
    assert.equal(ctx.regionBeats, 12);
    assert.deepEqual(ctx.reference, { path: "/takes/first.wav", startBeats: 4, endBeats: 8 });
    assert.equal(ctx.notes.length, 4);
    assert.equal(ctx.placeOffset, 0);
});

test("arrangement clips: loop markers and notes are read, the envelope is not (Live keeps it on the track)", function () {
    var live = fakeLive({
        tempo: 90, detail: { track: 0, arrangement: 0 },
        tracks: [{ name: "Lead", midi: true, arrangement: [{ midi: true, notes: NOTES, looping: false, loop_start: 0, loop_end: 8,
            start_marker: 2, end_marker: 10, start_time: 32, end_time: 40, envelopes: { Intensity: ramp } }] },
        { name: "Audio", midi: false, arrangement: [{ midi: false, file_path: "/a.wav", start_time: 30, end_time: 50 }] }]
    });
    var ctx = Live.readContext(live.api, "continue", "live_set tracks 1");
    assert.equal(ctx.source.arrangement, true);
    assert.equal(ctx.regionBeats, 8);
    assert.deepEqual(ctx.notes, [[62, 2, 1], [64, 3.5, 0.5], [65, 7, 1]]);
    assert.equal(ctx.envelope, null);
    assert.match(ctx.envelopeNote, /arrangement/);
    assert.equal(ctx.reference.path, "/a.wav");
});

test("lists only audio tracks for the target menu", function () {
    var names = Live.audioTracks(sessionSet().api).map(function (t) { return t.name + "@" + t.path; });
    assert.deepEqual(names, ["Ditto out@live_set tracks 2"]);
});

test("session result: ClipSlot.create_audio_clip(path) in the first empty slot from the source's scene", function () {
    var live = sessionSet();
    var ctx = Live.readContext(live.api, "new", "live_set tracks 2");
    var placed = Live.placeResult(live.api, "/out/clip-1.wav", ctx.source, Number(live.tracks[2].id), "ditto 7", ctx.placeOffset);
    assert.deepEqual(placed, { how: "session", where: 2 }, "scene 1 is taken on the target, so scene 2");
    var create = live.calls.filter(function (c) { return c.method === "create_audio_clip"; });
    assert.deepEqual(create, [{ path: "live_set tracks 2 clip_slots 2", method: "create_audio_clip", args: ["/out/clip-1.wav"] }]);
    assert.ok(live.calls.some(function (c) { return c.method === "set" && c.args[0] === "name" && c.args[1] === "ditto 7"; }));
    // All slots full: a scene is created and the clip goes there.
    live.tracks[2].slots[0].clip = live.tracks[2].slots[1].clip;
    Live.placeResult(live.api, "/out/clip-2.wav", ctx.source, Number(live.tracks[2].id), "", 0);
    assert.ok(live.calls.some(function (c) { return c.method === "create_scene"; }));
    assert.equal(live.tracks[2].slots[3].clip.data.file_path, "/out/clip-2.wav");
});

test("arrangement result: Track.create_audio_clip(path, beat) where the loop brace starts", function () {
    var live = fakeLive({
        detail: { track: 0, arrangement: 0 },
        tracks: [{ name: "Lead", midi: true, arrangement: [{ midi: true, notes: NOTES, looping: true, loop_start: 4, loop_end: 8,
            start_marker: 0, end_marker: 12, start_time: 16, end_time: 28 }] }, { name: "Out", midi: false }]
    });
    var ctx = Live.readContext(live.api, "new", "live_set tracks 1");
    var placed = Live.placeResult(live.api, "/out/a b.wav", ctx.source, Number(live.tracks[1].id), "x", ctx.placeOffset);
    assert.deepEqual(placed, { how: "arrangement", where: 20, bar: 6 }, "beat 20 is bar 6 in 4/4");
    var create = live.calls.filter(function (c) { return c.method === "create_audio_clip"; });
    assert.deepEqual(create, [{ path: "live_set tracks 1", method: "create_audio_clip", args: ["/out/a b.wav", 20] }]);
});

test("Live older than 12.0.5: no create_audio_clip call, the file is left for drag and drop", function () {
    [[11, 3, 25], [12, 0, 4]].forEach(function (v) {
        var live = sessionSet({ version: v });
        var ctx = Live.readContext(live.api, "new", "live_set tracks 2");
        assert.deepEqual(Live.placeResult(live.api, "/out/c.wav", ctx.source, Number(live.tracks[2].id), "n", 0),
            { how: "manual", where: "/out/c.wav" });
        assert.ok(!live.calls.some(function (c) { return c.method === "create_audio_clip"; }));
    });
    assert.equal(Live.canCreateAudioClips([12, 0, 5]), true);
    assert.equal(Live.canCreateAudioClips([13, 0, 0]), true);
});

test("idOf reads the id answers LiveAPI gives across versions", function () {
    assert.equal(Live.idOf(["id", 12]), 12);
    assert.equal(Live.idOf("id 12"), 12);
    assert.equal(Live.idOf(["id", 0]), 0);
    assert.equal(Live.idOf(7), 7);
});

test("a WAV path with spaces: taken whole by a Live that reads it verbatim", function () {
    var live = sessionSet();
    var ctx = Live.readContext(live.api, "new", "live_set tracks 2");
    Live.placeResult(live.api, "/Users/me/My Music/ditto out/live 1.wav", ctx.source, Number(live.tracks[2].id), "n", 0);
    assert.equal(live.tracks[2].slots[2].clip.data.file_path, "/Users/me/My Music/ditto out/live 1.wav");
    assert.equal(live.calls.filter(function (c) { return c.method === "create_audio_clip"; }).length, 1, "no retry needed");
});

test("a WAV path with spaces: a Live that splits at spaces gets the quoted path on the retry", function () {
    var live = sessionSet({ audioPaths: "split" });
    var ctx = Live.readContext(live.api, "new", "live_set tracks 2");
    var wav = "C:\\Users\\Jo Smith\\ditto_live_out\\live-1.wav";
    assert.deepEqual(Live.placeResult(live.api, wav, ctx.source, Number(live.tracks[2].id), "n", 0), { how: "session", where: 2 });
    var args = live.calls.filter(function (c) { return c.method === "create_audio_clip"; }).map(function (c) { return c.args[0]; });
    assert.deepEqual(args, [wav, "\"" + wav + "\""]);
    assert.equal(live.tracks[2].slots[2].clip.data.file_path, wav);
    assert.equal(live.errors.length, 1, "the first, unquoted call failed the way Live fails: silently");
});

test("a WAV path with spaces that Live cannot load: a clear error, nothing placed (the device falls back to drag and drop)", function () {
    var live = sessionSet({ audioPaths: "broken" });
    var ctx = Live.readContext(live.api, "new", "live_set tracks 2");
    assert.throws(function () {
        Live.placeResult(live.api, "/Users/me/My Music/x.wav", ctx.source, Number(live.tracks[2].id), "n", 0);
    }, /path has spaces.*--output-dir/);
    assert.equal(live.tracks[2].slots[2].clip, null);
    // A path without spaces is unaffected by the same Live.
    Live.placeResult(live.api, "/Users/me/ditto_live_out/x.wav", ctx.source, Number(live.tracks[2].id), "n", 0);
    assert.equal(live.tracks[2].slots[2].clip.data.file_path, "/Users/me/ditto_live_out/x.wav");
});

test("arrangement placement checks the clip appeared and quotes a spaced path too", function () {
    var live = fakeLive({
        audioPaths: "split", detail: { track: 0, arrangement: 0 },
        tracks: [{ name: "Lead", midi: true, arrangement: [{ midi: true, notes: NOTES, looping: false, loop_start: 0, loop_end: 8,
            start_marker: 0, end_marker: 8, start_time: 8, end_time: 16 }] }, { name: "Out", midi: false }]
    });
    var ctx = Live.readContext(live.api, "new", "live_set tracks 1");
    Live.placeResult(live.api, "/a b/c.wav", ctx.source, Number(live.tracks[1].id), "x", 0);
    assert.equal(live.tracks[1].arrangement.length, 1);
    assert.equal(live.tracks[1].arrangement[0].data.file_path, "/a b/c.wav");
    assert.equal(live.tracks[1].arrangement[0].data.start_time, 8);
});
