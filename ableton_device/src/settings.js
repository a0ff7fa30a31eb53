/*
 * settings.js — the device's settings: their defaults, and a value as the patcher sends it.
 *
 * The patcher's dials, menus and number boxes send `name value` (intensity -20, reply_port 9011, ...);
 * the controller keeps the values in one object under the keys Clip.buildJob reads (intensityDb, replyPort,
 * ...). Live keeps wide integer ranges as Float parameters, so whole numbers may arrive as floats.
 *
 * ES5 only; see protocol.js for how Node and Max load it.
 */
var DittoSettings = (function () {
    "use strict";

    // The patcher's name of a setting -> its key in the settings object.
    var KEYS = {
        intensity: "intensityDb", use_melody: "useMelody", use_intensity: "useIntensity", genre: "genre",
        mood: "mood", instrument: "instrument", quality: "quality", mode: "mode", seed: "seed",
        caption: "caption", host: "host", port: "port", reply_port: "replyPort",
        max_datagram: "maxDatagram", ack_timeout_ms: "ackTimeoutMs", stall_timeout_ms: "stallTimeoutMs",
        sample_rate_out: "sampleRateOut", review: "review"
    };
    // Whole numbers that arrive as floats: Live keeps wide integer ranges as Float parameters (Int unit style).
    var WHOLE = { seed: 1, port: 1, reply_port: 1, max_datagram: 1, sample_rate_out: 1 };
    var TEXT = { caption: 1, host: 1 }; // the settings that are text; the others are numbers

    function defaults() {
        return {
            intensityDb: -20, useMelody: 1, useIntensity: 1, genre: 0, mood: 0, instrument: 0,
            quality: 1, mode: 0, seed: 0, caption: "", sampleRateOut: 44100, review: 0,
            host: "127.0.0.1", port: 9010, replyPort: 9011,
            maxDatagram: 8000, // largest datagram sent; bigger job JSON goes as /ditto/job/chunk
            ackTimeoutMs: 5000, // no answer at all within this: the server is not there
            stallTimeoutMs: 120000 // no news about a queued or running job within this: ask, then give up
        };
    }

    // The settings object's key for the patcher's `name`; throws for a name the device does not know.
    function key(name) {
        if (!KEYS[name]) {
            throw new Error("unknown setting " + name);
        }
        return KEYS[name];
    }

    // `value` as the patcher sent it -> the setting's value (text, a whole number or a number).
    function coerce(name, value) {
        return TEXT[name] ? String(value) : WHOLE[name] ? Math.round(Number(value)) : Number(value);
    }

    return { defaults: defaults, key: key, coerce: coerce };
})();

if (typeof module !== "undefined" && module.exports) {
    module.exports = DittoSettings;
}
