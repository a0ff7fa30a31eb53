"""server_requests: a job's JSON within the payload limit, live defaults that never override the job,
inputs resolved under the allowed roots, and each failure mapped to its protocol error code."""

from __future__ import annotations

import json

import pytest

from ditto_live.errors import UsageError
from ditto_live.results import PathForbidden
from ditto_live.server.requests import (
    RequestError,
    error_code,
    load_base,
    load_spec,
    read_json,
    short,
    valid_job_id,
    with_live_defaults,
)


def test_live_controls_fill_in_only_what_the_job_leaves_out():
    raw = with_live_defaults({"seed": 9}, {"seed": 4.0, "cfg": 2.5, "bpm": 96.0, "intensity": -20.0})
    assert raw == {"seed": 9, "cfg": 2.5, "bpm": 96.0}  # intensity is a control, not a job key
    assert with_live_defaults([1], {"seed": 1.0}) == [1]  # not a dict: left for parse_job to refuse


def test_a_job_file_is_read_under_the_allowed_roots_within_the_limit(tmp_path):
    (tmp_path / "job.json").write_text(json.dumps({"seconds": 1.0, "seed": 2}))
    spec = load_spec(f"@{tmp_path / 'job.json'}", 1000, (str(tmp_path),), {"cfg": 4.0})
    assert (spec.seconds, spec.seed, spec.cfg) == (1.0, 2, 4.0)
    with pytest.raises(PathForbidden):
        read_json(f"@{tmp_path / 'job.json'}", 1000, (str(tmp_path / "elsewhere"),))
    with pytest.raises(RequestError) as err:
        read_json(f"@{tmp_path / 'job.json'}", 10, (str(tmp_path),))
    assert err.value.code == "too_large"


def test_a_melody_file_outside_the_roots_is_forbidden(tmp_path):
    job = json.dumps({"controls": [{"type": "melody", "midi": "/etc/passwd"}]})
    with pytest.raises(PathForbidden):
        load_spec(job, 10_000, (str(tmp_path),))


@pytest.mark.parametrize(("exc", "code"), [
    (RequestError("busy", "full"), "busy"), (PathForbidden("x"), "forbidden"),
    (FileNotFoundError("x"), "not_found"), (UsageError("x"), "bad_request"), (ValueError("x"), "bad_request"),
    (RuntimeError("x"), "failed"),
])
def test_each_failure_maps_to_its_protocol_code(exc, code):
    assert error_code(exc)[0] == code


def test_a_base_spec_must_be_an_object_and_short_texts_stay_short(tmp_path):
    assert load_base("  ", 100, (str(tmp_path),)) == {}
    for text, code in (("[1]", "bad_request"), ("{", "bad_request"), ("@/nowhere.json", "forbidden")):
        with pytest.raises(RequestError) as err:
            load_base(text, 100, (str(tmp_path),))
        assert err.value.code == code, text
    assert len(short("x" * 5000)) == 1000 and short("ok") == "ok"
    assert valid_job_id("a") and not valid_job_id("") and not valid_job_id("x" * 65) and not valid_job_id("a\n")
