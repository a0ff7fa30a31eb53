"""JobRunner end to end on a narrow in-memory bundle: files, sidecar, every control, windows, errors,
cancellation; and the targets built from MIDI and WAV files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from ditto_live.controls import KINDS
from ditto_live.engine.audio import MelConfig
from ditto_live.engine.clap import ClapConfig, ClapModel
from ditto_live.engine.controls.melody import NO_NOTE
from ditto_live.engine.distill import init_student_from_teacher
from ditto_live.engine.ito import JobCancelled
from ditto_live.engine.tags import TagVocab
from ditto_live.engine.unet import UNet, UNetConfig
from ditto_live.generation.jobspec import JobSpecError, parse_job
from ditto_live.generation.models import Bundle
from ditto_live.results import PathForbidden
from ditto_live.runner.jobs import JobRunner
from tests.fakes import FakeSentenceEncoder

MEL = MelConfig(frames=64)  # a 0.74 s window keeps every test small
FR = MEL.frame_rate
NARROW = UNetConfig(channels=(8, 16), blocks=(1, 1), attention=(False, False), mid_attention=False,
                    cross_attention=False, emb_dim=32, groups=4)
C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]


def narrow_bundle(name: str = "narrow", device: str = "cpu") -> Bundle:
    torch.manual_seed(0)
    vocab = TagVocab.from_names(genre=["folk", "chorale"], tempo=["slow", "moderate", "fast", "very fast"])
    base = UNet(NARROW, vocab.sizes).eval()
    student = init_student_from_teacher(base).eval()
    clap = ClapModel(ClapConfig(channels=(8, 8), hidden=16, embed_dim=8)).eval()
    meta = {"mel_config": MEL.to_dict(), "tags": vocab.to_dict()}
    return Bundle(name=name, path=Path("<memory>"), base=base, ctm=student, cm=student, clap=clap,
                  meta={"base": meta, "ctm": meta, "cm": meta})


def runner(tmp_path: Path, **kw) -> JobRunner:
    return JobRunner(lambda name, device: narrow_bundle(name, device), output_dir=str(tmp_path / "out"),
                     allowed_roots=[str(tmp_path)], sentence_encoder=FakeSentenceEncoder(), **kw)


def write_midi(path: Path, pitches: list[int], bpm: float = 120.0) -> Path:
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    inst = pretty_midi.Instrument(program=0)
    beat = 60.0 / bpm
    for i, p in enumerate(pitches):
        inst.notes.append(pretty_midi.Note(velocity=90, pitch=p, start=i * beat, end=(i + 1) * beat))
    pm.instruments.append(inst)
    pm.write(str(path))
    return path


def write_wav(path: Path, seconds: float = 1.0) -> Path:
    t = np.arange(int(seconds * 22050)) / 22050
    sf.write(path, (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 22050)
    return path


def test_a_job_writes_wav_and_a_sidecar_with_losses_metrics_and_timings(tmp_path):
    spec = parse_job({"model": "narrow", "seconds": 0.7, "steps": 3, "seed": 3, "tags": {"genre": "folk"},
                      "controls": [{"type": "intensity", "shape": "crescendo"},
                                   {"type": "melody", "notes": [[60, 0, 0.5], [64, 0.5, 0.5]]},
                                   {"type": "structure", "form": "AB"}]})
    seen = []
    result = runner(tmp_path, plot=True, measure_baseline=True).run(spec, progress=lambda *a: seen.append(a[0]))
    audio, sr = sf.read(result.wav_path)
    frames = round(0.7 * FR)
    assert sr == 22050 and len(audio) == frames * 256
    assert result.wav_path.parent == (tmp_path / "out").resolve() and result.wav_path.name.startswith("clip-")
    delivered = json.loads(result.wav_path.with_suffix(".json").read_text())
    assert delivered["measurement"] in ("pending", "done")  # the WAV is delivered before it is measured
    result.wait()
    side = json.loads(result.wav_path.with_suffix(".json").read_text())
    assert side["measurement"] == "done" and side == result.summary
    assert side["seed"] == 3 and side["model"] == "narrow" and side["spec"]["controls"][0]["shape"] == "crescendo"
    assert {"parse", "target", "optimise", "decode", "vocode", "write"} <= set(side["timings_ms"])
    assert set(side["loss"]) == {"intensity", "melody", "structure"}
    assert all(v["before"] is not None and np.isfinite(v["after"]) for v in side["loss"].values())
    out = side["metrics"]["output"]
    assert {"intensity_mse_db2", "melody_accuracy", "structure_mse"} <= set(out)  # the loss-shaped metrics
    assert {"intensity_loudness_mae_db", "melody_raw_pitch_accuracy", "melody_raw_chroma_accuracy",
            "structure_boundary_f"} <= set(out)  # beside the independent judges
    assert 0 <= out["melody_accuracy"] <= 1 and out["intensity_mse_db2"] > 0
    assert set(side["metrics"]["unoptimised"]) == set(out)
    assert side["ito"][0]["steps_run"] == 3 and Path(side["png"]).stat().st_size > 1000
    assert side["lr"] == min(KINDS[k].lr for k in ("intensity", "melody", "structure"))  # the lr that ran
    assert seen[0] == "parse" and "optimise" in seen and seen[-1] == "write"


def test_the_sidecar_measures_the_delivered_audio_and_the_unoptimised_row_its_own(tmp_path, monkeypatch):
    """What the sidecar calls "output" is measured on the WAV that was written, "unoptimised" on the same
    x_T decoded without optimisation (a measurement of the wrong audio fails here)."""
    import ditto_live.runner.measurement as measurement

    measured = []
    real = measurement.measure_controls
    monkeypatch.setattr(measurement, "measure_controls", lambda targets, audio, *a, **k: (
        measured.append(np.asarray(audio).copy()), real(targets, audio, *a, **k))[1])
    spec = parse_job({"model": "narrow", "seconds": 0.7, "steps": 4, "lr": 0.05, "decode_steps": 1,
                      "controls": [{"type": "intensity", "shape": "crescendo"}]})
    result = runner(tmp_path, measure_baseline=True).run(spec)
    result.wait()
    written, _ = sf.read(result.wav_path, dtype="float32")
    assert len(measured) == 2
    np.testing.assert_allclose(measured[0], written, atol=1e-4)  # "output" is the delivered audio
    assert np.abs(measured[1] - written).max() > 1e-3  # "unoptimised" is another clip
    assert result.summary["loss"]["intensity"]["after"] < result.summary["loss"]["intensity"]["before"]
    assert result.summary["decode_steps"] == 1  # the T that ran, as the job asked


def test_the_wav_and_its_sidecar_are_delivered_before_anything_is_measured(tmp_path, monkeypatch):
    """Deliver first (DESIGN.md §7), pinned by order: the WAV is written, then its sidecar, then ``run``
    returns, and only then does any control's measurement begin (the spy holds it until ``run`` has
    returned, for at most 2 s). A measurement moved ahead of the write, or into ``run``, fails here."""
    import dataclasses
    import threading

    import ditto_live.runner.jobs as jobs

    order: list[str] = []
    returned = threading.Event()

    def spy(name: str, real, hold: bool = False):
        def call(*args, **kwargs):
            if hold:
                returned.wait(2.0)
            order.append(name)
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(jobs, "write_wav", spy("wav", jobs.write_wav))
    monkeypatch.setattr(jobs, "write_json", spy("sidecar", jobs.write_json))
    kind = KINDS["intensity"]  # every path to a measurement goes through the kind's own measure
    monkeypatch.setitem(KINDS, "intensity", dataclasses.replace(kind, measure=spy("measure", kind.measure, hold=True)))
    spec = parse_job({"model": "narrow", "seconds": 0.7, "steps": 1, "decode_steps": 1,
                      "controls": [{"type": "intensity", "shape": "crescendo"}]})
    result = runner(tmp_path).run(spec)
    order.append("returned")
    returned.set()
    assert result.wait(30)["measurement"] == "done"
    assert order == ["wav", "sidecar", "returned", "measure"]


def test_no_stage_of_a_measurement_runs_while_a_job_holds_the_engine(tmp_path, monkeypatch):
    """A measurement shares Python's GIL with the job beside it (and slowed it up to 2.8x): each of its stages
    waits until the engine is free. Here another job takes the engine while the output is measured; the
    unoptimised output's measurement starts only once that job is done (measuring at once fails here)."""
    import threading

    import ditto_live.runner.measurement as measurement

    r = runner(tmp_path, measure_baseline=True)
    spec = parse_job({"model": "narrow", "steps": 1, "controls": [{"type": "intensity", "shape": "dip"}]})
    assert r.run(spec).wait(60)["measurement"] == "done"  # librosa's kernels compiled: a stage takes ms now
    real, events = measurement.measure_controls, []
    held, measuring_again = threading.Event(), threading.Event()

    def other_job():  # holds the engine until the next stage begins, or for 3 s
        with r.engine.hold():
            events.append("job starts")
            held.set()
            measuring_again.wait(3)
            events.append("job ends")

    def spy(targets, audio, *a, **k):
        events.append("measure")
        if held.is_set():
            measuring_again.set()
        else:
            threading.Thread(target=other_job).start()
            assert held.wait(5)
        return real(targets, audio, *a, **k)

    monkeypatch.setattr(measurement, "measure_controls", spy)
    assert r.run(spec).wait(30)["measurement"] == "done"
    assert events == ["measure", "job starts", "job ends", "measure"]


