/*
 * fake_server.js — the reply rules of `ditto-live serve` that decide whether the device hears it,
 * without UDP, for fast controller tests (contract.test.js checks the same against the real server).
 *
 * What it models:
 *   - replies go to the sender's own port and to subscribed ports. The device sends from udpsend,
 *     which cannot receive, so it hears only what reaches its subscribed reply port;
 *   - subscriptions live in the server process: a server that is not running drops everything,
 *     and one started (or restarted) after the device has no subscription until the device sends
 *     /ditto/client/subscribe again;
 *   - /ditto/server/state carries the status JSON; `engine` is "warming", "ready" or absent (a
 *     server from before the key existed);
 *   - jobs: submit -> accepted (the job stays queued until finish(id)); /ditto/job/status answers
 *     queued, or unknown after a restart.
 *
 * fakeServer({clock, version, engine}) -> {
 *   connect(deliver(address, args)) -> send(msg)  the device's udpsend; deliver is its udpreceive
 *   start(), stop(), restart(), setEngine(e), finish(jobId, wav), subscribers(), received
 * }
 * Replies are delivered on the clock one tick later (1 ms), as a datagram would.
 */
"use strict";

function fakeServer(opts) {
    var clock = opts.clock, running = false, subscribed = [], jobs = {}, received = [], deliver = null;
    var engine = opts.engine;

    function reply(address, args) {
        subscribed.forEach(function () {
            clock.after(1, function () { deliver(address, args); });
        });
    }

    function status() {
        var st = { version: opts.version, queued: [], running: null, queue_size: 4 };
        Object.keys(jobs).forEach(function (id) { st.queued.push(id); });
        if (engine !== undefined) {
            st.engine = engine;
        }
        return JSON.stringify(st);
    }

    function handle(msg) {
        var address = msg[0], args = msg.slice(1);
        received.push(msg);
        if (address === "/ditto/client/subscribe") {
            if (subscribed.indexOf(args[0]) < 0) {
                subscribed.push(args[0]);
            }
            reply("/ditto/client/subscribed", [args[0], 1]);
        } else if (address === "/ditto/server/ping") {
            reply("/ditto/server/pong", [args[0], opts.version]);
        } else if (address === "/ditto/server/status") {
            reply("/ditto/server/state", [status()]);
        } else if (address === "/ditto/job/submit") {
            jobs[args[0]] = true;
            reply("/ditto/job/accepted", [args[0], 0]);
        } else if (address === "/ditto/job/status") {
            reply("/ditto/job/state", [args[0], jobs[args[0]] ? "queued" : "unknown"]);
        }
    }

    return {
        connect: function (fn) {
            deliver = fn;
            return function (msg) {
                if (running) {
                    handle(msg);
                }
            };
        },
        start: function () { running = true; },
        stop: function () {
            running = false;
            subscribed = [];
            jobs = {};
        },
        restart: function () {
            this.stop();
            this.start();
        },
        setEngine: function (e) { engine = e; },
        finish: function (id, wav) {
            delete jobs[id];
            reply("/ditto/job/done", [id, wav, "{}"]);
        },
        subscribers: function () { return subscribed.slice(); },
        received: received
    };
}

module.exports = { fakeServer: fakeServer };
