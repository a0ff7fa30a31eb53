/*
 * protocol.js — the device's view of ditto_live/protocol.json (the server's one table).
 *
 * Every message the device sends is built here from the table, never from a hand-copied list:
 * build() looks the address up, checks direction, argument count and OSC types, and returns the
 * Max message [address, arg0, arg1, ...] that udpsend turns into an OSC datagram. Replies are
 * decoded by name with the same table. chunk() splits a job JSON that would not fit one
 * datagram into /ditto/job/chunk messages.
 *
 * ES5 only (Max's `js` object): var, function, no modules. Node loads it through module.exports;
 * the build script concatenates it (after the table as `var DITTO_PROTOCOL = {...};`) for Max.
 */
var DittoProtocol = (function () {
    "use strict";

    // Bytes of a string once UTF-8 encoded (OSC strings are UTF-8 in udpsend and python-osc).
    function utf8Length(s) {
        var n = 0;
        for (var i = 0; i < s.length; i++) {
            var c = s.charCodeAt(i);
            if (c < 0x80) {
                n += 1;
            } else if (c < 0x800) {
                n += 2;
            } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
                n += 4; // surrogate pair: one 4-byte code point
                i += 1;
            } else {
                n += 3;
            }
        }
        return n;
    }

    // Size of an OSC string field: bytes + NUL terminator, padded to a multiple of 4.
    function oscStringSize(s) {
        return (utf8Length(s) + 4) & ~3;
    }

    // Exact OSC datagram size of a message with these type tags and values.
    function oscMessageSize(address, types, values) {
        var n = oscStringSize(address) + oscStringSize("," + types);
        for (var i = 0; i < types.length; i++) {
            n += types.charAt(i) === "s" ? oscStringSize(String(values[i])) : 4;
        }
        return n;
    }

    function checkValue(address, arg, value) {
        var t = arg.type;
        if (t === "s" && typeof value !== "string") {
            throw new Error(address + ": argument '" + arg.name + "' must be a string");
        }
        if (t === "i" && !(typeof value === "number" && Math.floor(value) === value && isFinite(value))) {
            throw new Error(address + ": argument '" + arg.name + "' must be an integer");
        }
        if (t === "f" && !(typeof value === "number" && isFinite(value))) {
            throw new Error(address + ": argument '" + arg.name + "' must be a number");
        }
    }

    /*
     * Wrap a protocol table (the parsed protocol.json). Returns an object with:
     *   version                      the table's protocol version
     *   spec(address)                the table entry, or throws for an unknown address
     *   typeTags(address)            e.g. "ss"
     *   build(address, values)       [address, ...args]; values is an array in table order or an
     *                                object keyed by argument name
     *   decode(address, args)        {name: value} for a reply, or null when it is not one
     *   chunk(jobId, json, maxBytes) /ditto/job/chunk messages whose datagrams fit maxBytes
     *   fits(message, maxBytes)      whether a built message's datagram fits maxBytes
     */
    function create(table) {
        if (!table || !table.messages) {
            throw new Error("protocol table missing: build the device with build_amxd.py");
        }
        var byAddress = {};
        for (var i = 0; i < table.messages.length; i++) {
            byAddress[table.messages[i].address] = table.messages[i];
        }

        function spec(address) {
            var m = byAddress[address];
            if (!m) {
                throw new Error("address not in the protocol table: " + address);
            }
            return m;
        }

        function typeTags(address) {
            var args = spec(address).args, s = "";
            for (var i = 0; i < args.length; i++) {
                s += args[i].type;
            }
            return s;
        }

        function build(address, values) {
            var m = spec(address);
            if (m.direction !== "request") {
                throw new Error(address + " is a reply; the device only sends requests");
            }
            var list = [];
            var named = values && !(values instanceof Array);
            var given = named ? values : (values || []);
            if (!named && given.length !== m.args.length) {
                throw new Error(address + ": expected " + m.args.length + " arguments, got " + given.length);
            }
            for (var i = 0; i < m.args.length; i++) {
                var v = named ? given[m.args[i].name] : given[i];
                if (v === undefined) {
                    throw new Error(address + ": missing argument '" + m.args[i].name + "'");
                }
                checkValue(address, m.args[i], v);
                list.push(v);
            }
            if (named) {
                for (var k in given) {
                    if (Object.prototype.hasOwnProperty.call(given, k) && !argNamed(m, k)) {
                        throw new Error(address + ": no argument named '" + k + "'");
                    }
                }
            }
            return [address].concat(list);
        }

        function argNamed(m, name) {
            for (var i = 0; i < m.args.length; i++) {
                if (m.args[i].name === name) {
                    return true;
                }
            }
            return false;
        }

        function decode(address, args) {
            var m = byAddress[address];
            if (!m || m.direction !== "reply" || args.length !== m.args.length) {
                return null;
            }
            var out = {};
            for (var i = 0; i < m.args.length; i++) {
                var v = args[i], t = m.args[i].type;
                // Max atoms: a numeric-looking symbol may arrive as a number and vice versa.
                out[m.args[i].name] = t === "s" ? String(v) : Number(v);
            }
            return out;
        }

        function fits(message, maxBytes) {
            return oscMessageSize(message[0], typeTags(message[0]), message.slice(1)) <= maxBytes;
        }

        // Split json into the fewest /ditto/job/chunk pieces whose datagrams fit maxBytes.
        function chunk(jobId, json, maxBytes) {
            var address = "/ditto/job/chunk";
            spec(address);
            var pieces = [], start = 0;
            while (start < json.length) {
                // Overhead of a chunk message with an empty data field (indices are 4 bytes each).
                var room = maxBytes - oscMessageSize(address, typeTags(address), [jobId, 0, 0, ""]);
                if (room < 16) {
                    throw new Error("datagram limit " + maxBytes + " is too small for a chunk");
                }
                var end = start, used = 0;
                // Data bytes are padded: keep (used + 1) rounded up to 4 within room + 4 (the empty pad).
                while (end < json.length) {
                    var c = json.charCodeAt(end);
                    var w = c < 0x80 ? 1 : c < 0x800 ? 2 : (c >= 0xd800 && c <= 0xdbff) ? 4 : 3;
                    var step = (c >= 0xd800 && c <= 0xdbff) ? 2 : 1;
                    if (((used + w + 4) & ~3) > room + 4) {
                        break;
                    }
                    used += w;
                    end += step;
                }
                pieces.push(json.substring(start, end));
                start = end;
            }
            var out = [];
            for (var i = 0; i < pieces.length; i++) {
                out.push(build(address, { job_id: jobId, index: i, total: pieces.length, data: pieces[i] }));
            }
            return out;
        }

        return {
            version: table.version,
            errorCodes: table.error_codes || [],
            spec: spec,
            typeTags: typeTags,
            build: build,
            decode: decode,
            fits: fits,
            chunk: chunk
        };
    }

    return {
        create: create,
        utf8Length: utf8Length,
        oscMessageSize: oscMessageSize
    };
})();

if (typeof module !== "undefined" && module.exports) {
    module.exports = DittoProtocol;
}
