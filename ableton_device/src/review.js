/*
 * review.js — a finished result onto the target track: at once, or (Review first) after Audition and Place.
 *
 * A result is {wav, source, targetId, name, offset, preview}. Placed, it goes where the clip it was made
 * from sits (live.js placeResult); a Live that cannot add audio clips from a device leaves the file shown
 * for drag and drop. Held (Review first on), it waits for Audition (a preview clip fired on the target
 * track; again: stopped) and Place (the preview removed, the result placed as without Review); drop()
 * forgets it and removes its preview (a new Generate).
 *
 * deps: {api(path), ui(msg), status(text), idle() (the controller back to idle, Generate active)}
 *
 * ES5 only; see protocol.js for how Node and Max load it.
 */
var DittoReview = (function (Live) {
    "use strict";

    function create(deps) {
        var waiting = null; // the result held for Audition/Place (playing: its preview was fired)

        function ui(msg) {
            deps.ui(msg);
        }

        // Review first: keep the result for Audition and Place.
        function hold(result) {
            deps.idle();
            waiting = result;
            ui(["review_active", 1]);
            deps.status("Done: press Audition to hear '" + result.name + "' on the target track, Place to keep it.");
        }

        // Put a result on the target track and say where (or why not: the file stays shown for drag and drop).
        function placeNow(result) {
            var name = result.name;
            try {
                var placed = Live.placeResult(deps.api, result.wav, result.source, result.targetId, name, result.offset);
                deps.idle();
                if (placed.how === "manual") {
                    deps.status("Done. This Live cannot add audio clips from a device (needs 12.0.5+): drag the file below into a track.");
                } else if (placed.how === "session") {
                    deps.status("Done: '" + name + "' in scene " + (placed.where + 1) + " of the target track.");
                } else {
                    deps.status("Done: '" + name + "' in the arrangement at bar " + placed.bar + ".");
                }
            } catch (e) {
                deps.idle();
                deps.status("Done, but Live would not place the clip (" + e.message + "): drag the file below into a track.");
            }
        }

        // Audition: fire the waiting result as a preview clip on the target track; again: stop it.
        function audition() {
            if (!waiting) {
                deps.status("No result waiting: turn on Review first, then Generate.");
                return;
            }
            var w = waiting;
            try {
                if (w.playing && Live.stopPreview(deps.api, w.preview)) {
                    w.playing = false;
                    deps.status("Preview stopped. Audition plays it again, Place keeps it.");
                    return;
                }
                if (!w.preview || !Live.firePreview(deps.api, w.preview)) { // none yet, or the producer deleted it
                    w.preview = Live.previewResult(deps.api, w.wav, w.targetId, w.source.arrangement ? 0 : w.source.slot);
                }
                w.playing = true;
                deps.status("Auditioning '" + w.name + "' in scene " + (w.preview.slot + 1)
                    + " of the target track: Place keeps it, Generate drops it.");
            } catch (e) {
                deps.status("Could not audition (" + e.message + "): drag the file below into a track.");
            }
        }

        // Place: the waiting result goes where it would have gone without Review; the preview clip goes.
        function place() {
            if (!waiting) {
                deps.status("No result waiting to place.");
                return;
            }
            var result = waiting;
            drop();
            placeNow(result);
        }

        // Forget a waiting result and remove its preview clip (a new Generate, or after Place).
        function drop() {
            if (!waiting) {
                return;
            }
            var preview = waiting.preview;
            waiting = null;
            ui(["review_active", 0]);
            if (preview) {
                try {
                    Live.discardPreview(deps.api, preview);
                } catch (e) {
                    deps.status("Could not remove the preview clip (" + e.message + ").");
                }
            }
        }

        return {
            hold: hold,
            placeNow: placeNow,
            audition: audition,
            place: place,
            drop: drop,
            waiting: function () { return waiting !== null; }
        };
    }

    return { create: create };
})(typeof module !== "undefined" && module.exports ? require("./live.js") : DittoLive);

if (typeof module !== "undefined" && module.exports) {
    module.exports = DittoReview;
}