def test_a_measurement_does_not_begin_between_jobs_sent_back_to_back(tmp_path, monkeypatch):
    """The engine is free for milliseconds between back-to-back jobs; a measurement stage begun there runs on
    beside the next job (a served melody 2.62 s against 1.79 s unmeasured). The first job's measurement starts
    only once the second has ended and the engine has been quiet (starting in the gap fails here)."""
    import time

    import ditto_live.runner.measurement as measurement

    r = runner(tmp_path)
    spec = parse_job({"model": "narrow", "steps": 1, "controls": [{"type": "intensity", "shape": "dip"}]})
    assert r.run(spec).wait(60)["measurement"] == "done"  # librosa's kernels compiled
    real, began = measurement.measure_controls, []
    monkeypatch.setattr(measurement, "measure_controls",
                        lambda *a, **k: (began.append(time.monotonic()), real(*a, **k))[1])
    first = r.run(spec)
    time.sleep(0.05)  # the client hears "done" and sends the next job
    second = r.run(parse_job({"model": "narrow", "steps": 8, "controls": [{"type": "intensity", "shape": "dip"}]}))
    second_ended = time.monotonic()
    assert first.wait(30)["measurement"] == "done" and second.wait(30)["measurement"] == "done"
    assert began and began[0] >= second_ended + 0.9 * measurement.MEASURE_QUIET_S


