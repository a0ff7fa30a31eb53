// The device finds the server whenever it starts, re-subscribes after a restart, and tells
// not running / connected / warming up / ready apart (fake server with the real reply rules).
"use strict";
var test = require("node:test");
var assert = require("node:assert/strict");
var support = require("../test_support/fake_live.js");
var fakeServer = require("../test_support/fake_server.js").fakeServer;
var rigs = require("../test_support/rig.js");
var Link = require("../src/link.js");

var SET = {
    detail: { track: 0, slot: 0 },
    tracks: [{ name: "Melody", midi: true, slots: { 0: { midi: true, looping: true, loop_start: 0, loop_end: 8,
        start_marker: 0, end_marker: 8, notes: [{ pitch: 60, start_time: 0, duration: 2 }] } } },
    { name: "Out", midi: false }]
};

function setup(engine, running) {
    var clock = support.fakeClock();
    var server = fakeServer({ clock: clock, version: rigs.TABLE.version, engine: engine });
    if (running) {
        server.start();
    }
    var r = rigs.deviceRig(support.fakeLive(SET), { clock: clock, server: server });
    return { r: r, server: server, clock: clock };
}

test("server started after the device: found by the heartbeat, subscribed before its ping, then ready", function () {
    var t = setup("ready", false);
    t.clock.advance(5000);
    assert.equal(t.r.ctl.server(), "not_running");
    assert.match(t.r.serverLine(), /not running/);
    t.server.start();
    assert.deepEqual(t.server.subscribers(), [], "the start-up subscription went nowhere");
    t.clock.advance(4000); // retries back off from 2 s
    assert.equal(t.r.ctl.server(), "ready");
    assert.match(t.r.serverLine(), /^Server 127\.0\.0\.1:9010: ready$/);
    assert.deepEqual(t.server.subscribers(), [9011]);
    var first = t.server.received.map(function (m) { return m[0]; });
    assert.deepEqual(first.slice(0, 3), ["/ditto/client/subscribe", "/ditto/server/ping", "/ditto/server/status"]);
});

test("Check Server on a server started after the device reports it up (ping alone would never be answered)", function () {
    var t = setup(undefined, false);
    t.r.ctl.ping();
    t.clock.advance(5000);
    assert.match(t.r.status(), /No answer from 127\.0\.0\.1:9010: start it with `ditto-live serve`/);
    t.server.start();
    t.r.ctl.ping();
    t.clock.advance(10);
    assert.match(t.r.status(), /^Server 127\.0\.0\.1:9010 is up, engine ready\.$/, "no engine key: ready");
    assert.equal(t.r.ctl.server(), "ready");
});

test("a restarted server (subscriptions gone) is re-subscribed by the heartbeat, with no click", function () {
    var t = setup("ready", true);
    t.clock.advance(10);
    assert.equal(t.r.ctl.server(), "ready");
    t.server.restart();
    assert.deepEqual(t.server.subscribers(), []);
    t.clock.advance(Link.BEAT_READY_MS + 10);
    assert.deepEqual(t.server.subscribers(), [9011]);
    assert.equal(t.r.ctl.server(), "ready");
});

test("a server that stops is shown not running; the device keeps checking with back-off", function () {
    var t = setup("ready", true);
    t.clock.advance(10);
    t.server.stop();
    t.clock.advance(Link.BEAT_READY_MS + 5000 + 10);
    assert.equal(t.r.ctl.server(), "not_running");
    var pings = function () { return t.r.sentTo("/ditto/server/ping").length; };
    var before = pings();
    t.clock.advance(60000);
    var during = pings() - before;
    assert.ok(during >= 2 && during <= 8, during + " checks in a minute");
});

test("warming up, then ready: the server line follows the status's engine key, polling quickly meanwhile", function () {
    var t = setup("warming", true);
    t.clock.advance(10);
    assert.equal(t.r.ctl.server(), "warming");
    assert.match(t.r.serverLine(), /warming up/);
    t.server.setEngine("ready");
    t.clock.advance(2100);
    assert.equal(t.r.ctl.server(), "ready");
    assert.match(t.r.serverLine(), /: ready$/);
});

test("connected is shown between the pong and the status reply", function () {
    var t = setup("ready", true);
    t.r.ctl.onMessage("/ditto/server/pong", ["x", rigs.TABLE.version]);
    assert.equal(t.r.ctl.server(), "connected");
    assert.match(t.r.serverLine(), /connected/);
});

test("a job sent while the engine warms up says it waits", function () {
    var t = setup("warming", true);
    t.clock.advance(10);
    t.r.ctl.generate();
    assert.match(t.r.status(), /warming up, the job waits for it/);
});

test("the server restarts while our job is queued: the status no longer lists it, the device asks and gives up cleanly", function () {
    var t = setup("ready", true);
    t.clock.advance(10);
    t.r.ctl.generate();
    t.clock.advance(10);
    assert.equal(t.r.ctl.state(), "queued");
    t.server.restart();
    t.clock.advance(Link.BEAT_READY_MS + 100);
    assert.equal(t.r.ctl.state(), "idle");
    assert.match(t.r.status(), /lost the job \(was it restarted\?\)/);
    assert.deepEqual(t.r.last("generate_active"), [1], "Generate is active again");
});

test("a server speaking another protocol version is reported as such", function () {
    var t = setup("ready", true);
    t.r.ctl.ping();
    t.r.ctl.onMessage("/ditto/server/pong", ["x", rigs.TABLE.version + 1]);
    assert.equal(t.r.ctl.server(), "mismatch");
    assert.match(t.r.status(), /protocol v\d+, device speaks v\d+/);
});

test("after the device is removed, a late reply starts no timer", function () {
    var t = setup("ready", true);
    t.r.ctl.close();
    assert.ok(t.clock.pending() > 0, "the replies to init's check are still in flight");
    t.clock.advance(10);
    assert.equal(t.clock.pending(), 0);
});

test("engineOf: only an explicit warming is warming", function () {
    assert.equal(Link.engineOf({ engine: "warming" }), "warming");
    assert.equal(Link.engineOf({ engine: "ready" }), "ready");
    assert.equal(Link.engineOf({}), "ready");
    assert.equal(Link.engineOf(null), "ready");
});
