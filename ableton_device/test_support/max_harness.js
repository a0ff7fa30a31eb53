/*
 * max_harness.js — the built device as Live and Max would run it, for node tests.
 *
 *   readAmxd(buf)            the .amxd container: {type, frozen, patcher, files {name: Buffer}}; a frozen device
 *                            (ptch starting with "mx@c", the layout Max's Freeze writes) carries its files inside
 *   loadDevice(code, live)   ditto_live_device.js run in a Max-like global scope (LiveAPI from the fake Live,
 *                            Task on a fake clock, outlets recorded): {ctx, outs, posts, clock, ui(target)}
 *   parameterModel(patcher)  the Live parameters the patcher declares, held the way Live holds them
 *   loadPatcher(dev, patcher, model)  the load sequence the patcher runs: every Live parameter outputs its
 *                            value into the js, then live.thisdevice bangs ([t b b]: "init", then a bang to
 *                            each control wired to the trigger, which outputs its value again)
 *   bangThisDevice(dev, patcher, model)  live.thisdevice bangs again (a preset load, a device save)
 */
"use strict";
var vm = require("node:vm");
var support = require("./fake_live.js");

function chunks(buf) {
    var at = 0, out = {};
    while (at + 8 <= buf.length) {
        var tag = buf.toString("latin1", at, at + 4), size = buf.readUInt32LE(at + 4);
        out[tag] = buf.subarray(at + 8, at + 8 + size);
        at += 8 + size;
    }
    return out;
}

// Fields of one frozen-dependency entry ("dire"): type, fnam, sz32, of32, vers, flag, mdat (big-endian sizes).
function direFields(body) {
    var at = 0, out = {};
    while (at + 8 <= body.length) {
        var tag = body.toString("latin1", at, at + 4), size = body.readUInt32BE(at + 4);
        out[tag] = body.subarray(at + 8, at + size);
        at += size;
    }
    return out;
}

/* A frozen ptch: "mx@c", header size, uint64 footer offset, the files, then "dlst" listing them. */
function readFrozen(ptch) {
    var footer = Number(ptch.readBigUInt64BE(8)), at = footer + 8, files = {}, order = [];
    if (ptch.toString("latin1", footer, footer + 4) !== "dlst") {
        throw new Error("frozen device without a dlst footer");
    }
    while (at < ptch.length) {
        var size = ptch.readUInt32BE(at + 4), f = direFields(ptch.subarray(at + 8, at + size));
        var name = f.fnam.toString("utf8").replace(/\0+$/, ""), of = f.of32.readUInt32BE(0), sz = f.sz32.readUInt32BE(0);
        files[name] = ptch.subarray(of, of + sz);
        order.push(name);
        at += size;
    }
    return { files: files, device: files[order[0]] };
}

function readAmxd(buf) {
    var c = chunks(buf), ptch = c.ptch, frozen = ptch.toString("latin1", 0, 4) === "mx@c";
    var unpacked = frozen ? readFrozen(ptch) : { files: {}, device: ptch };
    var json = unpacked.device.toString("utf8").replace(/\0+$/, "");
    return { type: c.ampf.toString("latin1"), frozen: frozen, patcher: JSON.parse(json).patcher, files: unpacked.files };
}

function loadDevice(code, live, opts) {
    opts = opts || {};
    var clock = opts.clock || support.fakeClock(), outs = [[], [], [], []], posts = [];
    function Task(fn) { this.fn = fn; }
    Task.prototype.schedule = function (ms) { this.h = clock.after(ms, this.fn); };
    Task.prototype.cancel = function () { if (this.h) { clock.cancel(this.h); } };
    var ctx = {
        LiveAPI: live.LiveAPI, Task: Task,
        outlet: function (n, msg) { outs[n].push(Array.prototype.slice.call(msg)); },
        post: function (s) { posts.push(s); },
        arrayfromargs: function (a) { return Array.prototype.slice.call(a); },
        JSON: JSON, Math: Math, Date: Date, Number: Number, String: String, Error: Error, Object: Object,
        encodeURI: encodeURI
    };
    vm.createContext(ctx);
    vm.runInContext(code, ctx, { filename: "ditto_live_device.js" });
    var dev = { ctx: ctx, outs: outs, posts: posts, clock: clock, live: live };
    // The last UI message to target (its arguments), or null.
    dev.ui = function (target) {
        for (var i = outs[1].length - 1; i >= 0; i--) {
            if (outs[1][i][0] === target) {
                return outs[1][i].slice(1);
            }
        }
        return null;
    };
    dev.sent = function (address) { return outs[0].filter(function (m) { return m[0] === address; }); };
    // A reply from udpreceive (after deferlow): the OSC address is the message name.
    dev.reply = function (address, args) {
        ctx.messagename = address;
        ctx.anything.apply(null, args);
    };
    return dev;
}

