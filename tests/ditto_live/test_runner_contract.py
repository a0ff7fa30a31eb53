"""The runner's written contract (ditto_live/runner/contract.py): both runners offer every member the server
and the stream use, and the deadline's stage costs (ditto_live/runner/costs.py) learn as documented."""

from __future__ import annotations

import pytest

from ditto_live.generation.jobspec import parse_job
from ditto_live.runner.contract import Runner
from ditto_live.runner.costs import DeadlineCosts
from ditto_live.runner.fake import FakeRunner


def contract_members() -> set[str]:
    """Every public method, property and attribute the Runner Protocol declares (its bases' too)."""
    names: set[str] = set()
    for cls in Runner.__mro__:
        if cls is object or not getattr(cls, "_is_protocol", False):
            continue
        names |= {n for n in vars(cls) if not n.startswith("_")} | set(getattr(cls, "__annotations__", {}))
    return names


def test_the_contract_names_what_the_server_and_stream_use():
    assert {"run", "warm", "device", "description", "model_format", "window"} <= contract_members()


@pytest.mark.parametrize("make", ["fake", "engine"])
def test_each_runner_offers_every_member_of_the_contract(tmp_path, make):
    if make == "fake":
        runner = FakeRunner(tmp_path)
    else:
        from ditto_live.runner.jobs import JobRunner

        runner = JobRunner(output_dir=str(tmp_path), device="cpu", backend="eager")
    missing = sorted(n for n in contract_members() if not hasattr(runner, n))
    assert missing == []
    assert isinstance(runner.device, str) and isinstance(runner.description, dict)


def test_a_runner_missing_a_member_is_caught(tmp_path):
    class Partial:  # run only, as the queue's old Protocol declared
        def run(self, spec, progress, is_cancelled): ...

    assert "warm" in sorted(n for n in contract_members() if not hasattr(Partial(), n))


def test_deadline_costs_skip_the_warm_up_then_follow_slower_runs_at_once_and_faster_ones_slowly():
    spec = parse_job({"controls": [{"type": "intensity", "shape": "swell"}]})
    costs = DeadlineCosts()
    costs.learn(spec, decode_s=9.0, tail_s=9.0, seconds=1.0)  # the first run warms caches up
    assert costs.reserved_s(spec, windows=1, seconds=1.0) == 0.0
    costs.learn(spec, decode_s=0.2, tail_s=0.1, seconds=1.0)
    assert costs.reserved_s(spec, windows=2, seconds=3.0) == pytest.approx(0.2 * 2 + 0.1 * 3)
    costs.learn(spec, decode_s=1.0, tail_s=0.1, seconds=1.0)  # slower: taken at once
    assert costs.reserved_s(spec, windows=1, seconds=0.0) == pytest.approx(1.0)
    costs.learn(spec, decode_s=0.0, tail_s=0.1, seconds=1.0)  # faster: half way
    assert costs.reserved_s(spec, windows=1, seconds=0.0) == pytest.approx(0.5)
    other = parse_job({"method": "ditto", "controls": [{"type": "intensity", "shape": "swell"}]})
    assert costs.reserved_s(other, windows=1, seconds=1.0) == 0.0  # per method: not measured yet