def test_warm_up_measures_each_control_of_its_short_job(tmp_path, monkeypatch):
    """``warm()`` runs each control's measurement on its short job's audio (librosa's numba kernels, pYIN,
    BS.1770 are compiled there, not in a fresh server's first delivered job). A warm-up that skips it fails here."""
    import dataclasses

    measured: list[str] = []
    for name in ("intensity", "melody", "structure"):  # a spy per kind: the kind's measure is what compiles
        monkeypatch.setitem(KINDS, name, dataclasses.replace(
            KINDS[name], measure=lambda t, m: (measured.append(t.kind), {})[1]))
    r = runner(tmp_path, warm_model="narrow")

    def quick(spec, *args, **kwargs):  # the warm job's own plan and a tone for its audio: what warm() does
        plan = r._plan(spec, continuing=False)  # with its output is pinned here, not the engine
        t = np.arange(plan.frames * MEL.hop_length) / MEL.sample_rate
        return plan, None, (0.2 * np.sin(2 * np.pi * 262 * t)).astype(np.float32), {}, 0.0

    monkeypatch.setattr(r, "_generate", quick)
    took = r.warm()
    assert sorted(measured) == ["intensity", "melody", "structure"]
    assert {"load_s", "engine_s", "measure_s"} <= set(took) and r.ready.is_set()


def test_long_clips_chain_windows_and_loops_drop_their_seam(tmp_path):
    spec = parse_job({"model": "narrow", "seconds": 1.8, "steps": 1, "decode_steps": 1,
                      "controls": [{"type": "intensity", "shape": "swell"}, {"type": "loop", "overlap": 0.1},
                                   {"type": "structure", "form": "ABA"}]})
    result = runner(tmp_path, measure_baseline=False).run(spec, out_prefix=str(tmp_path / "long"))
    frames = round(1.8 * FR)
    assert len(sf.read(result.wav_path)[0]) == frames * 256
    assert result.summary["windows"] == 4  # 155 + 9 seam frames in windows of 64 sharing 16
    assert {"loop_seam_jump_db", "structure_mse"} <= set(result.wait()["metrics"]["output"])
    assert (tmp_path / "long.json").is_file() and not (tmp_path / "long.png").exists()


