// Built by ableton_device/build_amxd.py from ditto_live/protocol.json and ableton_device/src/*.js.
// Do not edit: edit the sources and rebuild.
var DITTO_PROTOCOL = {"version":1,"error_codes":["bad_request","busy","cancelled","not_found","failed","forbidden","too_large"],"live_controls":["intensity","cfg","seed","bpm"],"live_control_ranges":{"intensity":{"low":-100,"high":0,"integer":false},"cfg":{"low":0,"high":20,"integer":false},"seed":{"low":0,"high":2147483647,"integer":true},"bpm":{"low":20,"high":400,"integer":false}},"messages":[{"address":"/ditto/server/ping","direction":"request","args":[{"name":"token","type":"s"}],"replies":["/ditto/server/pong"],"doc":"liveness check; answered at once even while a job runs"},{"address":"/ditto/server/status","direction":"request","args":[],"replies":["/ditto/server/state"],"doc":"server state: queue length, running job, model, device"},{"address":"/ditto/job/submit","direction":"request","args":[{"name":"job_id","type":"s"},{"name":"spec","type":"s"}],"replies":["/ditto/job/accepted","/ditto/job/progress","/ditto/job/done","/ditto/job/error"],"doc":"submit a job; spec is the job JSON (see ditto_live/generation/jobspec.py) or '@' + path of a JSON file"},{"address":"/ditto/job/chunk","direction":"request","args":[{"name":"job_id","type":"s"},{"name":"index","type":"i"},{"name":"total","type":"i"},{"name":"data","type":"s"}],"replies":["/ditto/job/accepted","/ditto/job/progress","/ditto/job/done","/ditto/job/error"],"doc":"one piece of a job JSON too big for a datagram; the job is submitted when all pieces arrived"},{"address":"/ditto/job/cancel","direction":"request","args":[{"name":"job_id","type":"s"}],"replies":["/ditto/job/done","/ditto/job/error"],"doc":"cancel a queued or running job of this client (the sender that submitted it); it ends with error code 'cancelled' within one step"},{"address":"/ditto/job/revoke","direction":"request","args":[{"name":"job_id","type":"s"},{"name":"token","type":"s"}],"replies":["/ditto/job/done","/ditto/job/error"],"doc":"cancel a job from any client that holds the token its submitter got in /ditto/job/accepted"},{"address":"/ditto/job/status","direction":"request","args":[{"name":"job_id","type":"s"}],"replies":["/ditto/job/state"],"doc":"ask where a job is: queued, running, done, error or unknown"},{"address":"/ditto/control/set","direction":"request","args":[{"name":"name","type":"s"},{"name":"value","type":"f"}],"replies":["/ditto/control/value","/ditto/error"],"doc":"set a live control (intensity, cfg, seed, bpm; the ranges of the job fields): it steers the stream and fills in this client's later jobs that leave the key out"},{"address":"/ditto/control/reset","direction":"request","args":[{"name":"name","type":"s"}],"replies":["/ditto/control/state","/ditto/error"],"doc":"forget this client's live control name ('' = all of them)"},{"address":"/ditto/stream/start","direction":"request","args":[{"name":"spec","type":"s"}],"replies":["/ditto/stream/state","/ditto/error"],"doc":"start continuous generation (chained outpainting) into the audio output"},{"address":"/ditto/stream/stop","direction":"request","args":[],"replies":["/ditto/stream/state","/ditto/error"],"doc":"stop continuous generation"},{"address":"/ditto/midi/take","direction":"request","args":[{"name":"job_id","type":"s"},{"name":"spec","type":"s"}],"replies":["/ditto/job/accepted","/ditto/job/progress","/ditto/job/done","/ditto/job/error"],"doc":"submit the MIDI take (recorded since MIDI Start or /ditto/midi/reset) as a job: its notes become a melody control and its CC sweep an intensity curve, in beats at the tempo in force, its length whole bars; spec is a base job JSON ('' = none) whose other keys and controls are kept"},{"address":"/ditto/midi/reset","direction":"request","args":[],"replies":["/ditto/midi/state","/ditto/error"],"doc":"start a new MIDI take: forget the notes and CC recorded so far"},{"address":"/ditto/client/subscribe","direction":"request","args":[{"name":"port","type":"i"}],"replies":["/ditto/client/subscribed","/ditto/error"],"doc":"also send this client's replies, and stream state, to this UDP port on the sender's host"},{"address":"/ditto/client/unsubscribe","direction":"request","args":[{"name":"port","type":"i"}],"replies":["/ditto/client/subscribed"],"doc":"stop sending replies to this port"},{"address":"/ditto/server/pong","direction":"reply","args":[{"name":"token","type":"s"},{"name":"version","type":"i"}],"replies":[],"doc":"answer to ping, with the protocol version"},{"address":"/ditto/server/state","direction":"reply","args":[{"name":"state","type":"s"}],"replies":[],"doc":"JSON: queue, running job, model, device"},{"address":"/ditto/job/accepted","direction":"reply","args":[{"name":"job_id","type":"s"},{"name":"position","type":"i"},{"name":"token","type":"s"}],"replies":[],"doc":"the job is queued at this position; the token lets another client cancel it (/ditto/job/revoke)"},{"address":"/ditto/job/progress","direction":"reply","args":[{"name":"job_id","type":"s"},{"name":"stage","type":"s"},{"name":"step","type":"i"},{"name":"total","type":"i"},{"name":"loss","type":"f"}],"replies":[],"doc":"throttled progress: stage is parse|target|optimise|decode|vocode|write"},{"address":"/ditto/job/done","direction":"reply","args":[{"name":"job_id","type":"s"},{"name":"wav","type":"s"},{"name":"summary","type":"s"}],"replies":[],"doc":"terminal: absolute WAV path and a JSON summary (seed, timings, losses, sidecar path)"},{"address":"/ditto/job/error","direction":"reply","args":[{"name":"job_id","type":"s"},{"name":"code","type":"s"},{"name":"message","type":"s"}],"replies":[],"doc":"terminal: code is bad_request|busy|cancelled|not_found|failed|forbidden|too_large"},{"address":"/ditto/job/state","direction":"reply","args":[{"name":"job_id","type":"s"},{"name":"state","type":"s"}],"replies":[],"doc":"queued|running|done|error|unknown"},{"address":"/ditto/control/value","direction":"reply","args":[{"name":"name","type":"s"},{"name":"value","type":"f"}],"replies":[],"doc":"the control's value now in force"},{"address":"/ditto/control/state","direction":"reply","args":[{"name":"controls","type":"s"}],"replies":[],"doc":"JSON: this client's live controls now in force"},{"address":"/ditto/stream/state","direction":"reply","args":[{"name":"state","type":"s"},{"name":"underruns","type":"i"}],"replies":[],"doc":"stopped|running, underruns so far"},{"address":"/ditto/midi/state","direction":"reply","args":[{"name":"notes","type":"i"},{"name":"bpm","type":"f"}],"replies":[],"doc":"the MIDI take: notes recorded, tempo in force"},{"address":"/ditto/client/subscribed","direction":"reply","args":[{"name":"port","type":"i"},{"name":"on","type":"i"}],"replies":[],"doc":"subscription state for the port"},{"address":"/ditto/error","direction":"reply","args":[{"name":"code","type":"s"},{"name":"message","type":"s"}],"replies":[],"doc":"a datagram that was not a well-formed request (unknown address, wrong types, a malformed bundle), or a request that cannot be served (a control out of range, no stream, too many subscriptions, status rate limit, replies withheld over the reply budget)"}]};
// ---- protocol.js ----
/*
 * protocol.js — the device's view of ditto_live/protocol.json (the server's one table).
 *
 * Every message the device sends is built here from the table, never from a hand-copied list:
 * build() looks the address up, checks direction, argument count and OSC types, and returns the
 * Max message [address, arg0, arg1, ...] that udpsend turns into an OSC datagram. Replies are
 * decoded by name with the same table. chunk() splits a job JSON that would not fit one
 * datagram into /ditto/job/chunk messages.
 *
 * ES5 only (Max's `js` object): var, function, no modules. Node loads it through module.exports;
 * the build script concatenates it (after the table as `var DITTO_PROTOCOL = {...};`) for Max.
 */
