/*
 * fake_live.js — an in-memory Live set behind a LiveAPI-compatible constructor, for node tests.
 *
 * It answers the way Max's LiveAPI does: get() returns arrays of atoms, call("get_notes_extended")
 * returns a JSON string, call("automation_envelope", "id", n) returns ["id", n], object ids are
 * strings ("0" for nothing), path is quoted and unquotedpath is not; an object reached through an
 * alias reports the alias as its path (only "id N" gives the canonical one). It implements only the
 * paths and members the device uses, and throws on anything else so a test notices.
 *
 * It also models what goes wrong in real sets:
 *   - paths with spaces: spec.audioPaths "verbatim" (default: create_audio_clip takes its argument
 *     whole), "split" (Live cuts the argument at its first space unless it is in double quotes, as
 *     a public M4L runbook reports), "broken" (cut at a space even when quoted). A cut path names no
 *     file: like Live, the call then creates nothing and only logs (model.errors), it does not throw;
 *   - a reloaded set: reload(changes) gives the same set after saving and opening it again, where
 *     every LOM id is new (ids do not survive a reload) and `changes` (spec keys) apply, e.g. a
 *     track inserted before the others;
 *   - tracks added, deleted or reordered while a job runs: insertTrack(at, spec) and deleteTrack(i)
 *     keep every object's id and move the paths of the tracks after it (an object reached by id
 *     reports its new path, as Live's canonical paths follow the object);
 *   - an arrangement clip created over existing ones replaces what it covers (Live's arrangement
 *     lane holds no overlapping clips), so the number of clips need not grow; the new clip lasts
 *     spec.resultBeats (16). create_audio_clip answers ["id", <new clip>] (spec.createAnswer "id",
 *     the default) or ["id", 0] ("none": what it returns through LiveAPI.call is not documented);
 *   - auditions: Clip.fire/stop set clip.data.playing; ClipSlot.delete_clip empties the slot (the
 *     clip's id then names nothing);
 *   - a time signature: spec.signature [numerator, denominator] for the song and each clip's
 *     signature_numerator/denominator (default 4/4).
 *
 * fakeLive(spec) -> {api(path), LiveAPI, calls, tracks, param(name), errors, reload(changes)}. spec:
 *   version [12, 1, 0], tempo 120, device {track, index}, params [{name, min, max, value}],
 *   detail {track, slot} | {track, arrangement} | null, scenes (slot count),
 *   tracks [{name, midi, slots: {index: clip}, arrangement: [clip]}], audioPaths, idBase (first id)
 *   clip: {midi, notes, looping, loop_start, loop_end, start_marker, end_marker, start_time,
 *          end_time, file_path, envelopes: {paramName: function(beat) -> value}}
 */
"use strict";

