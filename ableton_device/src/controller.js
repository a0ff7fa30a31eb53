/*
 * controller.js — the device's state machine: Generate, Cancel, server replies, timeouts.
 *
 * States: idle -> reading (the envelope, a few LOM calls per tick) -> submitting (sent, waiting for
 * the server) -> queued -> running -> idle, with cancelling in between on Cancel. Every path ends
 * in idle with the Generate button active again:
 * a terminal reply (done or error), a Live error while reading or placing, no answer within
 * ackTimeoutMs (server not running), or no news for stallTimeoutMs (then the job's state is
 * asked once before giving up). Replies carrying another job's id are ignored, so two devices can
 * share a server. The server's presence and engine state are link.js's, the Target menu tracks.js's,
 * placing a result (at once, or with Review first after Audition and Place) review.js's; what is saved with
 * the set (target track, host, caption) is restored through restore() and written back through the store_*
 * UI messages (persist.js). Generate drops a result waiting for review. A local give-up (no answer, a
 * stall) cancels the job on the server.
 *
 * Dependencies come in (deps), so node tests drive it with a fake LiveAPI, a fake clock and
 * recorded outputs:
 *   table       the protocol table (ditto_live/protocol.json)
 *   api(path)   a LiveAPI object for a path
 *   send(msg)   one Max message [address, args...] to udpsend
 *   net(which, msg)  configure "udpsend" (host/port) or "udpreceive" (port)
 *   probe(msg)  optional: one message to the probe udpsend (127.0.0.1, our reply port; see link.js)
 *   ui(msg)     one UI message [target, args...] (routed to the patcher's objects)
 *   clock       {after(ms, fn) -> handle, cancel(handle)}
 *   newJobId()  a unique job id
 *
 * ES5 only; see protocol.js for how Node and Max load it.
 */
var DittoController = (function (Protocol, Clip, Live, Link, Persist, Reader, Settings, Tracks, Review) {
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
        var s = Settings.defaults(); // the settings, by the keys Clip.buildJob reads (settings.js)
        var state = "idle", job = null, timer = null;
        var lastWav = "";
        var menu = Tracks.create({ api: deps.api, ui: ui }); // the Target menu
        var review = Review.create({ api: deps.api, ui: ui, status: status, idle: function () { setState("idle"); } });
        var link = Link.create({
            send: send, subscribe: subscribe, ui: ui, clock: deps.clock, version: proto.version,
            name: serverName, timeoutMs: function () { return s.ackTimeoutMs; }, onStatus: onServerStatus,
            probe: deps.probe ? function (token) { deps.probe([Link.PROBE_ADDRESS, token]); } : null,
            replyPort: function () { return s.replyPort; }
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

        // A local give-up (no answer, a stall): the server may still be computing the job, so cancel it there.
        function giveUp(message) {
            if (job) {
                send("/ditto/job/cancel", { job_id: job.id });
            }
            fail(message);
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
            if (deps.probe) {
                deps.probe(["port", s.replyPort]);
            }
        }

        function subscribe() {
            send("/ditto/client/subscribe", { port: s.replyPort });
        }

        // At load, and again when live.thisdevice bangs again: a job in flight keeps its state and buttons.
        function init() {
            configureNet();
            setState(state);
            if (!BUSY[state]) {
                ui(["progress", 0]);
            }
            ui(["review_active", review.waiting() ? 1 : 0]);
            var v;
            try {
                menu.refresh();
                v = Live.liveVersion(deps.api);
            } catch (e) {
                status("Error: " + e.message);
                return;
            }
            var place = Live.canCreateAudioClips(v) ? "results land on the target track"
                : "results are shown for drag and drop (Live 12.0.5+ places them)";
            status("Ready (Live " + v.join(".") + "): " + place + "." + (menu.note() ? " " + menu.note() : ""));
            link.check(false);
        }

        function set(name, value) {
            if (name === "target") {
                menu.pick(value);
                return;
            }
            var key = Settings.key(name), old = s[key];
            s[key] = Settings.coerce(name, value);
            if (name === "host" && s.host !== old) {
                ui(["store_host", s.host]);
            }
            if (name === "caption" && s.caption !== old) {
                ui(["store_caption", s.caption]);
            }
            if ((name === "host" || name === "port" || name === "reply_port") && s[key] !== old) {
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
                menu.restore(atoms);
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
            var mode = Clip.choice("mode", s.mode), path = "", trackId = 0;
            try {
                menu.refresh();
                path = menu.path();
                trackId = menu.id(); // the job keeps the track by LOM id: it follows the track if tracks move
            } catch (e) {
                fail(e.message);
                return;
            }
            if (menu.missing()) {
                status(menu.note());
                return;
            }
            review.drop();
            setState("reading");
            status("Reading the clip...");
            reader.read(mode, path, function (ctx) { submit(ctx, trackId); }, function (e) { fail(e.message); },
                function (done, total) { status("Reading the Intensity automation " + done + "/" + total + "..."); });
        }

        // The job read from Live goes to the server (one datagram, or chunks), subscribed first.
        function submit(ctx, trackId) {
            var spec;
            try {
                spec = Clip.buildJob(s, ctx);
            } catch (e) {
                fail(e.message);
                return;
            }
            var id = deps.newJobId(), json = JSON.stringify(spec);
            job = { id: id, source: ctx.source, targetId: trackId, offset: ctx.placeOffset, seed: spec.seed };
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
                giveUp("no answer from the server at " + serverName() + " within " + s.ackTimeoutMs / 1000
                    + " s (" + (link.state() === "deaf" ? "this device's reply port " + s.replyPort + " is not receiving: "
                    + "give it another Reply port" : "is `ditto-live serve` running, and is the reply port " + s.replyPort
                    + " free?") + "). The job was cancelled.");
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
                    giveUp("the server stopped answering; the job was cancelled. Generate again.");
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
            var result = { wav: r.wav, source: j.source, targetId: j.targetId, name: "ditto " + seed, offset: j.offset, preview: null };
            if (s.review) {
                review.hold(result);
            } else {
                review.placeNow(result);
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
            if (address === Link.PROBE_ADDRESS) {
                link.onProbe((args || [])[0]);
                return true;
            }
            var r = proto.decode(address, args || []);
            if (!r) {
                return false;
            }
            if (address === "/ditto/client/challenge") {
                // Our subscription takes effect once its code, sent to our reply port, comes back; then check
                // again (the ping and status of this check went to a subscription not yet confirmed).
                send("/ditto/client/confirm", { code: r.code });
                link.check(false);
                return true;
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
            audition: review.audition,
            place: review.place,
            ping: ping,
            reveal: reveal,
            close: close,
            refreshTracks: menu.refresh,
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
    typeof module !== "undefined" && module.exports ? require("./reader.js") : DittoReader,
    typeof module !== "undefined" && module.exports ? require("./settings.js") : DittoSettings,
    typeof module !== "undefined" && module.exports ? require("./tracks.js") : DittoTracks,
    typeof module !== "undefined" && module.exports ? require("./review.js") : DittoReview
);

if (typeof module !== "undefined" && module.exports) {
    module.exports = DittoController;
}