var DittoProtocol = (function () {
    "use strict";

    // Bytes of a string once UTF-8 encoded (OSC strings are UTF-8 in udpsend and python-osc).
    function utf8Length(s) {
        var n = 0;
        for (var i = 0; i < s.length; i++) {
            var c = s.charCodeAt(i);
            if (c < 0x80) {
                n += 1;
            } else if (c < 0x800) {
                n += 2;
            } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
                n += 4; // surrogate pair: one 4-byte code point
                i += 1;
            } else {
                n += 3;
            }
        }
        return n;
    }

    // Size of an OSC string field: bytes + NUL terminator, padded to a multiple of 4.
    function oscStringSize(s) {
        return (utf8Length(s) + 4) & ~3;
    }

    // Exact OSC datagram size of a message with these type tags and values.
    function oscMessageSize(address, types, values) {
        var n = oscStringSize(address) + oscStringSize("," + types);
        for (var i = 0; i < types.length; i++) {
            n += types.charAt(i) === "s" ? oscStringSize(String(values[i])) : 4;
        }
        return n;
    }

    function checkValue(address, arg, value) {
        var t = arg.type;
        if (t === "s" && typeof value !== "string") {
            throw new Error(address + ": argument '" + arg.name + "' must be a string");
        }
        if (t === "i" && !(typeof value === "number" && Math.floor(value) === value && isFinite(value))) {
            throw new Error(address + ": argument '" + arg.name + "' must be an integer");
        }
        if (t === "f" && !(typeof value === "number" && isFinite(value))) {
            throw new Error(address + ": argument '" + arg.name + "' must be a number");
        }
    }

    /*
     * Wrap a protocol table (the parsed protocol.json). Returns an object with:
     *   version                      the table's protocol version
     *   spec(address)                the table entry, or throws for an unknown address
     *   typeTags(address)            e.g. "ss"
     *   build(address, values)       [address, ...args]; values is an array in table order or an
     *                                object keyed by argument name
     *   decode(address, args)        {name: value} for a reply, or null when it is not one
     *   chunk(jobId, json, maxBytes) /ditto/job/chunk messages whose datagrams fit maxBytes
     *   fits(message, maxBytes)      whether a built message's datagram fits maxBytes
     */
    function create(table) {
        if (!table || !table.messages) {
            throw new Error("protocol table missing: build the device with build_amxd.py");
        }
        var byAddress = {};
        for (var i = 0; i < table.messages.length; i++) {
            byAddress[table.messages[i].address] = table.messages[i];
        }

        function spec(address) {
            var m = byAddress[address];
            if (!m) {
                throw new Error("address not in the protocol table: " + address);
            }
            return m;
        }

        function typeTags(address) {
            var args = spec(address).args, s = "";
            for (var i = 0; i < args.length; i++) {
                s += args[i].type;
            }
            return s;
        }

        function build(address, values) {
            var m = spec(address);
            if (m.direction !== "request") {
                throw new Error(address + " is a reply; the device only sends requests");
            }
            var list = [];
            var named = values && !(values instanceof Array);
            var given = named ? values : (values || []);
            if (!named && given.length !== m.args.length) {
                throw new Error(address + ": expected " + m.args.length + " arguments, got " + given.length);
            }
            for (var i = 0; i < m.args.length; i++) {
                var v = named ? given[m.args[i].name] : given[i];
                if (v === undefined) {
                    throw new Error(address + ": missing argument '" + m.args[i].name + "'");
                }
                checkValue(address, m.args[i], v);
                list.push(v);
            }
            if (named) {
                for (var k in given) {
                    if (Object.prototype.hasOwnProperty.call(given, k) && !argNamed(m, k)) {
                        throw new Error(address + ": no argument named '" + k + "'");
                    }
                }
            }
            return [address].concat(list);
        }

        function argNamed(m, name) {
            for (var i = 0; i < m.args.length; i++) {
                if (m.args[i].name === name) {
                    return true;
                }
            }
            return false;
        }

        function decode(address, args) {
            var m = byAddress[address];
            if (!m || m.direction !== "reply" || args.length !== m.args.length) {
                return null;
            }
            var out = {};
            for (var i = 0; i < m.args.length; i++) {
                var v = args[i], t = m.args[i].type;
                // Max atoms: a numeric-looking symbol may arrive as a number and vice versa.
                out[m.args[i].name] = t === "s" ? String(v) : Number(v);
            }
            return out;
        }

        function fits(message, maxBytes) {
            return oscMessageSize(message[0], typeTags(message[0]), message.slice(1)) <= maxBytes;
        }

        // Split json into the fewest /ditto/job/chunk pieces whose datagrams fit maxBytes.
        function chunk(jobId, json, maxBytes) {
            var address = "/ditto/job/chunk";
            spec(address);
            var pieces = [], start = 0;
            while (start < json.length) {
                // Overhead of a chunk message with an empty data field (indices are 4 bytes each).
                var room = maxBytes - oscMessageSize(address, typeTags(address), [jobId, 0, 0, ""]);
                if (room < 16) {
                    throw new Error("datagram limit " + maxBytes + " is too small for a chunk");
                }
                var end = start, used = 0;
                // Data bytes are padded: keep (used + 1) rounded up to 4 within room + 4 (the empty pad).
                while (end < json.length) {
                    var c = json.charCodeAt(end);
                    var w = c < 0x80 ? 1 : c < 0x800 ? 2 : (c >= 0xd800 && c <= 0xdbff) ? 4 : 3;
                    var step = (c >= 0xd800 && c <= 0xdbff) ? 2 : 1;
                    if (((used + w + 4) & ~3) > room + 4) {
                        break;
                    }
                    used += w;
                    end += step;
                }
                pieces.push(json.substring(start, end));
                start = end;
            }
            var out = [];
            for (var i = 0; i < pieces.length; i++) {
                out.push(build(address, { job_id: jobId, index: i, total: pieces.length, data: pieces[i] }));
            }
            return out;
        }

        return {
            version: table.version,
            errorCodes: table.error_codes || [],
            spec: spec,
            typeTags: typeTags,
            build: build,
            decode: decode,
            fits: fits,
            chunk: chunk
        };
    }

    return {
        create: create,
        utf8Length: utf8Length,
        oscMessageSize: oscMessageSize
    };
})();

if (typeof module !== "undefined" && module.exports) {
    module.exports = DittoProtocol;
}

// ---- clip.js ----
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
    var BEATS_PER_BAR = 4; // jobspec: a bar is 4 beats
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
     * {bpm, regionBeats, notes (triples), envelope (points or null), reference ({path, startBeats,
     * endBeats}) or null}. Throws an Error with a producer-readable message when the job is impossible.
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
                    overlap: round(BEATS_PER_BAR * 60 / d.bpm, 4)
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

