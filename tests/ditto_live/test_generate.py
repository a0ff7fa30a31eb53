"""`ditto-live generate` writes OUT.wav/.json/.png from flags or a job file, and fails cleanly on bad input."""

from __future__ import annotations

import json

import pytest
import soundfile as sf
import torch

import ditto_live.generation.models as models
import ditto_live.runner.jobs as jobs
from ditto_live.cli import main
from tests.ditto_live.test_jobs import narrow_bundle, write_midi, write_wav


@pytest.fixture(autouse=True)
def narrow_models(monkeypatch):
    """Every model name loads the narrow in-memory bundle (the real tiny model is too slow for CI)."""
    monkeypatch.setattr(jobs, "default_loader", lambda name, device: narrow_bundle(name, device))
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_generate_writes_wav_json_and_png_with_every_flag_honoured(tmp_path):
    midi = write_midi(tmp_path / "scale.mid", [60, 62, 64, 65])
    out = tmp_path / "clips" / "first"
    rc = main(["generate", "--model", "narrow", "--melody", str(midi), "--intensity", "crescendo",
               "--structure", "AB", "--weight", "melody=2", "--genre", "folk", "--bpm", "100", "--seconds", "0.7",
               "--seed", "5", "--steps", "2", "--surrogate", "adaptive", "--decode-steps", "2", "--gamma", "0.1",
               "--cfg", "2.5", "--seeds", "2", "--sample-rate", "44100", "--device", "cpu", "--out", str(out)])
    assert rc == 0
    info = sf.info(str(out) + ".wav")
    assert info.samplerate == 44100 and abs(info.duration - 0.7) < 0.02
    side = json.loads(out.with_suffix(".json").read_text())
    spec = side["spec"]
    assert (spec["seed"], spec["bpm"], spec["seeds"], spec["surrogate"], spec["cfg"]) == (5, 100, 2, "adaptive", 2.5)
    assert spec["tags"] == {"genre": "folk"} and [c["type"] for c in spec["controls"]] == ["intensity", "melody",
                                                                                          "structure"]
    assert spec["controls"][1]["weight"] == 2.0 and spec["controls"][1]["midi"] == str(midi)
    assert side["ito"][0]["steps_run"] == 2 and set(side["loss"]) == {"intensity", "melody", "structure"}
    assert out.with_suffix(".png").stat().st_size > 1000


def test_generate_reads_a_job_file_and_flags_override_it(tmp_path):
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"seconds": 0.5, "seed": 1, "steps": 1, "decode_steps": 1,
                               "controls": [{"type": "intensity", "points": [[0, -30], [1, -15]]}]}))
    out = tmp_path / "fromjob"
    assert main(["generate", "--model", "narrow", "--job", str(job), "--seed", "9", "--loop", "--no-plot",
                 "--out", str(out)]) == 0
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["seed"] == 9 and [c["type"] for c in side["spec"]["controls"]] == ["intensity", "loop"]
    assert not out.with_suffix(".png").exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["--melody", "{tmp}/nope.mid"], "not found"),
    (["--melody", "{tmp}/empty.mid"], "has no notes"),
    (["--inpaint", "{tmp}/ref.wav", "--region", "0.2:3"], "outside the clip"),
    (["--inpaint", "{tmp}/ref.wav"], "--inpaint needs --region"),
    (["--intensity", "flat", "--genre", "polka"], "unknown genre tag 'polka'"),
    (["--structure", "A-B"], "form"),
    (["--notes", "[[60, 0]]"], "expected [pitch, start, duration]"),
    (["--intensity", "flat", "--weight", "melody=2"], "no melody control"),
    (["--intensity", "flat", "--decode-steps", "12"], "decode_steps"),
])
def test_bad_input_gives_one_error_line_and_exit_2(tmp_path, capsys, argv, message):
    write_midi(tmp_path / "empty.mid", [])
    write_wav(tmp_path / "ref.wav", 0.7)
    argv = [a.format(tmp=tmp_path) for a in argv]
    rc = main(["generate", "-q", "--model", "narrow", "--steps", "1", "--out", str(tmp_path / "x"), *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "x.wav").exists()


def test_tiny_untrained_builds_a_full_size_tiny_base_and_students():
    bundle = models.untrained_bundle()
    assert bundle.mel_config.n_mels == 80 and bundle.mel_config.frames == 512
    assert bundle.ctm.takes_w and not bundle.base.takes_w and bundle.vocoder is None
    assert bundle.tags["tempo"][0] == "<null>"


@pytest.mark.slow
def test_tiny_untrained_runs_the_real_pipeline_end_to_end(tmp_path, monkeypatch):
    """The full-size tiny preset (80 x 512) through `generate`, as `make run` would, minus training."""
    monkeypatch.setattr(jobs, "default_loader", lambda name, device: models.untrained_bundle(device))
    out = tmp_path / "tiny"
    assert main(["generate", "--model", "tiny-untrained", "--intensity", "crescendo", "--steps", "2",
                 "--out", str(out)]) == 0
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["untrained"] and side["frames"] == 512 and side["ito"][0]["steps_run"] == 2
    assert abs(sf.info(str(out) + ".wav").duration - 512 * 256 / 22050) < 1e-3
