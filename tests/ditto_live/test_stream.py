"""Continuous mode: chained windows into the audio output, live controls, underrun reporting; with an
in-memory output and through sounddevice into a private JACK dummy device."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from ditto_live.bridges.audio import AudioOut, find_output_device
from ditto_live.generation.jobspec import ControlSpec, JobSpec, parse_job
from ditto_live.server.stream import Splicer, Stream, apply_live_controls, linear_crossfade
from tests.fakes import FakeAudioOut
from tests.jack import jack_server  # noqa: F401  (pytest fixture)

RATE = 22050
FREQ = 220.0


def tone(start: int, n: int, rate: int = RATE) -> np.ndarray:
    """Samples [start, start + n) of one endless sine, so outpainted windows can repeat its past."""
    return (0.5 * np.sin(2 * np.pi * FREQ * (start + np.arange(n)) / rate)).astype(np.float32)


class ToneOutpainter:
    """A fake ``generate_window``: each window continues the last, its first ``overlap`` samples
    repeating the previous window's end, like outpainting does. ``delay`` makes it slow."""

    def __init__(self, window: int, overlap: int, delay: float = 0.0):
        self.window, self.overlap, self.delay = window, overlap, delay
        self.next_start = 0
        self.specs: list[JobSpec] = []
        self.previous_lengths: list[int | None] = []

    def __call__(self, spec: JobSpec, previous: np.ndarray | None) -> np.ndarray:
        self.specs.append(spec)
        self.previous_lengths.append(None if previous is None else len(previous))
        if self.delay:
            time.sleep(self.delay)
        start = 0 if previous is None else self.next_start - self.overlap
        self.next_start = start + self.window
        return tone(start, self.window)


def wait_for(cond, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.01)


# -- pieces -------------------------------------------------------------------------------------------
def test_spliced_outpainted_windows_rebuild_the_continuous_signal():
    window, overlap = 1000, 300
    gen = ToneOutpainter(window, overlap)
    splicer = Splicer(overlap, crossfade=100)
    out = np.concatenate([splicer.push(gen(JobSpec(), None if k == 0 else np.zeros(1))) for k in range(5)])
    assert len(out) == window + 4 * (window - overlap) - 100  # the last crossfade is held back
    assert np.allclose(out, tone(0, len(out)), atol=1e-5)


def test_crossfade_goes_from_the_tail_to_the_head():
    x = linear_crossfade(np.ones(4, np.float32), np.zeros(4, np.float32))
    assert x[0] > 0.8 and x[-1] < 0.2 and np.all(np.diff(x) < 0)


def test_live_controls_shape_each_windows_spec():
    spec = parse_job({"seed": 5, "controls": [{"type": "intensity", "shape": "crescendo", "weight": 2.0},
                                              {"type": "structure", "form": "AB"}]})
    assert apply_live_controls(spec, {}, 3).seed == 8
    w = apply_live_controls(spec, {"bpm": 96.0, "cfg": 4.5, "seed": 100, "intensity": -18.0}, 2)
    assert (w.bpm, w.cfg, w.seed) == (96.0, 4.5, 102)
    assert w.controls[0].type == "structure"
    assert w.controls[1] == ControlSpec("intensity", 2.0, {"shape": "flat", "low_db": -18.0, "high_db": -18.0})