// ---- live.js ----
/*
 * live.js — what the device reads from and writes to Live, through the Live Object Model.
 *
 * Everything goes through `api(path)`, a function returning a LiveAPI object (Max's `new LiveAPI(path)`;
 * a fake in the node tests). LiveAPI returns properties as arrays of atoms and call() results as
 * arrays, strings or numbers depending on the Live version, so every read goes through the small
 * converters below.
 *
 * Reads: the song tempo (`live_set tempo`), the clip beside the device (the clip shown in the
 * Clip View when it sits on the device's track, else the playing clip, else the first clip), its
 * loop markers, its notes (Clip.get_notes_extended) and, for session clips, the envelope of the
 * device's own Intensity parameter (Clip.automation_envelope, then Envelope.value_at_time on a
 * 1/16-note grid, called by reader.js a few at a time).
 * Writes: the result onto the target audio track with ClipSlot.create_audio_clip(path) (session)
 * or Track.create_audio_clip(path, beat) (arrangement), both Live 12.0.5+, checking that the clip
 * appeared (and quoting a path with spaces when it did not).
 *
 * ES5 only; see protocol.js for how Node and Max load it.
 */
var DittoLive = (function (Clip) {
    "use strict";

    var MIN_VERSION_FOR_AUDIO_CLIPS = [12, 0, 5]; // create_audio_clip appeared in Live 12.0.5
    var INTENSITY_PARAM = "Intensity"; // the device's dial (its parameter long name)

    // An array from any realm (LiveAPI's answers need not come from the js object's own Array).
    function isArray(v) {
        return Object.prototype.toString.call(v) === "[object Array]";
    }

    function first(v) {
        return isArray(v) ? v[0] : v;
    }

    function num(v) {
        return Number(first(v));
    }

    function str(v) {
        return isArray(v) ? v.join(" ") : String(v);
    }

    function pathOf(a) {
        return String(a.unquotedpath !== undefined ? a.unquotedpath : a.path).replace(/^"|"$/g, "");
    }

    function exists(a) {
        return a && String(a.id) !== "0";
    }

    // The same object addressed by its id, so that its path is the canonical one
    // ("live_set tracks 2 clip_slots 0 clip", not "live_set view detail_clip").
    function canonical(api, a) {
        return exists(a) ? api("id " + a.id) : a;
    }

    // The id in an `id N` answer (array ["id", N], string "id N", or a bare number); 0 if none.
    function idOf(v) {
        if (isArray(v)) {
            for (var i = 0; i + 1 < v.length; i++) {
                if (v[i] === "id") {
                    return Number(v[i + 1]);
                }
            }
            return v.length === 1 ? Number(v[0]) || 0 : 0;
        }
        var m = /id\s+(\d+)/.exec(String(v));
        return m ? Number(m[1]) : Number(v) || 0;
    }

    function liveVersion(api) {
        var app = api("live_app");
        return [num(app.call("get_major_version")), num(app.call("get_minor_version")),
            num(app.call("get_bugfix_version"))];
    }

    function versionAtLeast(v, min) {
        for (var i = 0; i < min.length; i++) {
            if (v[i] !== min[i]) {
                return v[i] > min[i];
            }
        }
        return true;
    }

    function canCreateAudioClips(version) {
        return versionAtLeast(version, MIN_VERSION_FOR_AUDIO_CLIPS);
    }

    // "live_set tracks 3" for a device anywhere on track 3 (racks included).
    function trackPathOfDevice(api) {
        var m = /^live_set (?:tracks|return_tracks) \d+/.exec(pathOf(canonical(api, api("this_device"))));
        if (!m) {
            throw new Error("This device must sit on a MIDI track.");
        }
        return m[0];
    }

    function trackIndex(trackPath) {
        return Number(/\d+$/.exec(trackPath)[0]);
    }

    /*
     * The clip the device works from: {api, path, arrangement, slot (scene index or -1)}.
     * Preference: the Clip View's clip when it is on this track; the playing clip; the first clip.
     */
    function findSourceClip(api, trackPath) {
        var detail = canonical(api, api("live_set view detail_clip"));
        if (exists(detail) && pathOf(detail).indexOf(trackPath + " ") === 0) {
            return describeClip(detail);
        }
        var track = api(trackPath);
        var playing = num(track.get("playing_slot_index"));
        var slots = track.getcount("clip_slots");
        var order = [];
        if (playing >= 0) {
            order.push(playing);
        }
        for (var i = 0; i < slots; i++) {
            order.push(i);
        }
        for (var j = 0; j < order.length; j++) {
            var slot = api(trackPath + " clip_slots " + order[j]);
            if (num(slot.get("has_clip"))) {
                return describeClip(api(trackPath + " clip_slots " + order[j] + " clip"));
            }
        }
        throw new Error("No MIDI clip on this track: record or draw one, then click it.");
    }

    function describeClip(clip) {
        var p = pathOf(clip), slot = /clip_slots (\d+) clip$/.exec(p);
        return { api: clip, path: p, arrangement: p.indexOf("arrangement_clips") >= 0, slot: slot ? Number(slot[1]) : -1 };
    }

    function clipMarkers(clip) {
        return {
            looping: num(clip.get("looping")) === 1,
            loop_start: num(clip.get("loop_start")),
            loop_end: num(clip.get("loop_end")),
            start_marker: num(clip.get("start_marker")),
            end_marker: num(clip.get("end_marker"))
        };
    }

    function readNotes(clip, start, end) {
        var raw = clip.call("get_notes_extended", 0, 128, start, end - start);
        var obj = typeof raw === "string" ? JSON.parse(raw) : (isArray(raw) ? JSON.parse(raw.join(" ")) : raw);
        return Clip.notesInRegion((obj && obj.notes) || [], start, end);
    }

    // The device's own Intensity parameter: {id, min, max} or null.
    function intensityParameter(api) {
        var dev = api("this_device"), n = dev.getcount("parameters");
        for (var i = 0; i < n; i++) {
            var p = api("this_device parameters " + i);
            if (str(p.get("name")) === INTENSITY_PARAM) {
                return { id: Number(p.id), min: num(p.get("min")), max: num(p.get("max")) };
            }
        }
        return null;
    }

    /*
     * How to read the Intensity envelope of a session clip over [start, start + beats): {env (the
     * Envelope's LiveAPI), start, offsets (Clip.envelopeGrid), min, max}; null when the clip has no
     * such envelope. Reading is left to the caller (reader.js), which spreads the value_at_time
     * calls over several Max ticks.
     */
    function envelopePlan(api, clip, param, start, beats) {
        var envId = idOf(clip.call("automation_envelope", "id", param.id));
        if (!envId) {
            return null;
        }
        return {
            env: api("id " + envId), start: start, min: param.min, max: param.max,
            offsets: Clip.envelopeGrid(beats, Clip.ENVELOPE_GRID_BEATS, Clip.MAX_ENVELOPE_CALLS)
        };
    }

    /* One envelope sample: [offset, value clamped to the parameter's range]. */
    function envelopeSample(plan, offset) {
        var v = num(plan.env.call("value_at_time", plan.start + offset));
        return [offset, Math.max(plan.min, Math.min(plan.max, v))];
    }

    /*
     * The audio clip on the target track beside the source clip (same scene, or covering the
     * source's start in the arrangement): {path (file), api} or null.
     */
    function findReference(api, source, targetPath) {
        if (!source.arrangement) {
            var c = api(targetPath + " clip_slots " + source.slot + " clip");
            if (exists(c) && num(c.get("is_audio_clip"))) {
                return { path: str(c.get("file_path")), api: c };
            }
            return null;
        }
        var at = num(source.api.get("start_time")), t = api(targetPath), n = t.getcount("arrangement_clips");
        for (var i = 0; i < n; i++) {
            var a = api(targetPath + " arrangement_clips " + i);
            if (num(a.get("start_time")) <= at + 1e-6 && num(a.get("end_time")) > at + 1e-6) {
                return { path: str(a.get("file_path")), api: a };
            }
        }
        return null;
    }

    /*
     * Everything a job needs from Live but the envelope's values. mode: "new" | "inpaint" | "continue" |
     * "loop". Returns {bpm, regionBeats, notes, envelope (null: reader.js fills it from envelopePlan),
     * envelopePlan, reference, source, envelopeNote, placeOffset}.
     */
    function readContext(api, mode, targetPath) {
        var bpm = num(api("live_set").get("tempo"));
        var trackPath = trackPathOfDevice(api);
        var source = findSourceClip(api, trackPath);
        if (!num(source.api.get("is_midi_clip"))) {
            throw new Error("The clip on this track is not a MIDI clip.");
        }
        var m = clipMarkers(source.api), loop = Clip.regionOf(m);
        // Inpaint covers the whole clip and regenerates the loop brace; the others cover the brace.
        var region = mode === "inpaint" ? { start: m.start_marker, end: m.end_marker, beats: m.end_marker - m.start_marker } : loop;
        var out = {
            bpm: bpm, regionBeats: region.beats, notes: readNotes(source.api, region.start, region.end),
            envelope: null, envelopePlan: null, reference: null, source: source, envelopeNote: "",
            placeOffset: region.start - m.start_marker
        };
        var param = intensityParameter(api);
        if (param && !source.arrangement) {
            out.envelopePlan = envelopePlan(api, source.api, param, region.start, region.beats);
        } else if (source.arrangement) {
            out.envelopeNote = "arrangement automation is not readable; using the dial";
        }
        if ((mode === "inpaint" || mode === "continue") && targetPath) {
            var ref = findReference(api, source, targetPath);
            if (ref) {
                out.reference = { path: ref.path, startBeats: loop.start - m.start_marker, endBeats: loop.end - m.start_marker };
            }
        }
        return out;
    }

    /* Audio tracks of the set, for the target menu: [{name, path}]. */
    function audioTracks(api) {
        var set = api("live_set"), n = set.getcount("tracks"), out = [];
        for (var i = 0; i < n; i++) {
            var t = api("live_set tracks " + i);
            if (num(t.get("has_audio_input")) && !num(t.get("has_midi_input"))) {
                out.push({ name: str(t.get("name")), path: "live_set tracks " + i, id: Number(t.id) });
            }
        }
        return out;
    }

    // First empty slot of the target track at or after `from`, creating a scene when all are full.
    function emptySlot(api, targetPath, from) {
        var n = api(targetPath).getcount("clip_slots");
        for (var i = Math.max(0, from); i < n; i++) {
            if (!num(api(targetPath + " clip_slots " + i).get("has_clip"))) {
                return i;
            }
        }
        api("live_set").call("create_scene", -1);
        return n;
    }

    function hasSpace(path) {
        return /\s/.test(path);
    }

    /*
     * Call create_audio_clip with the WAV path, check that a clip appeared (created() -> bool: Live
     * reports a bad path in its log, not to the caller), and when it did not and the path has a space,
     * call again with the path in double quotes: a Live that splits its arguments at spaces takes a
     * quoted path whole. Throws a producer-readable Error when no clip appears.
     */
    function createAudioClip(target, wav, extra, created) { // extra: [] (slot) or [beat] (track)
        var forms = hasSpace(wav) ? [wav, "\"" + wav + "\""] : [wav], lastError = null;
        for (var i = 0; i < forms.length; i++) {
            try {
                if (extra.length) { // no apply(): LiveAPI.call is a native method
                    target.call("create_audio_clip", forms[i], extra[0]);
                } else {
                    target.call("create_audio_clip", forms[i]);
                }
            } catch (e) {
                lastError = e;
            }
            if (created()) {
                return;
            }
        }
        if (hasSpace(wav)) {
            throw new Error("Live could not load a WAV whose path has spaces (" + wav + "); start the server with "
                + "--output-dir on a folder without spaces");
        }
        throw lastError || new Error("Live did not create the clip from " + wav);
    }

    /*
     * Put the WAV on the target track beside the source clip (in the arrangement, offsetBeats after
     * the clip's start: where its loop brace begins). Returns {how, where}:
     * how = "session" (where = scene index) | "arrangement" (where = beat) | "manual" (old Live:
     * the caller shows the file for drag and drop). Throws on a Live error (e.g. a frozen track, or a
     * path Live would not load); the caller then shows the file for drag and drop.
     */
    function placeResult(api, wav, source, targetPath, name, offsetBeats) {
        if (!canCreateAudioClips(liveVersion(api))) {
            return { how: "manual", where: wav };
        }
        if (!targetPath || !exists(api(targetPath))) {
            throw new Error("Choose a target audio track in the device.");
        }
        if (source.arrangement) {
            var beat = Math.max(0, num(source.api.get("start_time")) + (offsetBeats || 0));
            var track = api(targetPath), before = track.getcount("arrangement_clips");
            createAudioClip(track, wav, [beat], function () { return api(targetPath).getcount("arrangement_clips") > before; });
            return { how: "arrangement", where: beat };
        }
        var slot = emptySlot(api, targetPath, source.slot);
        var slotPath = targetPath + " clip_slots " + slot;
        createAudioClip(api(slotPath), wav, [], function () { return num(api(slotPath).get("has_clip")) === 1; });
        var clip = api(slotPath + " clip");
        if (exists(clip) && name) {
            clip.set("name", name);
        }
        return { how: "session", where: slot };
    }

    return {
        MIN_VERSION_FOR_AUDIO_CLIPS: MIN_VERSION_FOR_AUDIO_CLIPS,
        idOf: idOf,
        liveVersion: liveVersion,
        canCreateAudioClips: canCreateAudioClips,
        trackPathOfDevice: trackPathOfDevice,
        trackIndex: trackIndex,
        findSourceClip: findSourceClip,
        readContext: readContext,
        envelopeSample: envelopeSample,
        audioTracks: audioTracks,
        placeResult: placeResult
    };
})(typeof module !== "undefined" && module.exports ? require("./clip.js") : DittoClip);

