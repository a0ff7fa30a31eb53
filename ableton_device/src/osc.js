/*
 * osc.js — a minimal OSC 1.0 encoder/decoder for Node (the tests and the contract test).
 *
 * In Live, udpsend/udpreceive do this; here a test encodes the device's Max messages the way
 * udpsend does (int -> 'i', float -> 'f', symbol -> 's'; or with explicit tags from the table)
 * and decodes the server's replies. Types: i (int32), f (float32), s (string), plus T/F/N
 * (no payload) and b (blob) on decode. Bundles are flattened on decode.
 */
"use strict";

function pad4(n) {
    return (n + 3) & ~3;
}

function encodeString(s) {
    var bytes = Buffer.from(String(s), "utf8");
    var out = Buffer.alloc(pad4(bytes.length + 1));
    bytes.copy(out);
    return out;
}

// The tag udpsend would pick for a Max atom coming from the js object.
function tagOf(value) {
    if (typeof value === "number") {
        return Math.floor(value) === value ? "i" : "f";
    }
    return "s";
}

/* One OSC message as a Buffer; types (e.g. "ssi") forces the tags, else they follow the values. */
function encode(address, args, types) {
    args = args || [];
    var tags = types !== undefined ? types : args.map(tagOf).join("");
    if (tags.length !== args.length) {
        throw new Error(address + ": " + args.length + " arguments but type tags '" + tags + "'");
    }
    var parts = [encodeString(address), encodeString("," + tags)];
    for (var i = 0; i < args.length; i++) {
        var t = tags.charAt(i), b;
        if (t === "i") {
            b = Buffer.alloc(4);
            b.writeInt32BE(Number(args[i]));
        } else if (t === "f") {
            b = Buffer.alloc(4);
            b.writeFloatBE(Number(args[i]));
        } else if (t === "s") {
            b = encodeString(args[i]);
        } else {
            throw new Error("unsupported OSC type tag '" + t + "'");
        }
        parts.push(b);
    }
    return Buffer.concat(parts);
}

function readString(buf, at) {
    var end = buf.indexOf(0, at);
    if (end < 0) {
        throw new Error("unterminated OSC string");
    }
    return { value: buf.toString("utf8", at, end), next: pad4(end + 1) };
}

function decodeMessage(buf) {
    var a = readString(buf, 0), at = a.next, args = [], tags = "";
    if (at < buf.length) {
        var t = readString(buf, at);
        tags = t.value.replace(/^,/, "");
        at = t.next;
    }
    for (var i = 0; i < tags.length; i++) {
        var c = tags.charAt(i);
        if (c === "i") {
            args.push(buf.readInt32BE(at));
            at += 4;
        } else if (c === "f") {
            args.push(buf.readFloatBE(at));
            at += 4;
        } else if (c === "s") {
            var s = readString(buf, at);
            args.push(s.value);
            at = s.next;
        } else if (c === "b") {
            var n = buf.readInt32BE(at);
            args.push(buf.subarray(at + 4, at + 4 + n));
            at = pad4(at + 4 + n);
        } else if (c === "T" || c === "F" || c === "N") {
            args.push(c === "T" ? true : c === "F" ? false : null);
        } else {
            throw new Error("unsupported OSC type tag '" + c + "'");
        }
    }
    return { address: a.value, types: tags, args: args };
}

/* Every message in a datagram: [{address, types, args}]. */
function decode(buf) {
    if (buf.toString("utf8", 0, 8) === "#bundle\0") {
        var out = [], at = 16;
        while (at < buf.length) {
            var n = buf.readInt32BE(at);
            out = out.concat(decode(buf.subarray(at + 4, at + 4 + n)));
            at += 4 + n;
        }
        return out;
    }
    return [decodeMessage(buf)];
}

module.exports = { encode: encode, decode: decode, tagOf: tagOf };