def test_painting_text_ditto_baseline_and_resampling(tmp_path):
    ref = write_wav(tmp_path / "ref.wav", 0.8)
    spec = parse_job({"model": "narrow", "method": "ditto", "steps": 1, "sample_rate_out": 48000,
                      "controls": [{"type": "inpaint", "reference": str(ref), "start": 0.2, "end": 0.4},
                                   {"type": "outpaint", "reference": str(ref), "overlap": 0.2},
                                   {"type": "text", "caption": "a calm folk song"}]})
    result = runner(tmp_path).run(spec)
    assert sf.info(result.wav_path).samplerate == 48000
    out = result.wait()["metrics"]["output"]
    assert {"inpaint_mel_mse_db2", "outpaint_mel_mse_db2", "text_cosine"} == set(out)
    assert result.summary["method"] == "ditto" and result.summary["ito"][0]["steps_run"] == 1
    assert result.summary["student"] is None  # the teacher's chain ran, no student


def test_c_major_midi_file_becomes_one_pitch_class_per_half_second(tmp_path):
    from ditto_live.controls.melody import notes_from_midi
    from ditto_live.engine.controls.melody import melody_target

    notes = notes_from_midi(str(write_midi(tmp_path / "scale.mid", C_MAJOR)), [str(tmp_path)])
    assert [n[0] for n in notes] == C_MAJOR and notes[1][1] == pytest.approx(0.5)
    target = melody_target(notes, "seconds", 120, 400, FR)
    for n in range(0, 400, 7):
        beat = int(n / FR / 0.5)
        assert int(target[n]) == (C_MAJOR[beat] % 12 if beat < 8 else NO_NOTE)


@pytest.mark.parametrize(("control", "tags", "message"), [
    ({"type": "melody", "midi": "{tmp}/missing.mid"}, {}, "not found"),
    ({"type": "melody", "midi": "{tmp}/empty.mid"}, {}, "has no notes"),
    ({"type": "inpaint", "reference": "{tmp}/ref.wav", "start": 0.5, "end": 2.0}, {}, "outside the clip"),
    ({"type": "intensity", "shape": "flat"}, {"genre": "polka"}, "unknown genre tag 'polka'"),
    ({"type": "outpaint", "reference": "/etc/hostname"}, {}, "outside the allowed roots"),
])
def test_bad_inputs_fail_with_one_clear_line(tmp_path, control, tags, message):
    write_midi(tmp_path / "empty.mid", [])
    write_wav(tmp_path / "ref.wav", 0.7)
    control = {k: v.format(tmp=tmp_path) if isinstance(v, str) else v for k, v in control.items()}
    spec = parse_job({"model": "narrow", "steps": 1, "tags": tags, "controls": [control]})
    with pytest.raises((JobSpecError, PathForbidden)) as exc:
        runner(tmp_path).run(spec)
    assert message in str(exc.value) and "\n" not in str(exc.value)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.wav"))


def test_cancellation_stops_the_job_within_one_step_and_writes_nothing(tmp_path):
    steps = []
    spec = parse_job({"model": "narrow", "steps": 50, "controls": [{"type": "intensity", "shape": "dip"}]})
    with pytest.raises(JobCancelled):
        runner(tmp_path).run(spec, progress=lambda stage, step, total, loss: steps.append(step)
                             if stage == "optimise" else None, is_cancelled=lambda: len(steps) >= 2)
    assert len(steps) == 2
    assert not list((tmp_path / "out").glob("*.wav")) if (tmp_path / "out").exists() else True


def test_warm_start_resumes_from_the_previous_optimum_of_the_same_seed(tmp_path):
    r = runner(tmp_path, warm_start=True, measure_baseline=False)
    spec = parse_job({"model": "narrow", "steps": 3, "seconds": 0.5, "decode_steps": 1,
                      "controls": [{"type": "intensity", "shape": "flat"}]})
    first = r.run(spec).summary["ito"][0]
    second = r.run(spec).summary["ito"][0]
    other_seed = r.run(parse_job({**spec.to_dict(), "seed": 1})).summary["ito"][0]
    assert not first["warm_start"] and second["warm_start"] and not other_seed["warm_start"]
    assert second["surrogate_loss_before"]["intensity"] == pytest.approx(first["surrogate_loss_after"]["intensity"],
                                                                         rel=1e-4)


def test_a_loop_without_a_length_fits_one_window_with_its_seam(tmp_path):
    spec = parse_job({"model": "narrow", "steps": 1, "decode_steps": 1, "controls": [{"type": "loop"}]})
    result = runner(tmp_path).run(spec)
    assert result.summary["windows"] == 1
    assert result.summary["frames"] + result.summary["targets"][0]["overlap_frames"] <= MEL.frames