if (typeof module !== "undefined" && module.exports) {
    module.exports = DittoLive;
}

// ---- link.js ----
/*
 * link.js — the device's view of the server: is it there, is its engine warm, does it reach us?
 *
 * UDP has no connections and `udpsend` cannot receive, so the server only reaches the device through
 * a subscription of the device's reply port (`/ditto/client/subscribe`). A subscription lives in the
 * server process: a server started after the device, or restarted, knows nothing of it. So every
 * check sends, in this order: subscribe, ping, status. A server that answers at all has just been
 * (re-)subscribed, whenever it started.
 *
 * Checks run at init, on Check Server, when host or ports change, and on a heartbeat whose period
 * follows what the last check found (soon while the engine warms up, backing off while nothing
 * answers, slowly once ready), so a server started or restarted after the device is found and
 * subscribed without a click.
 *
 * States, shown in the device's server line:
 *   checking     a check is out, nothing heard yet
 *   not_running  no pong within the answer timeout
 *   connected    the server answered a ping; its engine state is not known yet
 *   warming      /ditto/server/state says {"engine": "warming"}: the model is loading
 *   ready        engine "ready", or a server that does not report "engine" (older servers)
 *   mismatch     the server speaks another protocol version
 *
 * deps: {send(address, values), subscribe() (sends /ditto/client/subscribe for the reply port),
 *        ui(msg), clock, version (the table's protocol version), name() ("host:port"), timeoutMs(),
 *        onStatus(status) (called with each parsed /ditto/server/state JSON)}
 *
 * ES5 only; see protocol.js for how Node and Max load it.
 */
