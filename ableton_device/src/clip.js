/*
 * clip.js — turn what the device reads from Live into a job (ditto_live/generation/jobspec.py's language).
 *
 * Pure functions, no Live Object Model: the region a clip's loop markers define, the notes inside
 * it (melody target, in beats at the song tempo), where to sample an automation envelope (a 1/16-note
 * grid, capped in calls) and its reduction to the breakpoints that matter (Ramer-Douglas-Peucker
 * within a dB tolerance: a few dozen points; the server interpolates them to its frame rate), and
 * the job JSON itself.
 *
 * ES5 only; see protocol.js for how Node and Max load it.
 */
var DittoClip = (function () {
    "use strict";

    var ENVELOPE_GRID_BEATS = 0.25; // sample automation every 1/16 note
    var MAX_ENVELOPE_CALLS = 256; // at most this many value_at_time calls per job
    var BEATS_PER_BAR = 4; // jobspec's unit: its `bars` are 4 beats (quarter notes), whatever the clip's meter
    var MAX_BARS = 64; // jobspec: 0 < bars <= 64
    var MAX_SECONDS = 60; // jobspec: 0 < seconds <= 60

    // Menus: index -> job value. The patcher's live.menu items must match the labels (a test checks).
    var CHOICES = {
        // Tag values of the embedded corpus (ditto_live/data: sources.py genres, arrange.py families).
        genre: {
            labels: ["Any", "Chorale", "Folk", "Irish Folk", "Fiddle", "Renaissance", "Dance"],
            values: ["", "chorale", "folk", "irish folk", "fiddle", "renaissance", "dance"]
        },
        mood: { labels: ["Any", "Major", "Minor"], values: ["", "major", "minor"] },
        instrument: {
            labels: ["Any", "Piano", "Electric Piano", "Organ", "Strings", "Guitar", "Woodwinds", "Brass", "Choir",
                "Mallets", "Harp", "Synth", "Accordion"],
            values: ["", "piano", "electric piano", "organ", "strings", "guitar", "woodwinds", "brass", "choir",
                "mallets", "harp", "synth", "accordion"]
        },
        // Quality presets: method, K optimisation steps (0 = the control's default), M, T (0 = the control's).
        quality: {
            labels: ["Draft", "Normal", "High", "DITTO (slow)"],
            values: [
                { method: "ditto2", steps: 20, surrogate: "1", decode_steps: 1 },
                { method: "ditto2", steps: 0, surrogate: "1", decode_steps: 0 },
                { method: "ditto2", steps: 150, surrogate: "adaptive", decode_steps: 4 },
                { method: "ditto", steps: 0, surrogate: "1", decode_steps: 2 }
            ]
        },
        mode: { labels: ["New", "Inpaint", "Continue", "Loop"], values: ["new", "inpaint", "continue", "loop"] }
    };

    function round(x, digits) {
        var p = Math.pow(10, digits);
        return Math.round(x * p) / p;
    }

    /*
     * The region of a clip the job covers, in clip beats: the loop brace when looping, else the
     * start/end markers. clip: {looping, loop_start, loop_end, start_marker, end_marker}.
     */
    function regionOf(clip) {
        var start = clip.looping ? clip.loop_start : clip.start_marker;
        var end = clip.looping ? clip.loop_end : clip.end_marker;
        return { start: start, end: end, beats: end - start };
    }

    /*
     * Notes of get_notes_extended ({pitch, start_time, duration, mute, ...}) inside [start, end),
     * as jobspec triples [pitch, start, duration] in beats from `start`, sorted; muted notes and
     * the parts of notes outside the region are dropped.
     */
    function notesInRegion(notes, start, end) {
        var out = [];
        for (var i = 0; i < notes.length; i++) {
            var n = notes[i];
            if (n.mute) {
                continue;
            }
            var s = Math.max(n.start_time, start), e = Math.min(n.start_time + n.duration, end);
            if (e - s <= 1e-6) {
                continue;
            }
            out.push([Math.round(n.pitch), round(s - start, 4), round(e - s, 4)]);
        }
        out.sort(function (a, b) { return a[1] - b[1] || a[0] - b[0]; });
        return out;
    }

    /*
     * Where to sample an automation envelope over `beats` beats: offsets (in beats from the region's
     * start) on a musical grid of `gridBeats` (0.25 = a 1/16 note), the region's end included. A long
     * region gets a coarser, even grid so that there are at most maxCalls offsets: each one is a
     * synchronous LOM call on Max's main thread. The server interpolates the points to its frame rate.
     */
    function envelopeGrid(beats, gridBeats, maxCalls) {
        var step = Math.max(gridBeats, beats / Math.max(1, maxCalls - 1));
        var n = Math.max(1, Math.ceil(beats / step - 1e-9));
        var out = [];
        for (var i = 0; i < n; i++) {
            out.push(round(i * step, 6));
        }
        out.push(beats);
        return out;
    }

    // Perpendicular-in-value distance of point p from the chord a-b (value error at p's time).
    function valueError(a, b, p) {
        if (b[0] === a[0]) {
            return Math.abs(p[1] - a[1]);
        }
        var v = a[1] + (b[1] - a[1]) * (p[0] - a[0]) / (b[0] - a[0]);
        return Math.abs(p[1] - v);
    }

    /*
     * Ramer-Douglas-Peucker on [[t, v], ...]: the fewest breakpoints whose straight lines stay within
     * `tolerance` (in value units) of every sample. Endpoints are always kept.
     */
    function simplify(points, tolerance) {
        if (points.length <= 2) {
            return points.slice();
        }
        var keep = [];
        for (var i = 0; i < points.length; i++) {
            keep.push(false);
        }
        keep[0] = keep[points.length - 1] = true;
        var stack = [[0, points.length - 1]];
        while (stack.length) {
            var seg = stack.pop(), lo = seg[0], hi = seg[1], worst = -1, at = -1;
            for (var j = lo + 1; j < hi; j++) {
                var d = valueError(points[lo], points[hi], points[j]);
                if (d > worst) {
                    worst = d;
                    at = j;
                }
            }
            if (at >= 0 && worst > tolerance) {
                keep[at] = true;
                stack.push([lo, at]);
                stack.push([at, hi]);
            }
        }
        var out = [];
        for (var k = 0; k < points.length; k++) {
            if (keep[k]) {
                out.push(points[k]);
            }
        }
        return out;
    }

    /*
     * An intensity envelope ready for the job: [[offset, dB], ...] samples reduced within `toleranceDb`,
     * and, if still longer than maxPoints, reduced again with a doubled tolerance until it fits.
     */
    function envelopePoints(samples, toleranceDb, maxPoints) {
        var tol = toleranceDb, pts = simplify(samples, tol);
        while (pts.length > maxPoints) {
            tol *= 2;
            pts = simplify(samples, tol);
        }
        var out = [];
        for (var i = 0; i < pts.length; i++) {
            out.push([round(pts[i][0], 4), round(pts[i][1], 2)]);
        }
        return out;
    }

    function choice(field, index) {
        var c = CHOICES[field];
        var i = Math.max(0, Math.min(c.values.length - 1, Math.round(index || 0)));
        return c.values[i];
    }

    /*
     * Build the job dict. s (settings): {intensityDb, useMelody, useIntensity, genre, mood,
     * instrument, quality, mode (indices), seed, caption, sampleRateOut}. d (what was read from Live):
     * {bpm, beatsPerBar (the clip's meter: 3 in 3/4 and 6/8; 4 when absent), regionBeats, notes (triples),
     * envelope (points or null), reference ({path, startBeats, endBeats}) or null}. Throws an Error with a producer-readable message when the job is impossible.
     */
    function buildJob(s, d) {
        var mode = choice("mode", s.mode), q = choice("quality", s.quality);
        var bars = d.regionBeats / BEATS_PER_BAR, seconds = d.regionBeats * 60 / d.bpm;
        if (!(d.regionBeats > 0)) {
            throw new Error("The clip's loop is empty: set the loop brace over the bars to generate.");
        }
        if (bars > MAX_BARS || seconds > MAX_SECONDS + 1e-9) {
            throw new Error("The loop is " + round(seconds, 1) + " s (" + round(bars, 2) + " bars); the server makes up to "
                + MAX_SECONDS + " s. Shorten the loop brace.");
        }
        var job = {
            method: q.method,
            bars: round(bars, 6),
            bpm: round(d.bpm, 4),
            seed: Math.max(0, Math.round(s.seed || 0)),
            steps: q.steps,
            surrogate: q.surrogate,
            decode_steps: q.decode_steps,
            sample_rate_out: s.sampleRateOut || 44100,
            name: "live",
            tags: {},
            controls: []
        };
        var fields = ["genre", "mood", "instrument"];
        for (var i = 0; i < fields.length; i++) {
            var v = choice(fields[i], s[fields[i]]);
            if (v) {
                job.tags[fields[i]] = v;
            }
        }
        if (s.useMelody && d.notes && d.notes.length) {
            job.controls.push({ type: "melody", notes: d.notes, unit: "beats" });
        }
        if (s.useIntensity) {
            var pts = d.envelope && d.envelope.length >= 2 ? d.envelope
                : [[0, round(s.intensityDb, 2)], [round(d.regionBeats, 4), round(s.intensityDb, 2)]];
            job.controls.push({ type: "intensity", points: pts, unit: "beats" });
        }
        var caption = (s.caption || "").replace(/^\s+|\s+$/g, "");
        if (caption) {
            job.controls.push({ type: "text", caption: caption });
        }
        if (mode === "inpaint" || mode === "continue") {
            if (!d.reference) {
                throw new Error("Inpaint/Continue needs an audio clip on the target track beside this clip.");
            }
            if (mode === "inpaint") {
                job.controls.push({
                    type: "inpaint", reference: d.reference.path, unit: "seconds",
                    start: round(d.reference.startBeats * 60 / d.bpm, 4),
                    end: round(d.reference.endBeats * 60 / d.bpm, 4)
                });
            } else {
                job.controls.push({
                    type: "outpaint", reference: d.reference.path,
                    overlap: round((d.beatsPerBar || BEATS_PER_BAR) * 60 / d.bpm, 4) // one bar of the clip's meter
                });
            }
        } else if (mode === "loop") {
            job.controls.push({ type: "loop" });
        }
        return job;
    }

    return {
        ENVELOPE_GRID_BEATS: ENVELOPE_GRID_BEATS,
        MAX_ENVELOPE_CALLS: MAX_ENVELOPE_CALLS,
        BEATS_PER_BAR: BEATS_PER_BAR,
        CHOICES: CHOICES,
        choice: choice,
        regionOf: regionOf,
        notesInRegion: notesInRegion,
        envelopeGrid: envelopeGrid,
        simplify: simplify,
        envelopePoints: envelopePoints,
        buildJob: buildJob
    };
})();

if (typeof module !== "undefined" && module.exports) {
    module.exports = DittoClip;
}