# -- the stream, in memory ------------------------------------------------------------------------------
def test_a_fast_generator_streams_gap_free_and_follows_live_controls():
    out = FakeAudioOut(RATE, buffer_seconds=0.5, block_size=256)
    gen = ToneOutpainter(window=RATE // 4, overlap=RATE // 20)
    live = {"cfg": 2.0}
    stream = Stream(gen, out, live, model_rate=RATE, overlap_seconds=0.05, crossfade_seconds=0.01)
    stream.start({"seed": 1})
    assert stream.state() == ("running", 0)
    time.sleep(0.5)
    live["cfg"] = 6.0
    time.sleep(0.5)
    stream.stop()
    assert stream.state() == ("stopped", 0)
    assert gen.specs[0].cfg == 2.0 and gen.specs[-1].cfg == 6.0
    assert [s.seed for s in gen.specs[:3]] == [1, 2, 3]
    assert gen.previous_lengths[0] is None and gen.previous_lengths[1] == RATE // 4
    played = out.played()
    played = played[int(np.argmax(played != 0)) // 256 * 256:]  # skip the silent blocks before window 1
    assert len(played) > 0.8 * RATE
    assert np.allclose(played, tone(0, len(played)), atol=1e-4)  # continuous across every seam


def test_a_slow_generator_produces_counted_underruns():
    out = FakeAudioOut(RATE, buffer_seconds=0.5, block_size=256)
    gen = ToneOutpainter(window=RATE // 10, overlap=0, delay=0.25)  # 0.1 s of audio per 0.25 s
    states = []
    stream = Stream(gen, out, model_rate=RATE, on_state=lambda *s: states.append(s))
    stream.start({})
    wait_for(lambda: stream.state()[1] >= 5, timeout=5.0)
    running_underruns = stream.state()[1]
    stream.stop()
    state, underruns = stream.state()
    assert running_underruns >= 5 and state == "stopped" and underruns >= running_underruns
    assert states[0] == ("running", 0) and states[-1][0] == "stopped" and states[-1][1] == underruns
    assert stream.stats()["real_time_factor"] > 1.0


def test_a_failing_generator_stops_the_stream_with_its_error():
    out = FakeAudioOut(RATE, buffer_seconds=0.5, block_size=256)
    calls = []

    def broken(spec, previous):
        calls.append(1)
        if len(calls) > 2:
            raise RuntimeError("out of memory")
        return tone(0, RATE // 10)

    done = threading.Event()
    stream = Stream(broken, out, model_rate=RATE, on_state=lambda s, u: s == "stopped" and done.set())
    stream.start({})
    assert done.wait(5.0)
    assert stream.state()[0] == "stopped" and "out of memory" in stream.last_error
    assert not out.running


def test_a_restart_begins_a_fresh_run():
    out = FakeAudioOut(RATE, buffer_seconds=0.2, block_size=256)
    gen = ToneOutpainter(window=RATE // 10, overlap=0)
    stream = Stream(gen, out, model_rate=RATE)
    stream.start({})
    wait_for(lambda: stream.windows >= 2)
    stream.start({"seed": 9})
    wait_for(lambda: stream.windows >= 1)
    stream.stop()
    assert gen.specs[-1].seed >= 9 and stream.windows >= 1 and stream.state()[0] == "stopped"


# -- the stream through sounddevice into JACK --------------------------------------------------------------
def jack_out(server, buffer_seconds: float) -> AudioOut:
    return AudioOut(server.rate, buffer_seconds=buffer_seconds, block_size=1024,
                    device=find_output_device(hostapi="JACK"), record=True)


@pytest.mark.jack
def test_streaming_into_jack_at_real_time_has_no_underruns(jack_server):  # noqa: F811
    out = jack_out(jack_server, buffer_seconds=1.0)
    gen = ToneOutpainter(window=RATE // 2, overlap=RATE // 10)  # model rate, resampled to 48 kHz
    stream = Stream(gen, out, model_rate=RATE, overlap_seconds=0.1, crossfade_seconds=0.02)
    xruns_before = jack_server.xruns()
    stream.start({})
    t0 = time.monotonic()
    time.sleep(3.0)
    stats, consumed, elapsed = stream.stats(), out.ring.frames_read, time.monotonic() - t0
    stream.stop()
    assert stats["ring_underruns"] == 0, stats  # the generator kept the buffer ahead of playback
    assert stream.state()[0] == "stopped" and stream.state()[1] >= stats["underruns"]
    # a late callback flagged by PortAudio is a JACK xrun; on a quiet machine there are none, on an
    # overloaded one each must be one the server itself logged (a non-realtime jackd woke up late)
    assert stats["device_underflows"] <= jack_server.xruns() - xruns_before, stats
    assert abs(consumed / jack_server.rate - elapsed) < 0.2  # drained at the device's real-time pace
    played = out.played()
    start = int(np.argmax(np.abs(played) > 1e-3)) + jack_server.rate // 20  # past the resampler's onset
    audio = played[start:start + int(2.4 * jack_server.rate)].astype(np.float64)
    assert len(audio) == int(2.4 * jack_server.rate)  # 2.4 s of tone reached the device
    # it is one unbroken 220 Hz sine: any gap, click or misaligned seam would leave a residual
    w = 2 * np.pi * FREQ * np.arange(len(audio)) / jack_server.rate
    basis = np.stack([np.sin(w), np.cos(w)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, audio, rcond=None)
    assert np.hypot(*coef) == pytest.approx(0.5, abs=0.01)
    assert np.max(np.abs(audio - basis @ coef)) < 0.01


@pytest.mark.jack
def test_a_slow_generator_into_jack_reports_underruns(jack_server):  # noqa: F811
    out = jack_out(jack_server, buffer_seconds=0.3)
    gen = ToneOutpainter(window=RATE // 10, overlap=0, delay=0.3)  # 3x slower than real time
    stream = Stream(gen, out, model_rate=RATE)
    stream.start({})
    wait_for(lambda: stream.state()[1] >= 3, timeout=5.0)
    stream.stop()
    assert stream.state()[1] >= 3 and out.ring.underrun_frames > 0


# -- the runner-backed generator -----------------------------------------------------------------------------
class ToneRunner:
    """A fake job runner's stream windows: a tone that continues from the tail it handed out last time."""

    def __init__(self, window: int, block_until_cancelled: bool = False):
        self.length, self.block = window, block_until_cancelled
        self.calls: list[tuple[JobSpec, object, float]] = []

    def model_format(self, model="default"):
        return RATE, self.length / RATE

    def window(self, spec, opening, overlap_s, is_cancelled):
        from ditto_live.runner.contract import Window

        self.calls.append((spec, opening, overlap_s))
        while self.block and not is_cancelled():
            time.sleep(0.01)
        if self.block:
            raise RuntimeError("cancelled")
        overlap = int(round(overlap_s * RATE))
        start = 0 if opening is None else opening - overlap  # the tail says where the last window ended
        return Window(tone(start, self.length), RATE, start + self.length, {"ito": [{"steps_run": 3}]})


def test_runner_windows_chain_in_memory_and_a_new_run_starts_fresh(tmp_path):
    from ditto_live.server.stream import RunnerWindows

    runner = ToneRunner(window=RATE // 4)
    gen = RunnerWindows(runner, overlap_seconds=0.05, model_rate=RATE)
    spec = parse_job({"controls": [{"type": "loop"}], "sample_rate_out": 48000})
    first = gen(spec, None)
    second = gen(spec, first)
    assert runner.calls[0][1] is None and runner.calls[1][1] == RATE // 4  # window 2 opens with window 1's tail
    assert all(call[0].sample_rate_out == 0 for call in runner.calls)  # windows stay at the model's rate
    overlap = int(0.05 * RATE)
    assert np.allclose(second[:overlap], first[-overlap:], atol=1e-6)  # the continuation opens with it
    gen(spec, None)
    assert runner.calls[2][1] is None  # a restarted stream does not continue the old one
    assert gen.last_summary == {"ito": [{"steps_run": 3}]}
    assert not list(tmp_path.iterdir())  # no file per window


def test_stop_cancels_the_window_in_flight_without_an_error(tmp_path):
    from ditto_live.server.stream import RunnerWindows

    runner = ToneRunner(window=RATE // 4, block_until_cancelled=True)
    stream = Stream(RunnerWindows(runner, 0.05, RATE), FakeAudioOut(RATE, 0.5, 256), model_rate=RATE)
    stream.start({})
    wait_for(lambda: runner.calls)
    t0 = time.monotonic()
    stream.stop()
    assert time.monotonic() - t0 < 2.0 and stream.last_error is None and stream.state()[0] == "stopped"


def test_set_control_feeds_the_next_window():
    gen = ToneOutpainter(window=RATE // 10, overlap=0)
    stream = Stream(gen, FakeAudioOut(RATE, 0.2, 256), {}, model_rate=RATE)
    stream.set_control("bpm", 87.0)
    with pytest.raises(ValueError):
        stream.set_control("volume", 1.0)
    stream.start({})
    wait_for(lambda: gen.specs)
    stream.stop()
    assert gen.specs[0].bpm == 87.0


def test_the_stream_chains_real_engine_windows_in_memory(tmp_path):
    """The job runner's windows on a narrow random bundle: window 2 opens with window 1's last frames
    (the continuation control), nothing is written, and the stream's status carries steps and losses."""
    from ditto_live.server.stream import open_stream
    from tests.ditto_live.test_jobs import runner as narrow_runner  # JobRunner on a narrow random bundle

    jobs = narrow_runner(tmp_path, measure_baseline=False)
    out = FakeAudioOut(RATE, buffer_seconds=0.5, block_size=256, speed=8.0)
    stream = open_stream(jobs, out, "narrow", {"intensity": -20.0}, overlap_seconds=0.2)
    assert stream.model_rate == RATE and abs(stream.model_window_s - 64 * 256 / RATE) < 1e-9
    stream.start({"model": "narrow", "seconds": 0.7, "steps": 2, "decode_steps": 1})
    wait_for(lambda: stream.windows >= 2 or stream.last_error, timeout=150.0)
    stream.stop()
    assert stream.last_error is None and stream.windows >= 2
    later = stream.window_log[1]
    assert later["steps_run"] == 2 and set(later["loss"]) == {"intensity", "continuation"}
    assert not (tmp_path / "out").exists()  # no WAV, no sidecar per window
    assert len(out.played()) > 0 and np.isfinite(out.played()).all()


@pytest.mark.jack
def test_open_stream_plays_runner_windows_at_the_devices_rate(jack_server, tmp_path):  # noqa: F811
    from ditto_live.bridges.audio import AudioOut
    from ditto_live.config import AudioConfig
    from ditto_live.server.stream import open_stream

    runner = ToneRunner(window=RATE // 2)
    audio = AudioConfig(output_device="system", buffer_seconds=1.0, block_size=1024)
    stream = open_stream(runner, AudioOut.for_device(audio.output_device, buffer_seconds=audio.buffer_seconds,
                                                     block_size=audio.block_size), overlap_seconds=0.1)
    assert stream.audio_out.sample_rate == jack_server.rate
    stream.start({})
    wait_for(lambda: stream.windows >= 3)
    stream.stop()
    assert stream.windows >= 3 and stream.last_error is None
    assert stream.audio_out.ring.frames_read > 0 and stream.stats()["ring_underruns"] == 0


def test_the_output_starts_with_the_first_window():
    out = FakeAudioOut(RATE, buffer_seconds=0.5, block_size=256)
    gen = ToneOutpainter(window=RATE // 4, overlap=0, delay=0.3)
    stream = Stream(gen, out, model_rate=RATE)
    stream.start({})
    time.sleep(0.15)
    running_before = out.running
    wait_for(lambda: stream.windows >= 1)
    time.sleep(0.05)
    running_after = out.running
    stream.stop()
    assert not running_before and running_after and not out.running
    assert np.abs(out.played()[:256]).max() > 0  # the first block played is the first window, not silence


# -- deadlines -------------------------------------------------------------------------------------------
def test_a_windows_budget_is_a_fraction_of_the_audio_it_must_cover():
    from ditto_live.server.stream import MIN_BUDGET_S, window_budget

    assert window_budget(0.7, 4.0, None) == pytest.approx(2.8)  # nothing plays yet: its own new audio
    assert window_budget(0.7, 4.0, 6.0) == pytest.approx(2.8)  # ahead: still its new audio
    assert window_budget(0.7, 4.0, 1.0) == pytest.approx(0.7)  # behind: what is buffered
    assert window_budget(0.7, 4.0, 0.0) == MIN_BUDGET_S  # never 0 (which would mean no deadline)


class DeadlineOutpainter(ToneOutpainter):
    """Takes ``full_cost`` seconds per window unless the spec's deadline is shorter; reports the
    steps it ran like a job summary does (one step per 10 ms)."""

    def __init__(self, window: int, overlap: int, full_cost: float):
        super().__init__(window, overlap)
        self.full_cost = full_cost
        self.last_summary = None

    def __call__(self, spec, previous):
        cost = min(self.full_cost, spec.deadline_s) if spec.deadline_s else self.full_cost
        time.sleep(cost)
        self.last_summary = {"ito": [{"steps_run": int(cost / 0.01)}]}
        return super().__call__(spec, previous)


def test_with_a_deadline_a_generator_slower_than_real_time_keeps_up():
    window, overlap = RATE // 2, RATE // 10  # 0.4 s of new audio per window, 0.8 s to make at full K
    out = FakeAudioOut(RATE, buffer_seconds=1.0, block_size=256)
    gen = DeadlineOutpainter(window, overlap, full_cost=0.8)
    stream = Stream(gen, out, model_rate=RATE, overlap_seconds=0.1, crossfade_seconds=0.01, budget_fraction=0.6)
    stream.start({"seconds": 0.5})
    time.sleep(3.0)
    stats = stream.stats()
    stream.stop()
    assert stats["underruns"] == 0 and stats["windows"] >= 5, stats
    assert gen.specs[0].deadline_s == pytest.approx(0.6 * 0.5)  # the first window: its clip length
    assert all(0 < s.deadline_s <= 0.6 * 0.4 + 1e-6 for s in gen.specs[1:])  # then at most 0.6 x 0.4 s
    log = stream.window_log
    assert [w["window"] for w in log] == list(range(len(log)))
    assert all(w["budget_s"] == pytest.approx(s.deadline_s) for w, s in zip(log, gen.specs))
    assert all(w["generate_s"] < w["audio_s"] for w in log) and stats["late_windows"] == 0
    assert stats["steps_run_min"] >= 1 and stats["real_time_factor"] < 1.0
    assert stats["frames_played"] > 0 and stats["budget_fraction"] == 0.6


def test_without_a_deadline_the_same_generator_falls_behind_and_says_so():
    out = FakeAudioOut(RATE, buffer_seconds=1.0, block_size=256)
    gen = DeadlineOutpainter(RATE // 2, RATE // 10, full_cost=0.6)  # 0.6 s for 0.4 s of new audio
    stream = Stream(gen, out, model_rate=RATE, overlap_seconds=0.1, crossfade_seconds=0.01)
    stream.start({"seconds": 0.5})
    wait_for(lambda: stream.windows >= 3, timeout=5.0)
    stats = stream.stats()
    stream.stop()
    assert gen.specs[0].deadline_s == 0 and stats["underruns"] > 0
    assert stats["late_windows"] >= 1 and stats["real_time_factor"] > 1.0


@pytest.mark.slow  # ~40 s: the shipped default model, one window after another, into JACK at real time
@pytest.mark.jack
def test_the_default_model_streams_into_jack_in_real_time_with_its_deadline(jack_server, tmp_path):  # noqa: F811
    """Chained outpainting with the real default bundle on this CPU (torch: one thread): every window
    after the first is made within its deadline, so playback never runs dry."""
    import logging
    import os

    from ditto_live.config import AudioConfig
    from ditto_live.runner.jobs import JobRunner
    from ditto_live.server.stream import open_stream

    runner = JobRunner(output_dir=str(tmp_path / "out"), allowed_roots=[str(tmp_path)], device="cpu")
    runner.bundle("default")
    from ditto_live.bridges.audio import AudioOut

    audio = AudioConfig(output_device="system")  # the shipped [audio] defaults: 4 s buffer
    stream = open_stream(runner, AudioOut.for_device(audio.output_device, buffer_seconds=audio.buffer_seconds,
                                                     block_size=audio.block_size), "default", {},
                         overlap_seconds=1.0, budget_fraction=0.7)
    xruns_before = jack_server.xruns()
    stream.start({"controls": [{"type": "intensity", "shape": "swell"}], "tags": {"genre": "folk"}})
    wait_for(lambda: stream.windows >= 6 or stream.last_error is not None, timeout=120)
    stats = stream.stats()
    stream.stop()
    logging.getLogger(__name__).warning("default model stream (load %s): %s; windows %s", os.getloadavg(),
                                        {k: v for k, v in stats.items() if k != "last_window"}, stream.window_log)
    assert stats["last_error"] is None and stats["windows"] >= 6, stats
    assert stats["ring_underruns"] == 0, stream.window_log  # the generator never let the buffer run dry
    assert stats["device_underflows"] <= jack_server.xruns() - xruns_before, stats  # only xruns jackd logged
    assert stats["late_windows"] == 0 and stats["real_time_factor"] < 1.0, stream.window_log
    later = stream.window_log[1:]
    assert all(w["generate_s"] < w["audio_s"] for w in later)
    assert all(w["steps_run"] >= 1 for w in later)  # the deadline still left room to optimise