var DittoLink = (function () {
    "use strict";

    var LABELS = {
        checking: "checking...", not_running: "not running", connected: "connected",
        warming: "warming up", ready: "ready", mismatch: "protocol mismatch"
    };
    var BEAT_READY_MS = 15000; // keep the subscription fresh and notice a restart within this
    var BEAT_WARMING_MS = 2000; // poll quickly until the engine is warm
    var BEAT_DOWN_MIN_MS = 2000; // first retry after no answer; doubles per miss
    var BEAT_DOWN_MAX_MS = 30000;

    // "ready" unless the status says the engine is warming (a server without the key is ready).
    function engineOf(status) {
        return status && status.engine === "warming" ? "warming" : "ready";
    }

    function create(deps) {
        var state = "checking", misses = 0, answerTimer = null, beatTimer = null, token = 0;
        var pendingReport = false; // a manual check reports its outcome on the status line
        var shown = "", stopped = false; // the server line's text; stop() was called (device removed)

        function show(next) {
            state = next;
            var text = "Server " + deps.name() + ": " + LABELS[next];
            if (text !== shown) {
                shown = text;
                deps.ui(["server", "set", text]);
            }
        }

        // A manual check's outcome on the status line; final: the last word of this check.
        function report(text, final) {
            if (pendingReport) {
                pendingReport = !final;
                deps.ui(["status", "set", text]);
            }
        }

        function cancelTimer(t) {
            if (t !== null) {
                deps.clock.cancel(t);
            }
            return null;
        }

        function nextBeatMs() {
            if (state === "warming" || state === "connected") {
                return BEAT_WARMING_MS;
            }
            if (state === "not_running" || state === "checking") {
                return Math.min(BEAT_DOWN_MAX_MS, BEAT_DOWN_MIN_MS * Math.pow(2, Math.max(0, misses - 1)));
            }
            return BEAT_READY_MS;
        }

        function scheduleBeat() {
            beatTimer = cancelTimer(beatTimer);
            beatTimer = deps.clock.after(nextBeatMs(), function () {
                beatTimer = null;
                check(false);
            });
        }

        function noAnswer() {
            answerTimer = null;
            misses += 1;
            show("not_running");
            report("No answer from " + deps.name() + ": start it with `ditto-live serve` (the device keeps "
                + "checking and connects by itself).", true);
            scheduleBeat();
        }

        /* Subscribe first, then ping and ask the status. manual: report the outcome on the status line. */
        function check(manual) {
            stopped = false;
            pendingReport = pendingReport || !!manual;
            token += 1;
            deps.subscribe();
            deps.send("/ditto/server/ping", { token: "link" + token });
            deps.send("/ditto/server/status", {});
            if (manual && state !== "ready" && state !== "warming") {
                show("checking"); // a heartbeat does not flicker the line between retries
            }
            answerTimer = cancelTimer(answerTimer);
            answerTimer = deps.clock.after(deps.timeoutMs(), noAnswer);
            beatTimer = cancelTimer(beatTimer);
        }

        function onPong(r) {
            if (stopped) {
                return;
            }
            answerTimer = cancelTimer(answerTimer);
            misses = 0;
            if (r.version !== deps.version) {
                show("mismatch");
                report("Server answers protocol v" + r.version + ", device speaks v" + deps.version
                    + ": update one of them.", true);
                scheduleBeat();
                return;
            }
            if (state !== "ready" && state !== "warming") {
                show("connected");
            }
            report("Server " + deps.name() + " is up.", false);
            scheduleBeat();
        }

        function onState(r) {
            if (stopped) {
                return;
            }
            var status = null;
            try {
                status = JSON.parse(r.state);
            } catch (e) {
                status = null;
            }
            answerTimer = cancelTimer(answerTimer);
            misses = 0;
            if (state !== "mismatch") {
                show(engineOf(status));
                report("Server " + deps.name() + " is up, engine " + (state === "warming"
                    ? "warming up: a job sent now waits for it." : "ready."), true);
            }
            scheduleBeat();
            if (status && deps.onStatus) {
                deps.onStatus(status);
            }
        }

        function stop() {
            stopped = true;
            answerTimer = cancelTimer(answerTimer);
            beatTimer = cancelTimer(beatTimer);
        }

        return {
            check: check,
            onPong: onPong,
            onState: onState,
            stop: stop,
            state: function () { return state; }
        };
    }

    return { create: create, engineOf: engineOf, LABELS: LABELS, BEAT_READY_MS: BEAT_READY_MS };
})();

if (typeof module !== "undefined" && module.exports) {
    module.exports = DittoLink;
}

// ---- persist.js ----
/*
 * persist.js — what the device saves with the Live set, and how it finds it again on load.
 *
 * Live saves a device's parameters with the set. Numbers (ports) are live.numbox parameters; the
 * rest is text, kept in `pattr` objects in parameter mode with the blob type (stored only, never
 * automated): the target track, the server host and the caption. The js writes them through its
 * UI outlet (store_target, store_host, store_caption -> [route] -> pattr) and reads them back when
 * the pattr objects output their saved values as the device loads (pattr -> [prepend restore_*]).
 *
 * The target track is saved as [index, name]: index is the track's position in `live_set tracks`,
 * name its name. LOM ids do not survive a reload, so on load the reference is re-resolved: the
 * audio track with that name (the one nearest the saved index when several share it), else the
 * audio track at the saved index (it was renamed), else none (it was deleted).
 *
 * A pattr that never stored anything outputs 0 or nothing; those restore nothing.
 *
 * ES5 only; see protocol.js for how Node and Max load it.
 */
