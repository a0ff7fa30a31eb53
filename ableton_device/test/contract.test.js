// Contract: the device's own messages, over real UDP, to the real ditto_live server, get a done reply.
//
// The server is `python -m ditto_live serve --fake-runner` (a test tone instead of the model), so this checks the
// wire protocol end to end — addresses, argument types as udpsend sends them, chunking,
// subscription to the reply port, reply decoding, cancellation — not the model. It also starts the
// device before the server, and restarts the server, as producers do.
//
// When the server cannot start, the test is skipped on a workstation (with the reason) but FAILS in
// CI (CI=true): a contract that silently stops being checked is no contract.
"use strict";
var test = require("node:test");
var assert = require("node:assert/strict");
var path = require("node:path");
var fs = require("node:fs");
var os = require("node:os");
var dgram = require("node:dgram");
var child = require("node:child_process");
var osc = require("../src/osc.js");
var Controller = require("../src/controller.js");
var support = require("../test_support/fake_live.js");

var ROOT = path.join(__dirname, "..");
var REPO = path.join(ROOT, "..");
var TABLE = JSON.parse(fs.readFileSync(path.join(REPO, "ditto_live", "protocol.json"), "utf8"));

// A free UDP port on loopback (the server binds it a moment later).
function freePort() {
    return new Promise(function (resolve) {
        var s = dgram.createSocket("udp4");
        s.bind(0, "127.0.0.1", function () {
            var port = s.address().port;
            s.close(function () { resolve(port); });
        });
    });
}

// `python -m ditto_live serve --fake-runner` on `port` (a free one if not given); resolves once it answers a ping.
async function startServer(outDir, port) {
    port = port || await freePort();
    var env = Object.assign({}, process.env, { PYTHONPATH: REPO + (process.env.PYTHONPATH ? path.delimiter + process.env.PYTHONPATH : "") });
    var py = process.env.PYTHON || "python3";
    var proc = child.spawn(py, ["-m", "ditto_live", "serve", "--fake-runner", "--port", String(port),
        "--output-dir", outDir, "--allowed-root", outDir], { cwd: REPO, env: env, stdio: ["ignore", "ignore", "pipe"] });
    var err = "", exited = null;
    proc.stderr.on("data", function (d) { err += d; });
    proc.on("exit", function (code) { exited = code; });
    proc.on("error", function (e) { exited = e.message; });
    var probe = dgram.createSocket("udp4"), up = false;
    probe.on("message", function (buf) { up = up || osc.decode(buf)[0].address === "/ditto/server/pong"; });
    await new Promise(function (r) { probe.bind(0, "127.0.0.1", r); });
    var t0 = Date.now();
    while (!up && exited === null && Date.now() - t0 < 30000) {
        probe.send(osc.encode("/ditto/server/ping", ["contract"]), port, "127.0.0.1");
        await new Promise(function (r) { setTimeout(r, 200); });
    }
    probe.close();
    if (!up) {
        proc.kill();
        return { skip: "`python -m ditto_live serve --fake-runner` did not come up (" + (exited !== null ? "exit " + exited
            : "no pong in 30 s") + "): " + err.trim().split("\n").slice(-3).join(" | ") };
    }
    return { proc: proc, port: port };
}

function stopServer(server) {
    return new Promise(function (resolve) {
        if (server.proc.exitCode !== null) {
            return resolve();
        }
        server.proc.on("exit", function () { resolve(); });
        server.proc.kill("SIGTERM");
    });
}

// A server that cannot start: a skip on a workstation, a failure in CI.
function cannotStart(t, why) {
    if (process.env.CI && process.env.CI !== "false" && process.env.CI !== "0") {
        assert.fail("CI: the device-server contract could not run: " + why);
    }
    t.skip(why);
}

