"""Property tests (Hypothesis, in the default run) of the two parsers every request goes through: the job
language (``parse_job``) and the OSC decoder (``decode_packet``). Whatever a client sends, each either
answers or raises its own error type -- never anything else -- and what it accepts round-trips."""

from __future__ import annotations

import math
import struct

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ditto_live.bridges.osc import MAX_MESSAGES, OscDecodeError, OscMessage, decode_packet, encode_message
from ditto_live.generation.jobspec import (
    CONTROL_TYPES,
    FIELD_RANGES,
    INTENSITY_SHAPES,
    METHODS,
    JobSpec,
    JobSpecError,
    parse_job,
)
from ditto_live.server.budget import Budget, check_budget

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.text(max_size=12),
                        st.floats(allow_nan=True, allow_infinity=True))
json_value = st.recursive(json_scalar, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                               st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                          max_leaves=12)
job_keys = st.sampled_from(["method", "student", "model", "seconds", "bars", "bpm", "seed", "tags", "controls", "steps",
                            "lr", "surrogate", "decode_steps", "gamma", "cfg", "seeds", "tolerance", "deadline_s",
                            "sample_rate_out", "name", "weight", "type", "\ud800"])
control = st.fixed_dictionaries({"type": st.sampled_from([*CONTROL_TYPES, "nope"])},
                                optional={"shape": st.sampled_from([*INTENSITY_SHAPES, 3]), "points": json_value,
                                          "notes": json_value, "form": json_value, "reference": json_value,
                                          "caption": json_value, "weight": json_scalar, "low_db": json_scalar})
hostile_job = st.dictionaries(job_keys, st.one_of(json_value, st.lists(control, max_size=3)), max_size=8)


def in_range(key: str) -> st.SearchStrategy:
    rule = FIELD_RANGES[key]
    if rule.integer:
        return st.integers(int(rule.low), int(min(rule.high, 2**31 - 1)))
    return st.floats(rule.low, rule.high, allow_nan=False).filter(lambda x: x > rule.low or not rule.open_low)


valid_job = st.fixed_dictionaries({}, optional={
    "method": st.sampled_from(tuple(METHODS)), "seconds": in_range("seconds"), "bpm": in_range("bpm"),
    "seed": in_range("seed"), "steps": in_range("steps"), "cfg": in_range("cfg"), "seeds": in_range("seeds"),
    "gamma": in_range("gamma"), "decode_steps": in_range("decode_steps"), "surrogate": st.sampled_from(["1", "4", "adaptive"]),
    "name": st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True),
    "tags": st.dictionaries(st.sampled_from(["genre", "mood"]), st.text(max_size=8), max_size=2),
    "controls": st.lists(st.sampled_from([{"type": "intensity", "shape": "swell", "low_db": -40, "high_db": -10},
                                          {"type": "melody", "notes": [[60, 0, 1], [64.5, 1, 0.5]]},
                                          {"type": "structure", "form": "ABA"}, {"type": "loop"},
                                          {"type": "text", "caption": "warm piano"}]), max_size=3),
})


@FAST
@given(hostile_job | json_value)
@example({"surrogate": "²"})  # str.isdigit() is true of it, int() is not: once a ValueError, not a JobSpecError
@example({"surrogate": "9" * 5000})  # too many digits for int()
@example({"surrogate": "٣"})  # an Arabic-Indic three passed as M = 3
def test_parse_job_accepts_or_raises_only_a_job_spec_error_and_what_it_accepts_is_in_range(raw):
    try:
        spec = parse_job(raw)
    except JobSpecError:
        return
    assert isinstance(spec, JobSpec)
    for key, rule in FIELD_RANGES.items():
        value = getattr(spec, key)
        assert value is None or (rule.contains(value) and math.isfinite(value)), (key, value)
    assert spec.name.isascii()


@FAST
@given(valid_job)
def test_a_valid_job_round_trips_through_its_dict_and_its_budget_never_raises_anything_else(raw):
    spec = parse_job(raw)
    assert parse_job(spec.to_dict()) == spec
    try:
        cost = check_budget(spec, Budget(60, 20_000, 8192))
    except JobSpecError as exc:
        assert "server.max_" in str(exc)
    else:
        assert cost.seconds <= 60 and cost.work_steps <= 20_000


osc_arg = st.one_of(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30),
                    st.integers(-2**31, 2**31 - 1), st.floats(width=32, allow_nan=False))
osc_address = st.from_regex(r"/[a-z]{1,8}(/[a-z]{1,8}){0,2}", fullmatch=True)
osc_message = st.tuples(osc_address, st.lists(osc_arg, max_size=5))


def as_bundle(messages: list[bytes]) -> bytes:
    return b"#bundle\x00" + b"\x00" * 8 + b"".join(struct.pack(">i", len(m)) + m for m in messages)


@FAST
@given(st.binary(max_size=400))
def test_decode_packet_on_any_bytes_returns_messages_or_raises_only_osc_decode_error(data):
    try:
        messages = decode_packet(data)
    except OscDecodeError:
        return
    assert 1 <= len(messages) <= MAX_MESSAGES and all(isinstance(m, OscMessage) for m in messages)


@FAST
@given(st.binary(max_size=200), st.integers(0, 300))
def test_decode_packet_on_a_mangled_bundle_raises_only_osc_decode_error(tail, cut):
    data = as_bundle([encode_message("/ditto/server/ping", ["x"])])[:cut] + tail
    try:
        decode_packet(data)
    except OscDecodeError:
        pass


@FAST
@given(st.lists(osc_message, min_size=1, max_size=6), st.booleans())
def test_encoded_messages_decode_to_themselves_alone_or_in_a_bundle(messages, bundled):
    encoded = [encode_message(address, args) for address, args in messages]
    data = as_bundle(encoded) if bundled else encoded[0]
    decoded = decode_packet(data)
    expected = messages if bundled else messages[:1]
    assert [m.address for m in decoded] == [address for address, _ in expected]
    for m, (_, args) in zip(decoded, expected):
        assert len(m.args) == len(args)
        for got, sent in zip(m.args, args):
            assert got == sent if not isinstance(sent, float) else math.isclose(got, sent, rel_tol=1e-6, abs_tol=1e-30)
