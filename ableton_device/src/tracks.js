/*
 * tracks.js — the Target menu: the set's audio tracks, and the one the result goes to.
 *
 * The menu lists the audio tracks, headed by "<name> (missing)" while the saved target is gone (then
 * there is no target until the producer picks one: nothing stands in for it). The chosen track is kept
 * by LOM id while the set is open and saved with the set by reference (persist.js's targetKeeper, written
 * through the store_target UI message), so a rename or a move of the chosen track is saved too.
 *
 * deps: {api(path), ui(msg)}
 * refresh() re-reads the tracks and fills the menu; pick(menuIndex) is the producer's choice;
 * restore(atoms) the saved choice as pattr outputs it on load; id() and path() the target (0 and ""
 * when there is none); missing() the saved target's name while it is gone, note() a line saying so.
 *
 * ES5 only; see protocol.js for how Node and Max load it.
 */
var DittoTracks = (function (Live, Persist) {
    "use strict";

    function create(deps) {
        var tracks = [], targetId = 0, menuOffset = 0; // menuOffset: 1 while "<saved> (missing)" heads the menu
        var target = Persist.targetKeeper(function (atoms) { ui(["store_target"].concat(atoms)); });

        function ui(msg) {
            deps.ui(msg);
        }

        function refresh() {
            tracks = Live.audioTracks(deps.api);
            var chosen = target.choose(tracks, targetId), gone = target.missing();
            menuOffset = gone ? 1 : 0;
            ui(["tracks", "clear"]);
            if (gone) {
                ui(["tracks", "append", gone + " (missing)"]);
            } else if (!tracks.length) {
                ui(["tracks", "append", "(no audio track)"]);
            }
            for (var i = 0; i < tracks.length; i++) {
                ui(["tracks", "append", tracks[i].name]);
            }
            targetId = chosen >= 0 ? tracks[chosen].id : 0;
            ui(["tracks", "set", chosen >= 0 ? chosen + menuOffset : 0]);
            if (chosen >= 0) {
                target.follow(tracks[chosen]); // a rename or a move of the chosen track is saved
            }
        }

        function path() {
            for (var i = 0; i < tracks.length; i++) {
                if (tracks[i].id === targetId) {
                    return tracks[i].path;
                }
            }
            return "";
        }

        // The producer chose the menu's item `value` (a float from the umenu).
        function pick(value) {
            var t = tracks[Math.round(value) - menuOffset];
            if (t) { // not the "(missing)" or "(no audio track)" item: those choose nothing
                targetId = t.id;
                target.pick(t);
                if (menuOffset) {
                    refresh(); // the "(missing)" item leaves the menu
                }
            }
        }

        // The saved target, as its pattr outputs it while the device loads: [index, name].
        function restore(atoms) {
            if (target.restore(atoms)) {
                targetId = 0; // LOM ids change across reloads: resolve by the reference
                if (tracks.length) {
                    refresh();
                }
            }
        }

        return {
            refresh: refresh,
            pick: pick,
            restore: restore,
            path: path,
            id: function () { return targetId; },
            missing: function () { return target.missing(); },
            note: function () { return target.note(); }
        };
    }

    return { create: create };
})(
    typeof module !== "undefined" && module.exports ? require("./live.js") : DittoLive,
    typeof module !== "undefined" && module.exports ? require("./persist.js") : DittoPersist
);

if (typeof module !== "undefined" && module.exports) {
    module.exports = DittoTracks;
}