function fakeLive(spec) {
    var nextId = spec.idBase || 1, byId = {}, calls = [], errors = [];
    var version = spec.version || [12, 1, 0];

    function node(path, kind, data) {
        var n = { id: String(nextId++), path: path, kind: kind, data: data || {} };
        byId[n.id] = n;
        return n;
    }

    var signature = spec.signature || [4, 4];
    var set = node("live_set", "song", { tempo: spec.tempo || 120 });
    var app = node("live_app", "app", {});
    var scenes = spec.scenes || 4;
    var tracks = [];

    function makeClip(path, c) {
        var clip = node(path, "clip", c);
        clip.envelopes = {};
        return clip;
    }

    function makeTrack(t, ti) {
        var tp = "live_set tracks " + ti;
        var track = node(tp, "track", t);
        track.slots = [];
        for (var s = 0; s < scenes; s++) {
            var slot = node(tp + " clip_slots " + s, "slot", {});
            var c = t.slots && t.slots[s];
            slot.clip = c ? makeClip(tp + " clip_slots " + s + " clip", c) : null;
            track.slots.push(slot);
        }
        track.arrangement = (t.arrangement || []).map(function (c, k) {
            return makeClip(tp + " arrangement_clips " + k, c);
        });
        return track;
    }

    (spec.tracks || []).forEach(function (t, ti) {
        tracks.push(makeTrack(t, ti));
    });

    var dev = spec.device || { track: 0, index: 0 };
    var device = node("live_set tracks " + dev.track + " devices " + dev.index, "device", {});
    var deviceTrack = tracks[dev.track];
    device.params = (spec.params || [{ name: "Device On", min: 0, max: 1, value: 1 },
        { name: "Intensity", min: -60, max: 0, value: -20 }]).map(function (p, i) {
        return node(device.path + " parameters " + i, "param", p);
    });

    // Canonical paths after tracks moved: every track, slot, clip and the device follow their position.
    function repath() {
        tracks.forEach(function (t, ti) {
            t.path = "live_set tracks " + ti;
            t.slots.forEach(function (slot, si) {
                slot.path = t.path + " clip_slots " + si;
                if (slot.clip) {
                    slot.clip.path = slot.path + " clip";
                }
            });
            t.arrangement.sort(function (a, b) { return a.data.start_time - b.data.start_time; });
            t.arrangement.forEach(function (c, k) { c.path = t.path + " arrangement_clips " + k; });
        });
        device.path = deviceTrack.path + " devices " + dev.index;
        device.params.forEach(function (p, i) { p.path = device.path + " parameters " + i; });
    }

    function paramByName(name) {
        for (var i = 0; i < device.params.length; i++) {
            if (device.params[i].data.name === name) {
                return device.params[i];
            }
        }
        return null;
    }

    function detailClip() {
        var d = spec.detail;
        if (!d) {
            return null;
        }
        var t = tracks[d.track];
        return d.arrangement !== undefined ? t.arrangement[d.arrangement] : t.slots[d.slot].clip;
    }

    function resolve(path) {
        path = String(path).replace(/^"|"$/g, "");
        var m;
        if ((m = /^id (\d+)$/.exec(path))) {
            return byId[m[1]] || null;
        }
        if (path === "live_set") {
            return set;
        }
        if (path === "live_app") {
            return app;
        }
        if (path === "live_set view detail_clip") {
            return detailClip();
        }
        if (path === "this_device") {
            return device;
        }
        if ((m = /^this_device parameters (\d+)$/.exec(path))) {
            return device.params[Number(m[1])] || null;
        }
        if ((m = /^live_set tracks (\d+)(.*)$/.exec(path))) {
            var t = tracks[Number(m[1])], rest = m[2];
            if (!t) {
                return null;
            }
            if (rest === "") {
                return t;
            }
            if ((m = /^ clip_slots (\d+)( clip)?$/.exec(rest))) {
                var slot = t.slots[Number(m[1])];
                return !slot ? null : m[2] ? slot.clip : slot;
            }
            if ((m = /^ arrangement_clips (\d+)$/.exec(rest))) {
                return t.arrangement[Number(m[1])] || null;
            }
            if (rest === " devices " + dev.index && t === deviceTrack) {
                return device;
            }
        }
        throw new Error("fake LiveAPI: unsupported path '" + path + "'");
    }

    function versionAtLeast(min) {
        for (var i = 0; i < 3; i++) {
            if (version[i] !== min[i]) {
                return version[i] > min[i];
            }
        }
        return true;
    }

    function getProp(n, prop) {
        var d = n.data;
        switch (n.kind + "." + prop) {
        case "song.tempo": return [d.tempo];
        case "song.signature_numerator": return [signature[0]];
        case "song.signature_denominator": return [signature[1]];
        case "clip.signature_numerator": return [(d.signature || signature)[0]];
        case "clip.signature_denominator": return [(d.signature || signature)[1]];
        case "track.name": return [d.name];
        case "track.has_audio_input": return [d.midi ? 0 : 1];
        case "track.has_midi_input": return [d.midi ? 1 : 0];
        case "track.playing_slot_index": return [d.playing === undefined ? -1 : d.playing];
        case "slot.has_clip": return [n.clip ? 1 : 0];
        case "param.name": return [d.name];
        case "param.min": return [d.min];
        case "param.max": return [d.max];
        case "param.value": return [d.value];
        case "clip.is_midi_clip": return [d.midi ? 1 : 0];
        case "clip.is_audio_clip": return [d.midi ? 0 : 1];
        case "clip.name": return [d.name || ""];
        }
        if (n.kind === "clip" && ["looping", "loop_start", "loop_end", "start_marker", "end_marker", "start_time",
            "end_time", "file_path"].indexOf(prop) >= 0) {
            return [d[prop] === true ? 1 : d[prop] === false ? 0 : d[prop]];
        }
        throw new Error("fake LiveAPI: no property " + n.kind + "." + prop);
    }

    function count(n, child) {
        if (n.kind === "song" && child === "tracks") {
            return tracks.length;
        }
        if (n.kind === "track" && child === "clip_slots") {
            return n.slots.length;
        }
        if (n.kind === "track" && child === "arrangement_clips") {
            return n.arrangement.length;
        }
        if (n.kind === "device" && child === "parameters") {
            return n.params.length;
        }
        throw new Error("fake LiveAPI: no list " + n.kind + "." + child);
    }

    // The path create_audio_clip ends up with, or null when Live would not find the file.
    function audioPathAsLiveReadsIt(arg) {
        var mode = spec.audioPaths || "verbatim", quoted = /^".*"$/.test(arg);
        if (mode === "verbatim") {
            return arg;
        }
        if (mode === "split" && quoted) {
            return arg.slice(1, -1);
        }
        return /\s/.test(arg) || quoted ? null : arg;
    }

    function callMethod(n, method, args) {
        calls.push({ path: n.path, method: method, args: args });
        if (n.kind === "app" && /^get_(major|minor|bugfix)_version$/.test(method)) {
            return version[{ major: 0, minor: 1, bugfix: 2 }[method.split("_")[1]]];
        }
        if (n.kind === "clip" && method === "get_notes_extended") {
            var from = args[2], to = args[2] + args[3];
            var notes = (n.data.notes || []).filter(function (x) {
                return x.pitch >= args[0] && x.pitch < args[0] + args[1] && x.start_time >= from && x.start_time < to;
            }).map(function (x, i) {
                return { note_id: i + 1, pitch: x.pitch, start_time: x.start_time, duration: x.duration,
                    velocity: x.velocity || 100, mute: x.mute || 0, probability: 1, velocity_deviation: 0,
                    release_velocity: 64 };
            });
            return JSON.stringify({ notes: notes });
        }
        if (n.kind === "clip" && method === "automation_envelope") {
            if (n.path.indexOf("arrangement_clips") >= 0) {
                return ["id", 0];
            }
            var param = byId[String(args[1])], fn = param && (n.data.envelopes || {})[param.data.name];
            if (!fn) {
                return ["id", 0];
            }
            if (!n.envelopes[param.id]) {
                n.envelopes[param.id] = node(n.path + " envelope", "envelope", { fn: fn });
            }
            return ["id", Number(n.envelopes[param.id].id)];
        }
        if (n.kind === "envelope" && method === "value_at_time") {
            return n.data.fn(args[0]);
        }
        if (n.kind === "clip" && (method === "fire" || method === "stop")) {
            n.data.playing = method === "fire";
            return 0;
        }
        if (n.kind === "slot" && method === "delete_clip") {
            if (n.clip) {
                delete byId[n.clip.id];
            }
            n.clip = null;
            return 0;
        }
        if (n.kind === "song" && method === "create_scene") {
            tracks.forEach(function (t) {
                t.slots.push(node(t.path + " clip_slots " + t.slots.length, "slot", {}));
            });
            return ["id", 0];
        }
        if ((n.kind === "slot" || n.kind === "track") && method === "create_audio_clip") {
            if (!versionAtLeast([12, 0, 5])) {
                throw new Error("create_audio_clip: no such function in Live " + version.join("."));
            }
            var file = audioPathAsLiveReadsIt(String(args[0]));
            if (file === null) {
                errors.push("create_audio_clip: file not found: " + String(args[0]).split(" ")[0]);
                return ["id", 0];
            }
            args = [file].concat(args.slice(1));
            var t = n.kind === "track" ? n : tracks[Number(/tracks (\d+)/.exec(n.path)[1])];
            if (t.data.midi) {
                throw new Error("create_audio_clip: not an audio track");
            }
            var made;
            if (n.kind === "slot") {
                if (n.clip) {
                    throw new Error("create_audio_clip: slot is not empty");
                }
                made = n.clip = makeClip(n.path + " clip", { midi: false, file_path: args[0] });
            } else {
                var start = args[1], end = start + (spec.resultBeats || 16);
                // The new clip replaces the clips it covers: an equal span leaves the count unchanged.
                t.arrangement = t.arrangement.filter(function (c) {
                    return !(c.data.start_time >= start - 1e-9 && c.data.end_time <= end + 1e-9);
                });
                made = makeClip(t.path + " arrangement_clips " + t.arrangement.length,
                    { midi: false, file_path: args[0], start_time: start, end_time: end });
                t.arrangement.push(made);
                repath();
            }
            return ["id", spec.createAnswer === "none" ? 0 : Number(made.id)];
        }
        throw new Error("fake LiveAPI: no method " + n.kind + "." + method);
    }

    function LiveAPI(a, b) {
        var path = typeof a === "function" ? b : a;
        this.callback = typeof a === "function" ? a : null;
        this.property = "";
        var n = path === undefined ? null : resolve(path);
        this._node = n;
        this.id = n ? n.id : "0";
        // Worst case for the device: an object reached through an alias ("this_device",
        // "live_set view detail_clip") reports that alias; only "id N" gives the canonical path,
        // which follows the object when tracks move.
        this._alias = !n || /^id \d+$/.test(String(path)) ? null : String(path).replace(/^"|"$/g, "");
    }
    Object.defineProperty(LiveAPI.prototype, "unquotedpath", {
        get: function () { return !this._node ? "" : this._alias !== null ? this._alias : this._node.path; }
    });
    Object.defineProperty(LiveAPI.prototype, "path", {
        get: function () { return '"' + this.unquotedpath + '"'; }
    });
    LiveAPI.prototype.get = function (prop) {
        if (!this._node) {
            return [];
        }
        return getProp(this._node, prop);
    };
    LiveAPI.prototype.set = function (prop, value) {
        if (!this._node) {
            throw new Error("fake LiveAPI: set on a missing object");
        }
        calls.push({ path: this._node.path, method: "set", args: [prop, value] });
        this._node.data[prop] = value;
    };
    LiveAPI.prototype.call = function (method) {
        if (!this._node) {
            throw new Error("fake LiveAPI: call on a missing object");
        }
        return callMethod(this._node, method, Array.prototype.slice.call(arguments, 1));
    };
    LiveAPI.prototype.getcount = function (child) {
        return this._node ? count(this._node, child) : 0;
    };

    return {
        LiveAPI: LiveAPI,
        api: function (path) { return new LiveAPI(path); },
        calls: calls,
        errors: errors,
        tracks: tracks,
        param: paramByName,
        // A track added at position `at` (or deleted) while the device runs: ids stay, paths move.
        insertTrack: function (at, t) {
            tracks.splice(at, 0, makeTrack(t, at));
            repath();
        },
        deleteTrack: function (i) {
            var gone = tracks.splice(i, 1)[0];
            delete byId[gone.id];
            repath();
        },
        // The set saved and opened again: new ids for everything, then `changes` to the spec.
        reload: function (changes) {
            return fakeLive(Object.assign({}, spec, changes || {}, { idBase: nextId + 1000 }));
        }
    };
}

