"""Every job the device's JS can build is accepted by the server's job parser (ditto_live/generation/jobspec.py)."""

from __future__ import annotations

from ditto_live.generation.jobspec import parse_job

JS = r"""
var Clip = require('./src/clip.js');
var data = {bpm: 97.5, regionBeats: 6, notes: [[60, 0, 1], [64, 1.5, 0.25]], envelope: [[0, -40], [3, -12.5], [6, -20]],
            reference: {path: '/home/me/ditto_live_out/take.wav', startBeats: 2, endBeats: 4}};
var jobs = [];
for (var mode = 0; mode < Clip.CHOICES.mode.values.length; mode++)
  for (var q = 0; q < Clip.CHOICES.quality.values.length; q++)
    jobs.push(Clip.buildJob({intensityDb: -20, useMelody: 1, useIntensity: 1, genre: q % 4, mood: 2, instrument: mode + q,
                             quality: q, mode: mode, seed: 1234, caption: 'warm café strings'}, data));
jobs.push(Clip.buildJob({useMelody: 0, useIntensity: 0, quality: 1, mode: 0, seed: 0}, {bpm: 120, regionBeats: 4, notes: []}));
process.stdout.write(JSON.stringify(jobs));
"""


def test_every_mode_and_quality_builds_a_job_the_server_accepts(node_eval):
    jobs = node_eval(JS)
    assert len(jobs) == 4 * 4 + 1
    kinds = set()
    for raw in jobs:
        spec = parse_job(raw)  # raises JobSpecError naming the key on any mismatch
        kinds.update(c.type for c in spec.controls)
        assert spec.bpm == raw["bpm"]
    assert kinds == {"melody", "intensity", "text", "inpaint", "outpaint", "loop"}
    methods = {(j["method"], j["steps"], j["decode_steps"]) for j in jobs}
    assert {m for m, _, _ in methods} == {"ditto2", "ditto"}
    assert len(methods) == 4, "each quality preset asks for a different method/steps/decode combination"