var DittoPersist = (function () {
    "use strict";

    // Atoms as Max delivers them -> one string (a symbol with spaces arrives as one atom).
    function joinAtoms(atoms) {
        var out = [];
        for (var i = 0; i < atoms.length; i++) {
            out.push(String(atoms[i]));
        }
        return out.join(" ");
    }

    // pattr's empty value: no atoms, or a lone 0.
    function isEmpty(atoms) {
        return !atoms || atoms.length === 0 || (atoms.length === 1 && atoms[0] === 0);
    }

    /* Saved target -> {index, name}, or null when nothing was saved. atoms: [index, name...]. */
    function decodeTarget(atoms) {
        if (isEmpty(atoms) || atoms.length < 2 || !(Number(atoms[0]) >= 0)) {
            return null;
        }
        var name = joinAtoms(atoms.slice(1));
        return name ? { index: Math.round(Number(atoms[0])), name: name } : null;
    }

    /* {index, name} -> the atoms to store (index first: pattr keeps it as a list). */
    function encodeTarget(ref) {
        return [ref.index, ref.name];
    }

    /* Saved text (host, caption) -> string, or null when nothing was saved. */
    function decodeText(atoms) {
        return isEmpty(atoms) ? null : joinAtoms(atoms);
    }

    function indexOfPath(path) {
        var m = /(\d+)$/.exec(path || "");
        return m ? Number(m[1]) : -1;
    }

    /* The track's reference: {index in live_set tracks, name}. track: {name, path}. */
    function refOf(track) {
        return { index: indexOfPath(track.path), name: track.name };
    }

    function sameRef(a, b) {
        return !!a && !!b && a.index === b.index && a.name === b.name;
    }

    /*
     * Which entry of `tracks` ([{name, path, id}], the audio tracks) a saved reference means:
     * {at (position in tracks, -1 if none), how: "name" | "index" | "missing"}.
     */
    function resolveTarget(tracks, ref) {
        var best = -1, bestDistance = Infinity, i;
        for (i = 0; i < tracks.length; i++) {
            if (tracks[i].name === ref.name) {
                var d = Math.abs(indexOfPath(tracks[i].path) - ref.index);
                if (d < bestDistance) {
                    best = i;
                    bestDistance = d;
                }
            }
        }
        if (best >= 0) {
            return { at: best, how: "name" };
        }
        for (i = 0; i < tracks.length; i++) {
            if (indexOfPath(tracks[i].path) === ref.index) {
                return { at: i, how: "index" };
            }
        }
        return { at: -1, how: "missing" };
    }

    /*
     * The target choice across a session and reloads. store(atoms) writes the reference to its pattr.
     *   restore(atoms)        the saved reference, as its pattr outputs it; false when unchanged
     *   choose(tracks, id)    position in tracks of the target: the track with LOM id `id` (this
     *                         session), else the saved reference, else 0 (a stand-in, see note())
     *   follow(track)         the chosen track, after choose(): saved again if renamed or moved,
     *                         never when it is a stand-in for a saved track that is gone
     *   pick(track)           the producer chose track in the menu: save it
     *   note()                why the target is not the saved one ("" when it is)
     */
    function targetKeeper(store) {
        var saved = null, standIn = false, why = "";

        function save(track) {
            var ref = refOf(track);
            if (!sameRef(ref, saved)) {
                saved = ref;
                store(encodeTarget(ref));
            }
        }

        function choose(tracks, id) {
            for (var i = 0; i < tracks.length; i++) {
                if (tracks[i].id === id) {
                    return i;
                }
            }
            var found = saved ? resolveTarget(tracks, saved) : { at: 0, how: "default" };
            standIn = found.how === "missing";
            why = standIn ? "The saved target track '" + saved.name + "' is gone: using '" + tracks[0].name + "'." : "";
            return standIn ? 0 : found.at;
        }

        return {
            // Returns whether the saved reference changed (pattr echoes every value the js stores).
            restore: function (atoms) {
                var ref = decodeTarget(atoms);
                if (!ref || sameRef(ref, saved)) {
                    return false;
                }
                saved = ref;
                return true;
            },
            choose: choose,
            follow: function (track) {
                if (saved && !standIn) {
                    save(track);
                }
            },
            pick: function (track) {
                standIn = false;
                why = "";
                save(track);
            },
            note: function () { return why; }
        };
    }

    return {
        targetKeeper: targetKeeper,
        decodeTarget: decodeTarget,
        encodeTarget: encodeTarget,
        decodeText: decodeText,
        refOf: refOf,
        sameRef: sameRef,
        resolveTarget: resolveTarget
    };
})();

if (typeof module !== "undefined" && module.exports) {
    module.exports = DittoPersist;
}

// ---- reader.js ----
/*
 * reader.js — read what a job needs from Live without stalling Max's user interface.
 *
 * Every LiveAPI call runs synchronously on Max's main thread, the one that also draws Live's device
 * view. The clip, its markers and its notes are a handful of calls and are read at once; the
 * Intensity envelope takes one Envelope.value_at_time call per sample (a 1/16-note grid, at most
 * Clip.MAX_ENVELOPE_CALLS), so those calls go CALLS_PER_TICK at a time, one batch per clock tick
 * (Max's Task), and the UI redraws in between. The samples are then reduced to their breakpoints.
 *
 * deps: {api(path), clock {after(ms, fn), cancel(h)}}
 * read(mode, targetPath, done(ctx), fail(error), progress(done, total)) -> nothing; done and fail
 * are called once, done synchronously when there is no envelope to read. cancel() drops a read.
 *
 * ES5 only; see protocol.js for how Node and Max load it.
 */
var DittoReader = (function (Clip, Live) {
    "use strict";

    var CALLS_PER_TICK = 16; // value_at_time calls per batch
    var TICK_MS = 5; // pause between batches: the UI gets the main thread back

    function create(deps) {
        var timer = null, generation = 0;

        function cancel() {
            generation += 1;
            if (timer !== null) {
                deps.clock.cancel(timer);
                timer = null;
            }
        }

        // Sample plan.offsets in batches; then reduce and hand the context over.
        function sampleEnvelope(ctx, mine, done, fail, progress) {
            var plan = ctx.envelopePlan, samples = [], next = 0;

            function batch() {
                timer = null;
                if (mine !== generation) {
                    return;
                }
                try {
                    var end = Math.min(plan.offsets.length, next + CALLS_PER_TICK);
                    for (; next < end; next++) {
                        samples.push(Live.envelopeSample(plan, plan.offsets[next]));
                    }
                } catch (e) {
                    fail(e);
                    return;
                }
                if (progress) {
                    progress(next, plan.offsets.length);
                }
                if (next < plan.offsets.length) {
                    timer = deps.clock.after(TICK_MS, batch);
                    return;
                }
                ctx.envelope = Clip.envelopePoints(samples, 0.25, 256);
                ctx.envelopePlan = null;
                done(ctx);
            }

            timer = deps.clock.after(0, batch);
        }

        function read(mode, targetPath, done, fail, progress) {
            cancel();
            var mine = generation, ctx;
            try {
                ctx = Live.readContext(deps.api, mode, targetPath);
            } catch (e) {
                fail(e);
                return;
            }
            if (!ctx.envelopePlan) {
                done(ctx);
                return;
            }
            sampleEnvelope(ctx, mine, done, fail, progress);
        }

        return { read: read, cancel: cancel };
    }

    return { create: create, CALLS_PER_TICK: CALLS_PER_TICK, TICK_MS: TICK_MS };
})(
    typeof module !== "undefined" && module.exports ? require("./clip.js") : DittoClip,
    typeof module !== "undefined" && module.exports ? require("./live.js") : DittoLive
);

if (typeof module !== "undefined" && module.exports) {
    module.exports = DittoReader;
}

// ---- controller.js ----
/*
 * controller.js — the device's state machine: Generate, Cancel, server replies, timeouts.
 *
 * States: idle -> reading (the envelope, a few LOM calls per tick) -> submitting (sent, waiting for
 * the server) -> queued -> running -> idle, with cancelling in between on Cancel. Every path ends
 * in idle with the Generate button active again:
 * a terminal reply (done or error), a Live error while reading or placing, no answer within
 * ackTimeoutMs (server not running), or no news for stallTimeoutMs (then the job's state is
 * asked once before giving up). Replies carrying another job's id are ignored, so two devices can
 * share a server. The server's presence and engine state are link.js's; what is saved with the set
 * (target track, host, caption) is restored through restore() and written back through the store_*
 * UI messages (persist.js).
 *
 * Dependencies come in (deps), so node tests drive it with a fake LiveAPI, a fake clock and
 * recorded outputs:
 *   table       the protocol table (ditto_live/protocol.json)
 *   api(path)   a LiveAPI object for a path
 *   send(msg)   one Max message [address, args...] to udpsend
 *   net(which, msg)  configure "udpsend" (host/port) or "udpreceive" (port)
 *   ui(msg)     one UI message [target, args...] (routed to the patcher's objects)
 *   clock       {after(ms, fn) -> handle, cancel(handle)}
 *   newJobId()  a unique job id
 *
 * ES5 only; see protocol.js for how Node and Max load it.
 */
