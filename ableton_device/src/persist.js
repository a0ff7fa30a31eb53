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
 * audio track at the saved index (it was renamed), else none (it was deleted): then the saved choice is
 * kept and shown as missing, and nothing overwrites it until the producer picks a track.
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
     *                         session), else the saved reference, else 0 (nothing saved yet); -1 when
     *                         the saved track is missing (see missing()) or there is no track
     *   follow(track)         the chosen track, after choose(): saved again if renamed or moved
     *   pick(track)           the producer chose track in the menu: save it
     *   missing()             the saved track's name while it is missing ("" otherwise)
     *   note()                why there is no target ("" when there is one)
     */
    function targetKeeper(store) {
        var saved = null, missing = false, why = "";

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
            var found = saved ? resolveTarget(tracks, saved) : { at: tracks.length ? 0 : -1, how: "default" };
            missing = found.how === "missing";
            why = missing ? "The saved target track '" + saved.name + "' is missing: pick a Target." : "";
            return found.at;
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
                if (saved && !missing) {
                    save(track);
                }
            },
            pick: function (track) {
                missing = false;
                why = "";
                save(track);
            },
            missing: function () { return missing ? saved.name : ""; },
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