function device(serverPort, replySocket) {
    var live = support.fakeLive({
        tempo: 120, detail: { track: 0, slot: 0 },
        tracks: [{ name: "Melody", midi: true, slots: { 0: { midi: true, looping: true, loop_start: 0, loop_end: 8,
            start_marker: 0, end_marker: 8, notes: [{ pitch: 60, start_time: 0, duration: 2 }, { pitch: 64, start_time: 2, duration: 2 }],
            envelopes: { Intensity: function (b) { return -40 + 3 * b; } } } } },
        { name: "Ditto", midi: false }],
        audioPaths: "split" // a Live that cuts paths at spaces: the output folder below has one
    });
    var sender = dgram.createSocket("udp4"); // udpsend: its own ephemeral port
    var d = { live: live, ui: [], sent: [], sender: sender };
    d.ctl = Controller.create({
        table: TABLE, api: live.api,
        send: function (msg) {
            d.sent.push(msg);
            sender.send(osc.encode(msg[0], msg.slice(1)), serverPort, "127.0.0.1"); // tags the way udpsend picks them
        },
        net: function () {},
        ui: function (m) { d.ui.push(m); },
        clock: { after: function (ms, fn) { return setTimeout(fn, ms); }, cancel: function (h) { clearTimeout(h); } },
        newJobId: (function () { var n = 0; return function () { n += 1; return "contract" + process.pid + "-" + n; }; })()
    });
    replySocket.on("message", function (buf) { // udpreceive -> deferlow -> js
        osc.decode(buf).forEach(function (m) { d.ctl.onMessage(m.address, m.args); });
    });
    d.status = function () {
        var s = d.ui.filter(function (m) { return m[0] === "status"; }).pop();
        return s ? s[2] : "";
    };
    d.until = function (pred, ms) {
        return new Promise(function (resolve, reject) {
            var t0 = Date.now();
            (function poll() {
                if (pred()) { return resolve(); }
                if (Date.now() - t0 > ms) { return reject(new Error("timed out; status: " + d.status())); }
                setTimeout(poll, 20);
            })();
        });
    };
    d.ctl.set("port", serverPort);
    d.ctl.set("reply_port", replySocket.address().port);
    d.ctl.set("ack_timeout_ms", 1500);
    d.ctl.init();
    return d;
}

test("device messages through real UDP to the real server: started late, done, chunked done, cancel, restart",
    { timeout: 120000 }, async function (t) {
        var outDir = fs.mkdtempSync(path.join(os.tmpdir(), "ditto contract ")); // a space, as in many home folders
        var port = await freePort();
        var reply = dgram.createSocket("udp4");
        await new Promise(function (r) { reply.bind(0, "127.0.0.1", r); });
        var d = device(port, reply), server = null;
        try {
            // 0. The device starts first: nothing answers, and it says so.
            d.ctl.ping();
            await d.until(function () { return /No answer from/.test(d.status()); }, 10000);
            assert.equal(d.ctl.server(), "not_running");

            // 1. The server starts after the device: Check Server subscribes first, so the pong reaches us.
            server = await startServer(outDir, port);
            if (server.skip) {
                cannotStart(t, server.skip);
                return;
            }
            d.ctl.ping();
            await d.until(function () { return /is up, engine (ready|warming)/.test(d.status()); }, 10000);
            await d.until(function () { return d.ctl.server() === "ready"; }, 30000);

            // 2. A job in one datagram (its envelope read a batch per tick): accepted, progress, done; the WAV,
            //    whose path has a space, lands on the target track.
            d.ctl.set("seed", 3);
            d.ctl.generate();
            await d.until(function () { return d.sent.some(function (m) { return m[0] === "/ditto/job/submit"; }); }, 5000);
            await d.until(function () { return d.ctl.state() === "idle"; }, 30000);
            assert.match(d.status(), /^Done: 'ditto 3' in scene 1/);
            var made = d.live.tracks[1].slots[0].clip;
            assert.ok(made && fs.existsSync(made.data.file_path), "the server's WAV exists: " + (made && made.data.file_path));
            assert.ok(made.data.file_path.indexOf(fs.realpathSync(outDir)) === 0);
            assert.ok(d.ui.some(function (m) { return m[0] === "progress" && m[1] > 5 && m[1] < 100; }), "progress was shown");

            // 3. The same job forced into /ditto/job/chunk pieces.
            d.ctl.set("max_datagram", 300);
            d.ctl.generate();
            await d.until(function () { return d.sent.some(function (m) { return m[0] === "/ditto/job/chunk"; }); }, 5000);
            await d.until(function () { return d.ctl.state() === "idle"; }, 30000);
            assert.match(d.status(), /^Done:/);
            assert.ok(d.live.tracks[1].slots[1].clip, "the second result in the next scene");
            d.ctl.set("max_datagram", 8000);

            // 4. Cancel while running: the server answers error 'cancelled' and the device is idle again.
            d.ctl.generate();
            await d.until(function () { return d.ctl.state() === "running"; }, 30000);
            d.ctl.cancel();
            await d.until(function () { return d.ctl.state() === "idle"; }, 30000);
            assert.equal(d.status(), "Cancelled.");

            // 5. The server restarts (its subscriptions are gone): the next check re-subscribes and is answered.
            await stopServer(server);
            server = await startServer(outDir, port);
            assert.ok(!server.skip, server.skip);
            d.ui.length = 0;
            d.ctl.ping();
            await d.until(function () { return /is up/.test(d.status()); }, 10000);
        } finally {
            d.ctl.close();
            await new Promise(function (r) { setTimeout(r, 50); }); // the unsubscribe leaves before the socket closes
            d.sender.close();
            reply.close();
            if (server && server.proc) {
                await stopServer(server);
            }
        }
    });