/* A controller's fake clock: after() queues, advance(ms) fires what is due, in time order. */
function fakeClock() {
    var now = 0, queue = [], seq = 0;
    return {
        after: function (ms, fn) {
            var h = { at: now + ms, fn: fn, seq: seq++, live: true };
            queue.push(h);
            return h;
        },
        cancel: function (h) { h.live = false; },
        advance: function (ms) {
            var end = now + ms;
            for (;;) {
                var due = queue.filter(function (h) { return h.live && h.at <= end; });
                if (!due.length) {
                    break;
                }
                due.sort(function (a, b) { return a.at - b.at || a.seq - b.seq; });
                var h = due[0];
                h.live = false;
                now = h.at;
                h.fn();
            }
            now = end;
        },
        pending: function () { return queue.filter(function (h) { return h.live; }).length; }
    };
}

module.exports = { fakeLive: fakeLive, fakeClock: fakeClock };

/*
 * A reply's arguments as the server sends them: `args` (table order) padded with "" / 0 up to the
 * table's argument count, so a test's hand-written reply stays valid when the table gives a reply
 * a new trailing argument (the device decodes replies strictly by the table).
 */
function padReply(table, address, args) {
    var spec = table.messages.filter(function (m) { return m.address === address; })[0];
    var out = (args || []).slice();
    while (spec && out.length < spec.args.length) {
        out.push(spec.args[out.length].type === "s" ? "" : 0);
    }
    return out;
}

module.exports.padReply = padReply;
