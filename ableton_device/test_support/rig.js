/*
 * rig.js — a controller wired to a fake Live set, a fake clock and (optionally) the fake server, with
 * everything it sends to udpsend, udpreceive and the UI recorded.
 *
 * deviceRig(live, opts) -> r:
 *   r.ctl, r.live, r.clock, r.sent (udpsend messages), r.net, r.ui (UI messages)
 *   r.last(target) -> the last UI message to target (without the target), or null
 *   r.status() / r.serverLine() -> the status line / the server line
 *   r.stored(key) -> the last store_<key> value the device wrote to its pattr (atoms), or null
 *   r.savedValues() -> [[restore name, atoms]] of every store_* written: what a reloaded set restores
 * opts: {server (a fakeServer: sends go to it and its replies come back), clock, init (default true),
 *        before(ctl) (called before init: settings and saved values that arrive while loading),
 *        replyPortTaken (the probe to our own reply port never comes back: another program holds it)}
 * The device's probe to its reply port comes back at once (udpreceive holds the port) unless replyPortTaken.
 */
"use strict";
var path = require("node:path");
var fs = require("node:fs");
var Controller = require("../src/controller.js");
var support = require("./fake_live.js");

var TABLE = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "ditto_live", "protocol.json"), "utf8"));

function deviceRig(live, opts) {
    opts = opts || {};
    var r = { live: live, sent: [], net: [], ui: [], clock: opts.clock || support.fakeClock(), n: 0 };
    var toServer = null;
    if (opts.server) {
        toServer = opts.server.connect(function (address, args) {
            r.ctl.onMessage(address, support.padReply(TABLE, address, args));
        });
    }
    r.ctl = Controller.create({
        table: TABLE, api: live.api, clock: r.clock,
        send: function (m) {
            r.sent.push(m);
            if (toServer) {
                toServer(m);
            }
        },
        net: function (w, m) { r.net.push([w].concat(m)); },
        probe: function (m) {
            if (m[0] !== "port" && !opts.replyPortTaken) {
                r.ctl.onMessage(m[0], m.slice(1));
            }
        },
        ui: function (m) { r.ui.push(m); },
        newJobId: function () { r.n += 1; return "job" + r.n; }
    });
    r.last = function (target) {
        for (var i = r.ui.length - 1; i >= 0; i--) {
            if (r.ui[i][0] === target) {
                return r.ui[i].slice(1);
            }
        }
        return null;
    };
    r.status = function () { var s = r.last("status"); return s ? s[1] : ""; };
    r.serverLine = function () { var s = r.last("server"); return s ? s[1] : ""; };
    r.stored = function (key) { return r.last("store_" + key); };
    r.savedValues = function () {
        return ["target", "host", "caption"].filter(function (k) { return r.stored(k) !== null; })
            .map(function (k) { return [k, r.stored(k)]; });
    };
    r.sentTo = function (address) { return r.sent.filter(function (m) { return m[0] === address; }); };
    if (opts.before) {
        opts.before(r.ctl);
    }
    if (opts.init !== false) {
        r.ctl.init();
    }
    return r;
}

module.exports = { deviceRig: deviceRig, TABLE: TABLE };