var DittoController = (function (Protocol, Clip, Live, Link, Persist, Reader) {
    "use strict";

    var BUSY = { reading: 1, submitting: 1, queued: 1, running: 1, cancelling: 1 };
    // Share of the progress bar per server stage (start, end) in percent; optimisation dominates.
    var STAGES = {
        parse: [0, 2], target: [2, 5], optimise: [5, 85], decode: [85, 93], vocode: [93, 97], write: [97, 100]
    };
    var STAGE_NAMES = {
        parse: "Reading job", target: "Building targets", optimise: "Optimising", decode: "Decoding",
        vocode: "Vocoding", write: "Writing WAV"
    };

    function create(deps) {
        var proto = Protocol.create(deps.table);
        var s = {
            intensityDb: -20, useMelody: 1, useIntensity: 1, genre: 0, mood: 0, instrument: 0,
            quality: 1, mode: 0, seed: 0, caption: "", sampleRateOut: 44100,
            host: "127.0.0.1", port: 9010, replyPort: 9011,
            maxDatagram: 8000, // largest datagram sent; bigger job JSON goes as /ditto/job/chunk
            ackTimeoutMs: 5000, // no answer at all within this: the server is not there
            stallTimeoutMs: 120000 // no news about a queued or running job within this: ask, then give up
        };
        var state = "idle", job = null, timer = null;
        var tracks = [], targetId = 0, lastWav = "";
        var target = Persist.targetKeeper(function (atoms) { ui(["store_target"].concat(atoms)); });
        var link = Link.create({
            send: send, subscribe: subscribe, ui: ui, clock: deps.clock, version: proto.version,
            name: serverName, timeoutMs: function () { return s.ackTimeoutMs; }, onStatus: onServerStatus
        });
        var reader = Reader.create({ api: deps.api, clock: deps.clock });

        function ui(msg) {
            deps.ui(msg);
        }

        function status(text) {
            ui(["status", "set", text]);
        }

        function setState(next) {
            state = next;
            var busy = BUSY[next] ? 1 : 0;
            ui(["generate_active", busy ? 0 : 1]);
            ui(["cancel_active", busy]);
        }

        function arm(ms, fn) {
            disarm();
            timer = deps.clock.after(ms, function () {
                timer = null;
                fn();
            });
        }

        function disarm() {
            if (timer !== null) {
                deps.clock.cancel(timer);
                timer = null;
            }
        }

        function send(address, values) {
            deps.send(proto.build(address, values));
        }

        function fail(message) {
            disarm();
            job = null;
            setState("idle");
            status("Error: " + message);
        }

        function serverName() {
            return s.host + ":" + s.port;
        }

        function configureNet() {
            deps.net("udpsend", ["host", s.host]);
            deps.net("udpsend", ["port", s.port]);
            deps.net("udpreceive", ["port", s.replyPort]);
        }

        function subscribe() {
            send("/ditto/client/subscribe", { port: s.replyPort });
        }

        function targetPath() {
            for (var i = 0; i < tracks.length; i++) {
                if (tracks[i].id === targetId) {
                    return tracks[i].path;
                }
            }
            return "";
        }

        function refreshTracks() {
            tracks = Live.audioTracks(deps.api);
            ui(["tracks", "clear"]);
            if (!tracks.length) {
                ui(["tracks", "append", "(no audio track)"]);
                targetId = 0;
                return;
            }
            for (var i = 0; i < tracks.length; i++) {
                ui(["tracks", "append", tracks[i].name]);
            }
            var chosen = target.choose(tracks, targetId);
            targetId = tracks[chosen].id;
            ui(["tracks", "set", chosen]);
            target.follow(tracks[chosen]); // a rename or a move of the chosen track is saved
        }

        function init() {
            configureNet();
            setState("idle");
            ui(["progress", 0]);
            var v;
            try {
                refreshTracks();
                v = Live.liveVersion(deps.api);
            } catch (e) {
                status("Error: " + e.message);
                return;
            }
            var place = Live.canCreateAudioClips(v) ? "results land on the target track"
                : "results are shown for drag and drop (Live 12.0.5+ places them)";
            status("Ready (Live " + v.join(".") + "): " + place + "." + (target.note() ? " " + target.note() : ""));
            link.check(false);
        }

        function set(name, value) {
            var keys = {
                intensity: "intensityDb", use_melody: "useMelody", use_intensity: "useIntensity", genre: "genre",
                mood: "mood", instrument: "instrument", quality: "quality", mode: "mode", seed: "seed",
                caption: "caption", host: "host", port: "port", reply_port: "replyPort",
                max_datagram: "maxDatagram", ack_timeout_ms: "ackTimeoutMs", stall_timeout_ms: "stallTimeoutMs",
                sample_rate_out: "sampleRateOut"
            };
            if (name === "target") {
                var t = tracks[Math.round(value)];
                targetId = t ? t.id : 0;
                if (t) {
                    target.pick(t);
                }
                return;
            }
            if (!keys[name]) {
                throw new Error("unknown setting " + name);
            }
            var text = name === "caption" || name === "host", old = s[keys[name]];
            s[keys[name]] = text ? String(value) : Number(value);
            if (name === "host" && s.host !== old) {
                ui(["store_host", s.host]);
            }
            if (name === "caption" && s.caption !== old) {
                ui(["store_caption", s.caption]);
            }
            if ((name === "host" || name === "port" || name === "reply_port") && s[keys[name]] !== old) {
                if (name === "reply_port") {
                    // The server keeps a few subscriptions per client: give the old port's back.
                    send("/ditto/client/unsubscribe", { port: old });
                }
                configureNet();
                link.check(false);
            }
        }

        /*
         * A value saved with the set, as its pattr outputs it while the device loads (atoms):
         * target [index, name], host [text], caption [text]. Restoring shows the value and does not
         * write it back; pattr's echo of a value the js stored changes nothing.
         */
        function restore(name, atoms) {
            if (name === "target") {
                if (target.restore(atoms)) {
                    targetId = 0; // LOM ids change across reloads: resolve by the reference
                    if (tracks.length) {
                        refreshTracks();
                    }
                }
                return;
            }
            var value = Persist.decodeText(atoms);
            if (value === null || (name !== "host" && name !== "caption") || value === s[name]) {
                return; // nothing saved, or pattr echoing what the js just stored
            }
            if (name === "host") {
                s.host = value;
                configureNet();
                link.check(false);
                ui(["host_text", "set", value]);
            } else {
                s.caption = value;
                ui(["caption_text", "set", value]);
            }
        }

        function generate() {
            if (BUSY[state]) {
                status("Already generating: Cancel first.");
                return;
            }
            var mode = Clip.choice("mode", s.mode), path = "";
            try {
                refreshTracks();
                path = targetPath();
            } catch (e) {
                fail(e.message);
                return;
            }
            setState("reading");
            status("Reading the clip...");
            reader.read(mode, path, function (ctx) { submit(ctx, path); }, function (e) { fail(e.message); },
                function (done, total) { status("Reading the Intensity automation " + done + "/" + total + "..."); });
        }

        // The job read from Live goes to the server (one datagram, or chunks), subscribed first.
        function submit(ctx, path) {
            var spec;
            try {
                spec = Clip.buildJob(s, ctx);
            } catch (e) {
                fail(e.message);
                return;
            }
            var id = deps.newJobId(), json = JSON.stringify(spec);
            job = { id: id, source: ctx.source, targetPath: path, offset: ctx.placeOffset, seed: spec.seed };
            subscribe();
            var msg = proto.build("/ditto/job/submit", { job_id: id, spec: json });
            var pieces = proto.fits(msg, s.maxDatagram) ? [msg] : proto.chunk(id, json, s.maxDatagram);
            for (var i = 0; i < pieces.length; i++) {
                deps.send(pieces[i]);
            }
            setState("submitting");
            ui(["progress", 0]);
            ui(["path", "set", ""]);
            var what = ctx.notes.length + " notes" + (ctx.envelope ? ", " + ctx.envelope.length + " intensity points" : "");
            status("Sent to " + serverName() + " (" + what + (pieces.length > 1 ? ", " + pieces.length + " chunks" : "")
                + (ctx.envelopeNote ? "; " + ctx.envelopeNote : "") + ")"
                + (link.state() === "warming" ? ": the server's engine is warming up, the job waits for it..." : "..."));
            arm(s.ackTimeoutMs, function () {
                fail("no answer from the server at " + serverName() + " within " + s.ackTimeoutMs / 1000
                    + " s. Is `ditto-live serve` running, and is the reply port " + s.replyPort + " free?");
            });
        }

        function cancel() {
            if (state === "reading") {
                reader.cancel();
                setState("idle");
                status("Cancelled.");
                return;
            }
            if (!job || !BUSY[state]) {
                return;
            }
            send("/ditto/job/cancel", { job_id: job.id });
            setState("cancelling");
            status("Cancelling...");
            arm(s.ackTimeoutMs, function () {
                fail("cancel sent, but the server did not confirm. The device is ready again.");
            });
        }

        // Ask the server about our job (subscribed first: it may have restarted since).
        function askJobState() {
            subscribe();
            send("/ditto/job/status", { job_id: job.id });
        }

        function watchStall() {
            arm(s.stallTimeoutMs, function () {
                askJobState();
                arm(s.ackTimeoutMs, function () {
                    fail("the server stopped answering. If the job finishes, its WAV is in the server's output folder.");
                });
            });
        }

        function onProgress(r) {
            var span = STAGES[r.stage] || [0, 100];
            var frac = r.total > 0 ? Math.max(0, Math.min(1, r.step / r.total)) : 0;
            ui(["progress", Math.round(span[0] + (span[1] - span[0]) * frac)]);
            status((STAGE_NAMES[r.stage] || r.stage) + (r.total > 0 ? " " + r.step + "/" + r.total : "")
                + (r.stage === "optimise" ? " (loss " + Number(r.loss).toPrecision(3) + ")" : ""));
        }

        function onDone(r) {
            disarm();
            var j = job, summary = {};
            job = null;
            try {
                summary = JSON.parse(r.summary) || {};
            } catch (e) {
                summary = {};
            }
            lastWav = r.wav;
            ui(["progress", 100]);
            ui(["path", "set", r.wav]);
            var seed = summary.seed !== undefined ? summary.seed : j.seed;
            var name = "ditto " + seed;
            try {
                var placed = Live.placeResult(deps.api, r.wav, j.source, j.targetPath, name, j.offset);
                setState("idle");
                if (placed.how === "manual") {
                    status("Done. This Live cannot add audio clips from a device (needs 12.0.5+): drag the file below into a track.");
                } else if (placed.how === "session") {
                    status("Done: '" + name + "' in scene " + (placed.where + 1) + " of the target track.");
                } else {
                    status("Done: '" + name + "' in the arrangement at bar " + (Math.floor(placed.where / 4) + 1) + ".");
                }
            } catch (e) {
                setState("idle");
                status("Done, but Live would not place the clip (" + e.message + "): drag the file below into a track.");
            }
        }

        function onError(r) {
            var text = {
                cancelled: "Cancelled.",
                busy: "The server's queue is full: try again in a moment.",
                not_found: "The server does not know this job (restarted?)."
            }[r.code];
            disarm();
            job = null;
            setState("idle");
            status(text || "Error (" + r.code + "): " + r.message);
        }

        function onState(r) {
            if (r.state === "queued" || r.state === "running") {
                watchStall();
            } else if (r.state === "unknown") {
                fail("the server lost the job (was it restarted?). Generate again.");
            } else {
                fail("the server finished the job (" + r.state + ") but its reply was lost; see its output folder.");
            }
        }

        // Check Server: subscribe, ping and ask the status; the outcome goes to the status line.
        function ping() {
            link.check(true);
        }

        // A status reply that lists neither our queued nor our running job: the server restarted (or
        // the job just ended); its job state tells which.
        function onServerStatus(st) {
            if (!job || (state !== "queued" && state !== "running")) {
                return;
            }
            var queued = st.queued instanceof Array ? st.queued : [];
            if (st.running !== job.id && queued.indexOf(job.id) < 0) {
                askJobState();
            }
        }

        // Open the last result's folder in the file browser (Max: `;max launchbrowser file:///...`).
        function reveal() {
            if (!lastWav) {
                status("No result yet.");
                return;
            }
            var dir = lastWav.replace(/\\/g, "/").replace(/\/[^\/]*$/, "");
            ui(["reveal", "file://" + (dir.charAt(0) === "/" ? "" : "/") + encodeURI(dir)]);
        }

        // The device is being removed: stop timers, cancel our job, stop the server's replies to us.
        function close() {
            disarm();
            link.stop();
            reader.cancel();
            if (job && BUSY[state]) {
                send("/ditto/job/cancel", { job_id: job.id });
            }
            job = null;
            state = "idle";
            send("/ditto/client/unsubscribe", { port: s.replyPort });
        }

        /* A reply from udpreceive: address and its arguments. */
        function onMessage(address, args) {
            var r = proto.decode(address, args || []);
            if (!r) {
                return false;
            }
            if (address === "/ditto/server/pong") {
                link.onPong(r);
                return true;
            }
            if (address === "/ditto/server/state") {
                link.onState(r);
                return true;
            }
            if (address === "/ditto/error") {
                // A refused status request (rate limit) is about the link's checks, not our job.
                if (state === "submitting" && !/^status/.test(r.message)) {
                    fail("the server rejected the request (" + r.code + "): " + r.message);
                }
                return true;
            }
            if (r.job_id === undefined || !job || r.job_id !== job.id) {
                return false;
            }
            if (address === "/ditto/job/accepted") {
                if (state === "submitting") {
                    setState("queued");
                    status(r.position > 0 ? "Queued behind " + r.position + " job(s)..." : "Starting...");
                }
                watchStall();
            } else if (address === "/ditto/job/progress") {
                if (state !== "cancelling") {
                    if (state !== "running") {
                        setState("running");
                    }
                    onProgress(r);
                    watchStall();
                }
            } else if (address === "/ditto/job/done") {
                onDone(r);
            } else if (address === "/ditto/job/error") {
                onError(r);
            } else if (address === "/ditto/job/state") {
                onState(r);
            }
            return true;
        }

        return {
            init: init,
            set: set,
            restore: restore,
            generate: generate,
            cancel: cancel,
            ping: ping,
            reveal: reveal,
            close: close,
            refreshTracks: refreshTracks,
            onMessage: onMessage,
            state: function () { return state; },
            server: function () { return link.state(); },
            jobId: function () { return job ? job.id : null; },
            settings: function () { return s; }
        };
    }

    return { create: create, STAGES: STAGES };
})(
    typeof module !== "undefined" && module.exports ? require("./protocol.js") : DittoProtocol,
    typeof module !== "undefined" && module.exports ? require("./clip.js") : DittoClip,
    typeof module !== "undefined" && module.exports ? require("./live.js") : DittoLive,
    typeof module !== "undefined" && module.exports ? require("./link.js") : DittoLink,
    typeof module !== "undefined" && module.exports ? require("./persist.js") : DittoPersist,
    typeof module !== "undefined" && module.exports ? require("./reader.js") : DittoReader
);

if (typeof module !== "undefined" && module.exports) {
    module.exports = DittoController;
}

// ---- max_main.js ----
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
 * Outlets: 0 -> udpsend (OSC messages, host/port), 1 -> UI (route by first word), 2 -> udpreceive.
 */
/* global DITTO_PROTOCOL, DittoController, LiveAPI, Task, post, outlet, arrayfromargs, messagename, jsarguments */
autowatch = 0;
inlets = 1;
outlets = 3;

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

// live.thisdevice bangs when the Live API is usable.
function init() {
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

