"""The engine's job runner behind the real OSC server: the backend the user picks runs end to end over UDP,
and a warming server answers pings and reports "warming" until the runner's warm-up is over."""

from __future__ import annotations

import json

from ditto_live.runner.jobs import JobRunner
from tests.ditto_live.test_jobs import narrow_bundle


def test_an_exported_backend_serves_a_job_over_osc(make_server, client_for, tmp_path, out_dir):
    runner = JobRunner(lambda name, device: narrow_bundle(name, device), output_dir=str(out_dir),
                       allowed_roots=[str(tmp_path)], backend="exported", warm_model="narrow", measure=False)
    server = make_server(runner=runner)
    client = client_for(server)
    client.send("/ditto/job/submit", "j1", json.dumps({"model": "narrow", "seconds": 0.7, "steps": 2,
                                                        "controls": [{"type": "intensity", "shape": "swell"}]}))
    done = client.terminal("j1", timeout=180)
    assert done.address == "/ditto/job/done", done.args
    summary = json.loads(done.args[2])
    assert summary["backend"] == "exported" and summary["ito"][0]["backend"] == "exported"
    assert summary["ito"][0]["backend_fallback"] is None and summary["ito"][0]["steps_run"] == 2
    assert runner.ready.is_set()  # the server warmed the runner before (or while) the job ran
