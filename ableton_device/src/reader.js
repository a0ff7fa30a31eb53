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
