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
 * A check also sends a probe from the device to its own reply port (deps.probe, a second udpsend to
 * 127.0.0.1:<reply port>): when the probe comes back, the device's udpreceive holds the port, so silence
 * from the server means the server is not there; when it does not, the reply port is not ours (another
 * program or DittoLive bound it), and no server could reach us.
 *
 * States, shown in the device's server line:
 *   checking     a check is out, nothing heard yet
 *   not_running  no pong within the answer timeout (and our reply port hears the probe)
 *   deaf         no pong and no probe: this device's reply port is not receiving
 *   connected    the server answered a ping; its engine state is not known yet
 *   warming      /ditto/server/state says {"engine": "warming"}: the model is loading
 *   ready        engine "ready", or a server that does not report "engine" (older servers)
 *   mismatch     the server speaks another protocol version
 *
 * deps: {send(address, values), subscribe() (sends /ditto/client/subscribe for the reply port),
 *        ui(msg), clock, version (the table's protocol version), name() ("host:port"), timeoutMs(),
 *        onStatus(status) (called with each parsed /ditto/server/state JSON),
 *        probe(token) (optional: send PROBE_ADDRESS token to our own reply port), replyPort()}
 *
 * ES5 only; see protocol.js for how Node and Max load it.
 */
var DittoLink = (function () {
    "use strict";

    var LABELS = {
        checking: "checking...", not_running: "not running", deaf: "reply port not receiving", connected: "connected",
        warming: "warming up", ready: "ready", mismatch: "protocol mismatch"
    };
    var BEAT_READY_MS = 15000; // keep the subscription fresh and notice a restart within this
    var BEAT_WARMING_MS = 2000; // poll quickly until the engine is warm
    var BEAT_DOWN_MIN_MS = 2000; // first retry after no answer; doubles per miss
    var BEAT_DOWN_MAX_MS = 30000;
    var PROBE_ADDRESS = "/ditto/device/probe"; // device -> its own reply port; never sent to the server

    // "ready" unless the status says the engine is warming (a server without the key is ready).
    function engineOf(status) {
        return status && status.engine === "warming" ? "warming" : "ready";
    }

    function create(deps) {
        var state = "checking", misses = 0, answerTimer = null, beatTimer = null, token = 0;
        var pendingReport = false; // a manual check reports its outcome on the status line
        var shown = "", stopped = false; // the server line's text; stop() was called (device removed)
        var probeToken = "", probeHeard = false; // the last probe sent to our reply port, and whether it came back
        // This device's own mark on its probes: another DittoLive holding our port must not take them for its own.
        var me = Math.floor(Math.random() * 2176782336).toString(36);

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
            if (state === "not_running" || state === "deaf" || state === "checking") {
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
            if (deps.probe && !probeHeard) {
                show("deaf");
                report("This device's reply port " + deps.replyPort() + " is not receiving: another program or "
                    + "DittoLive holds it (the Max console shows udpreceive errors). Give this device another Reply port.", true);
            } else {
                show("not_running");
                report("No answer from " + deps.name() + ": start it with `ditto-live serve` (the device keeps "
                    + "checking and connects by itself).", true);
            }
            scheduleBeat();
        }

        // Our own probe came back through udpreceive: the reply port is ours.
        function onProbe(token) {
            if (String(token) === probeToken) {
                probeHeard = true;
            }
        }

        /* Subscribe first, then ping and ask the status. manual: report the outcome on the status line. */
        function check(manual) {
            stopped = false;
            pendingReport = pendingReport || !!manual;
            token += 1;
            if (deps.probe) {
                probeToken = "probe" + me + "-" + token;
                probeHeard = false;
                deps.probe(probeToken);
            }
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
            onProbe: onProbe,
            stop: stop,
            state: function () { return state; }
        };
    }

    return { create: create, engineOf: engineOf, LABELS: LABELS, BEAT_READY_MS: BEAT_READY_MS, PROBE_ADDRESS: PROBE_ADDRESS };
})();

if (typeof module !== "undefined" && module.exports) {
    module.exports = DittoLink;
}