# -- deadlines and threads ------------------------------------------------------------------------------
def test_a_deadline_stops_the_optimisation_early_and_the_sidecar_records_it(tmp_path):
    import time

    r = runner(tmp_path, measure_baseline=False)
    spec = parse_job({"model": "narrow", "steps": 2000, "seconds": 0.7, "decode_steps": 1, "deadline_s": 0.6,
                      "controls": [{"type": "intensity", "shape": "swell"}]})
    r.run(spec)  # warms up
    r.run(spec)  # measures decode/vocode/write, which the next run reserves
    t0 = time.perf_counter()
    result = r.run(spec)
    elapsed = time.perf_counter() - t0
    side = json.loads(result.wav_path.with_suffix(".json").read_text())
    ito = side["ito"][0]
    assert 0 < ito["steps_run"] < 2000 and ito["deadline_stop"]
    assert 0 < ito["ito_budget_s"] < 0.6
    assert side["deadline"]["budget_s"] == 0.6 and side["deadline"]["reserved_s"] > 0
    assert elapsed < 0.6 + 0.4  # stopped near its budget (not after 2000 steps); slack for a loaded CPU
    assert side["loss"]["intensity"]["before"] is None  # no time spent decoding the unoptimised output
    assert ito["surrogate_loss_after"]["intensity"] <= ito["surrogate_loss_before"]["intensity"]


def test_the_step_deadline_stops_before_a_step_would_overrun():
    from ditto_live.generation.pipeline import StepDeadline

    now = [0.0]
    stop = StepDeadline(1.0, clock=lambda: now[0])
    answers = []
    for t in (0.0, 0.3, 0.6, 0.9):
        now[0] = t
        answers.append(stop())
    assert answers == [False, False, False, True]  # at 0.9 one more 0.3 s step would end past 1.0


def test_two_threads_load_a_bundle_once(tmp_path):
    import threading
    import time

    loads = []

    def slow_loader(name, device):
        loads.append(name)
        time.sleep(0.2)
        return narrow_bundle(name, device)

    r = JobRunner(slow_loader, output_dir=str(tmp_path / "out"), allowed_roots=[str(tmp_path)])
    got = []
    threads = [threading.Thread(target=lambda: got.append(r.bundle("narrow"))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert loads == ["narrow"] and len(got) == 3 and all(b is got[0] for b in got)


def test_a_deadline_job_goes_first_and_a_plain_job_steps_aside_between_steps(tmp_path):
    import threading

    r = runner(tmp_path, measure_baseline=False)
    r.bundle("narrow")
    order: list[str] = []
    plain_steps: list[int] = []
    started = threading.Event()

    def plain_progress(stage, step, total, loss):
        if stage == "optimise":
            plain_steps.append(step)
            started.set()

    plain = parse_job({"model": "narrow", "steps": 40, "seconds": 0.7, "decode_steps": 1, "name": "plain",
                       "controls": [{"type": "intensity", "shape": "dip"}]})
    urgent = parse_job({"model": "narrow", "steps": 3, "seconds": 0.7, "decode_steps": 1, "name": "urgent",
                        "deadline_s": 5.0, "controls": [{"type": "intensity", "shape": "dip"}]})
    a = threading.Thread(target=lambda: (r.run(plain, plain_progress), order.append("plain")))
    a.start()
    assert started.wait(30)
    steps_when_urgent_started = len(plain_steps)
    r.run(urgent)
    order.append("urgent")
    steps_when_urgent_ended = len(plain_steps)
    a.join(60)
    assert order == ["urgent", "plain"] and r.engine.yields >= 1
    # the plain job did at most one step while the urgent one ran: they never shared the engine
    assert steps_when_urgent_ended - steps_when_urgent_started <= 1
    assert len(plain_steps) == 40


def test_a_job_waiting_for_the_engine_can_be_cancelled(tmp_path):
    r = runner(tmp_path)
    spec = parse_job({"model": "narrow", "steps": 1, "controls": [{"type": "intensity", "shape": "dip"}]})
    import threading

    held, done = threading.Event(), threading.Event()

    def stream_window():  # another thread's stream window holds the engine
        with r.engine.hold(priority=True):
            held.set()
            done.wait(10)

    holder = threading.Thread(target=stream_window)
    holder.start()
    assert held.wait(5)
    try:
        with pytest.raises(JobCancelled):
            r.run(spec, is_cancelled=lambda: True)
    finally:
        done.set()
        holder.join()
