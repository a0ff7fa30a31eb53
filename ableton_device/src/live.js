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
 * or Track.create_audio_clip(path, beat) (arrangement), both Live 12.0.5+, confirming the clip by the
 * id the call returns or else by the clip now at the target position with that file (not by counting
 * clips: a new arrangement clip over an old one replaces it), and quoting a path with spaces when no
 * clip appeared. The target track is addressed by its LOM id, which follows the track when tracks are
 * added, deleted or moved while the job runs.
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

    /*
     * Beats (quarter notes) per bar of a clip's or the song's time signature: numerator * 4 / denominator
     * (6/8 -> 3, 7/4 -> 7); 4 when Live gives none.
     */
    function beatsPerBar(obj) {
        var n = num(obj.get("signature_numerator")), d = num(obj.get("signature_denominator"));
        return n > 0 && d > 0 ? n * 4 / d : 4;
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
            bpm: bpm, beatsPerBar: beatsPerBar(source.api), regionBeats: region.beats,
            notes: readNotes(source.api, region.start, region.end),
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
     * Call create_audio_clip with the WAV path, check that the clip exists (created(answer) -> bool:
     * Live reports a bad path in its log, not to the caller), and when it does not and the path has a
     * space, call again with the path in double quotes: a Live that splits its arguments at spaces
     * takes a quoted path whole. Throws a producer-readable Error when no clip appears.
     */
    function createAudioClip(target, wav, extra, created) { // extra: [] (slot) or [beat] (track)
        var forms = hasSpace(wav) ? [wav, "\"" + wav + "\""] : [wav], lastError = null;
        for (var i = 0; i < forms.length; i++) {
            var answer = null;
            try {
                if (extra.length) { // no apply(): LiveAPI.call is a native method
                    answer = target.call("create_audio_clip", forms[i], extra[0]);
                } else {
                    answer = target.call("create_audio_clip", forms[i]);
                }
            } catch (e) {
                lastError = e;
            }
            if (created(answer)) {
                return;
            }
        }
        if (hasSpace(wav)) {
            throw new Error("Live could not load a WAV whose path has spaces (" + wav + "); start the server with "
                + "--output-dir on a folder without spaces");
        }
        throw lastError || new Error("Live did not create the clip from " + wav);
    }

    function sameFile(a, b) {
        return String(a).replace(/\\/g, "/") === String(b).replace(/\\/g, "/");
    }

    // The arrangement clip of the track that starts at `beat` and plays `wav`, or null.
    function arrangementClipAt(api, trackPath, beat, wav) {
        var n = api(trackPath).getcount("arrangement_clips");
        for (var i = 0; i < n; i++) {
            var c = api(trackPath + " arrangement_clips " + i);
            if (Math.abs(num(c.get("start_time")) - beat) < 1e-6 && sameFile(str(c.get("file_path")), wav)) {
                return c;
            }
        }
        return null;
    }

    // The clip a create_audio_clip answer names (["id", N]), or null when it names none.
    function answeredClip(api, answer) {
        var id = answer === null || answer === undefined ? 0 : idOf(answer);
        var c = id ? api("id " + id) : null;
        return c && exists(c) ? c : null;
    }

    /*
     * The target track by its LOM id (it follows the track when tracks are added, deleted or moved
     * during the job): its canonical path. Throws when the track is gone.
     */
    function targetTrackPath(api, targetId) {
        var t = targetId ? api("id " + targetId) : null;
        if (!t || !exists(t)) {
            throw new Error(targetId ? "the target track was deleted while the job ran"
                : "Choose a target audio track in the device.");
        }
        return pathOf(t);
    }

    /* Bar number (from 1) of a song beat in the song's time signature. */
    function barOf(api, beat) {
        return Math.floor(beat / beatsPerBar(api("live_set")) + 1e-9) + 1;
    }

    /*
     * Put the WAV on the target track (LOM id targetId) beside the source clip (in the arrangement,
     * offsetBeats after the clip's start: where its loop brace begins). Returns {how, where, clip}:
     * how = "session" (where = scene index) | "arrangement" (where = beat) | "manual" (old Live:
     * the caller shows the file for drag and drop). Throws on a Live error (e.g. a frozen track, a
     * deleted target, or a path Live would not load); the caller then shows the file for drag and drop.
     */
    function placeResult(api, wav, source, targetId, name, offsetBeats) {
        if (!canCreateAudioClips(liveVersion(api))) {
            return { how: "manual", where: wav };
        }
        var targetPath = targetTrackPath(api, targetId), clip = null;
        if (source.arrangement) {
            var beat = Math.max(0, num(source.api.get("start_time")) + (offsetBeats || 0));
            createAudioClip(api(targetPath), wav, [beat], function (answer) {
                clip = answeredClip(api, answer) || arrangementClipAt(api, targetPath, beat, wav);
                return clip !== null;
            });
            if (name) {
                clip.set("name", name);
            }
            return { how: "arrangement", where: beat, bar: barOf(api, beat) };
        }
        var slot = emptySlot(api, targetPath, source.slot);
        clip = createInSlot(api, targetPath + " clip_slots " + slot, wav);
        if (name) {
            clip.set("name", name);
        }
        return { how: "session", where: slot };
    }

    /* ClipSlot.create_audio_clip, confirmed by the clip it returns or the clip now in the slot with that file. */
    function createInSlot(api, slotPath, wav) {
        var clip = null;
        createAudioClip(api(slotPath), wav, [], function (answer) {
            var inSlot = api(slotPath + " clip");
            clip = answeredClip(api, answer)
                || (exists(inSlot) && sameFile(str(inSlot.get("file_path")), wav) ? inSlot : null);
            return clip !== null;
        });
        return clip;
    }

    /*
     * Audition: the WAV as a clip in the first empty session slot of the target track from scene
     * fromSlot on, fired (Clip.fire: Live plays it at its launch quantisation and starts the transport
     * when it is stopped). A MIDI effect has no audio output of its own (plugout~ belongs to audio
     * effects and instruments), so the preview plays through the target track. Returns {slot, clipId}.
     */
    function previewResult(api, wav, targetId, fromSlot) {
        if (!canCreateAudioClips(liveVersion(api))) {
            throw new Error("this Live cannot add audio clips from a device (needs 12.0.5+): drag the file below "
                + "into a track");
        }
        var targetPath = targetTrackPath(api, targetId), slot = emptySlot(api, targetPath, Math.max(0, fromSlot || 0));
        var clip = createInSlot(api, targetPath + " clip_slots " + slot, wav);
        clip.set("name", "ditto preview");
        clip.call("fire");
        return { slot: slot, clipId: Number(clip.id) };
    }

    // Call fire or stop on the preview clip; false when it is gone (the producer deleted it).
    function previewCall(api, preview, method) {
        var c = api("id " + preview.clipId);
        if (!exists(c)) {
            return false;
        }
        c.call(method);
        return true;
    }

    function stopPreview(api, preview) {
        return previewCall(api, preview, "stop");
    }

    function firePreview(api, preview) {
        return previewCall(api, preview, "fire");
    }

    /* Remove the preview clip from its slot (ClipSlot.delete_clip), wherever the slot has moved to. */
    function discardPreview(api, preview) {
        var c = api("id " + preview.clipId);
        if (!exists(c)) {
            return;
        }
        var slotPath = pathOf(c).replace(/ clip$/, "");
        if (/clip_slots \d+$/.test(slotPath)) {
            api(slotPath).call("delete_clip");
        }
    }

    return {
        previewResult: previewResult,
        stopPreview: stopPreview,
        firePreview: firePreview,
        discardPreview: discardPreview,
        MIN_VERSION_FOR_AUDIO_CLIPS: MIN_VERSION_FOR_AUDIO_CLIPS,
        idOf: idOf,
        liveVersion: liveVersion,
        canCreateAudioClips: canCreateAudioClips,
        trackPathOfDevice: trackPathOfDevice,
        trackIndex: trackIndex,
        beatsPerBar: beatsPerBar,
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