function boxesOf(patcher) {
    var out = {};
    patcher.boxes.forEach(function (b) { out[b.box.id] = b.box; });
    return out;
}

function isParameter(box) {
    return !!(box.parameter_enable || (box.saved_object_attributes || {}).parameter_enable);
}

/*
 * Live's parameters as the patcher declares them, held as Live holds them. Cycling '74's parameter
 * reference: Live's native integers span 0-255, so an Int parameter keeps at most 256 values; this model
 * keeps an Int's value within 256 steps of its minimum (what Live does beyond that is not documented, so
 * the device must not depend on it). Float clamps to its range, Enum to its items.
 */
function parameterModel(patcher) {
    var boxes = boxesOf(patcher), params = {};
    Object.keys(boxes).forEach(function (id) {
        var b = boxes[id];
        if (!isParameter(b) || b.maxclass === "newobj") {
            return; // pattr blobs restore through their own path (restore_*)
        }
        var v = b.saved_attribute_attributes.valueof;
        var type = v.parameter_type, min = Number(v.parameter_mmin || 0);
        var max = type === 2 ? (v.parameter_enum || []).length - 1 : Number(v.parameter_mmax === undefined ? 127 : v.parameter_mmax);
        var p = { box: b, name: v.parameter_longname, type: type, min: min, max: max };
        p.hold = function (x) {
            var hi = p.type === 1 ? Math.min(p.max, p.min + 255) : p.max;
            var held = Math.max(p.min, Math.min(hi, Number(x)));
            return p.type === 0 ? held : Math.round(held);
        };
        p.value = p.hold(v.parameter_initial ? v.parameter_initial[0] : min);
        params[p.name] = p;
    });
    return {
        params: params,
        // The producer (or a saved set) sets a parameter: the value Live keeps.
        set: function (name, x) { params[name].value = params[name].hold(x); return params[name].value; }
    };
}

// What a box's outlet 0 reaches: the js function called through [prepend name] (or [route text] -> host).
function jsCallOf(patcher, boxId) {
    var boxes = boxesOf(patcher);
    for (var i = 0; i < patcher.lines.length; i++) {
        var l = patcher.lines[i].patchline;
        if (l.source[0] === boxId && l.source[1] === 0) {
            var m = /^prepend (\w+)$/.exec(boxes[l.destination[0]].text || "");
            if (m) {
                return m[1];
            }
        }
    }
    return null;
}

// A control outputs its current value into the js.
function output(dev, patcher, model, box) {
    var fn = jsCallOf(patcher, box.id), p = null;
    Object.keys(model.params).forEach(function (k) { p = model.params[k].box === box ? model.params[k] : p; });
    if (!fn) {
        return;
    }
    if (p) {
        dev.ctx[fn](p.value);
    } else if (box.maxclass === "umenu") {
        var shown = dev.ui("tracks");
        dev.ctx[fn](shown && shown[0] === "set" ? shown[1] : 0); // a bang outputs the selected item
    }
}

function bangThisDevice(dev, patcher, model) {
    var boxes = boxesOf(patcher), trig = null;
    Object.keys(boxes).forEach(function (id) { trig = boxes[id].text === "t b b" ? boxes[id] : trig; });
    dev.ctx.init(); // [t b b] fires right to left: outlet 1 -> "init"
    patcher.lines.forEach(function (l) {
        l = l.patchline;
        if (l.source[0] === trig.id && l.source[1] === 0) {
            output(dev, patcher, model, boxes[l.destination[0]]);
        }
    });
}

function loadPatcher(dev, patcher, model) {
    Object.keys(model.params).forEach(function (k) {
        if (model.params[k].box.maxclass !== "live.text" || model.params[k].box.mode !== 0) { // buttons do not
            output(dev, patcher, model, model.params[k].box);
        }
    });
    bangThisDevice(dev, patcher, model);
}

module.exports = {
    readAmxd: readAmxd, loadDevice: loadDevice, parameterModel: parameterModel, loadPatcher: loadPatcher,
    bangThisDevice: bangThisDevice, boxesOf: boxesOf
};
