// The device builds exactly the messages the shared protocol table defines.
"use strict";
var test = require("node:test");
var assert = require("node:assert/strict");
var path = require("node:path");
var fs = require("node:fs");
var Protocol = require("../src/protocol.js");
var osc = require("../src/osc.js");

var TABLE_PATH = path.join(__dirname, "..", "..", "ditto_live", "protocol.json");
var TABLE = JSON.parse(fs.readFileSync(TABLE_PATH, "utf8"));
var proto = Protocol.create(TABLE);

function sample(type, i) {
    return type === "s" ? "v" + i : type === "i" ? i + 1 : i + 0.5;
}

test("every request in the table builds with its arguments in table order", function () {
    var requests = TABLE.messages.filter(function (m) { return m.direction === "request"; });
    assert.ok(requests.length >= 5);
    requests.forEach(function (m) {
        var values = {};
        m.args.forEach(function (a, i) { values[a.name] = sample(a.type, i); });
        var msg = proto.build(m.address, values);
        assert.equal(msg[0], m.address);
        assert.deepEqual(msg.slice(1), m.args.map(function (a, i) { return sample(a.type, i); }));
        // What udpsend would put on the wire carries the table's type tags.
        var wire = osc.decode(osc.encode(msg[0], msg.slice(1)))[0];
        assert.equal(wire.types, m.args.map(function (a) { return a.type; }).join(""), m.address);
    });
});

test("build refuses replies, unknown addresses, missing, extra and mistyped arguments", function () {
    assert.throws(function () { proto.build("/ditto/job/done", ["a", "b", "c"]); }, /reply/);
    assert.throws(function () { proto.build("/ditto/job/launch", []); }, /not in the protocol table/);
    assert.throws(function () { proto.build("/ditto/job/submit", { job_id: "x" }); }, /missing argument 'spec'/);
    assert.throws(function () { proto.build("/ditto/job/cancel", { job_id: "x", why: "y" }); }, /no argument named/);
    assert.throws(function () { proto.build("/ditto/client/subscribe", { port: "9011" }); }, /integer/);
    assert.throws(function () { proto.build("/ditto/client/subscribe", { port: 9011.5 }); }, /integer/);
    assert.throws(function () { proto.build("/ditto/job/cancel", []); }, /expected 1 arguments/);
});

test("replies decode by the table's argument names; malformed ones are refused", function () {
    TABLE.messages.filter(function (m) { return m.direction === "reply"; }).forEach(function (m) {
        var args = m.args.map(function (a, i) { return sample(a.type, i); });
        var r = proto.decode(m.address, args);
        assert.deepEqual(Object.keys(r), m.args.map(function (a) { return a.name; }));
    });
    assert.equal(proto.decode("/ditto/job/done", ["only-one"]), null);
    assert.equal(proto.decode("/ditto/job/submit", ["a", "b"]), null, "a request is not a reply");
    assert.equal(proto.decode("/nope", []), null);
});

test("oscMessageSize equals the encoded datagram length", function () {
    var cases = [["/ditto/job/submit", "ss", ["job1", "{\"a\": \"é€😀\"}"]], ["/ditto/job/chunk", "siis", ["j", 0, 3, "xyz"]],
        ["/ditto/server/status", "", []]];
    cases.forEach(function (c) {
        assert.equal(Protocol.oscMessageSize(c[0], c[1], c[2]), osc.encode(c[0], c[2], c[1]).length);
    });
});

test("chunks fit the datagram limit and reassemble to the exact JSON, multibyte text included", function () {
    var text = JSON.stringify({ caption: new Array(900).join("é€😀 a"), notes: [[60, 0, 1]] });
    [300, 1000, 8000].forEach(function (limit) {
        var msgs = proto.chunk("job-7", text, limit);
        assert.ok(msgs.length > 1);
        var joined = "";
        msgs.forEach(function (m, i) {
            assert.equal(m[0], "/ditto/job/chunk");
            assert.deepEqual(m.slice(1, 4), ["job-7", i, msgs.length]);
            var wire = osc.encode(m[0], m.slice(1), proto.typeTags(m[0]));
            assert.ok(wire.length <= limit, wire.length + " > " + limit);
            joined += osc.decode(wire)[0].args[3];
        });
        assert.equal(joined, text);
    });
});
