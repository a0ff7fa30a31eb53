"""The CPU policy: threads chosen from the cores other programs leave free, the job thread's thread count
and priority set in the thread that runs the job (OpenMP's count is per thread), measurement at idle
priority."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from ditto_live.runner.cpu import (
    CpuMeter,
    CpuSample,
    ThreadGovernor,
    choose_threads,
    idle_priority,
    read_proc_stat,
)


class FakeClocks:
    """Machine busy time, own CPU time and wall time that a test advances by hand."""

    def __init__(self) -> None:
        self.busy = self.own = self.wall = 0.0

    def meter(self) -> CpuMeter:
        return CpuMeter(lambda: self.busy, lambda: self.own, lambda: self.wall)

    def advance(self, wall: float, others_cores: float, own_cores: float) -> None:
        self.wall += wall
        self.own += own_cores * wall
        self.busy += (others_cores + own_cores) * wall


@pytest.mark.parametrize(("others", "threads"), [(0.0, 2), (0.1, 2), (0.3, 2), (0.67, 1), (1.0, 1), (1.9, 1)])
def test_threads_are_the_cores_the_other_programs_leave_free(others, threads):
    assert choose_threads(2, others) == threads


def test_a_many_core_machine_leaves_a_busy_daw_its_cores():
    assert choose_threads(8, 2.5) == 5
    assert choose_threads(8, 0.0) == 8


def test_an_unknown_load_leaves_one_core_to_other_programs():
    assert choose_threads(2, None) == 1
    assert choose_threads(1, None) == 1
    assert choose_threads(8, None) == 7


def test_others_cores_subtract_this_process_own_time():
    before = CpuSample(wall_s=0.0, busy_s=10.0, own_s=1.0)
    after = CpuSample(wall_s=2.0, busy_s=14.0, own_s=3.0)  # 4 s busy in all, 2 s of it ours
    assert CpuMeter.others_cores(before, after) == pytest.approx(1.0)
    assert CpuMeter.others_cores(before, CpuSample(0.1, 10.2, 1.0)) is None  # too short to read
    assert CpuMeter.others_cores(CpuSample(0.0, -1.0, 0.0), after) is None  # no /proc/stat


def test_the_governor_adapts_when_the_machine_becomes_busy_and_idle_again():
    clocks, set_to = FakeClocks(), []
    governor = ThreadGovernor(cores=2, meter=clocks.meter(), set_threads=set_to.append, nice=0)
    clocks.advance(3.0, others_cores=0.05, own_cores=1.9)  # a job on an idle machine
    assert governor.apply().threads == 2
    clocks.advance(3.0, others_cores=1.0, own_cores=1.0)  # the DAW starts playing
    choice = governor.apply()
    assert choice.threads == 1 and choice.others_cores == pytest.approx(1.0) and not choice.fixed
    assert "1.00 of 2 cores" in choice.reason
    clocks.advance(3.0, others_cores=0.0, own_cores=1.0)  # it stops
    assert governor.apply().threads == 2
    assert set_to == [2, 1, 2]


def test_a_short_interval_keeps_the_last_reading():
    clocks, set_to = FakeClocks(), []
    governor = ThreadGovernor(cores=2, meter=clocks.meter(), set_threads=set_to.append, nice=0)
    clocks.advance(2.0, others_cores=1.0, own_cores=1.0)
    assert governor.apply().threads == 1
    clocks.advance(0.05, others_cores=0.0, own_cores=1.0)  # back-to-back: too short to say it is idle now
    assert governor.apply().threads == 1


def test_threads_set_by_the_user_win_over_the_load():
    clocks, set_to = FakeClocks(), []
    governor = ThreadGovernor(fixed=2, cores=2, meter=clocks.meter(), set_threads=set_to.append, nice=0)
    clocks.advance(2.0, others_cores=1.5, own_cores=0.5)
    choice = governor.apply()
    assert (choice.threads, choice.fixed, set_to) == (2, True, [2])


def test_the_job_thread_gets_its_thread_count_and_a_lower_priority_where_it_runs():
    """torch's thread count is per thread: the governor sets it in the thread that runs the job."""
    import torch

    governor = ThreadGovernor(fixed=1, nice=os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) + 3)
    seen: dict[str, int] = {}

    def job() -> None:
        governor.apply()
        seen["threads"] = torch.get_num_threads()
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    worker = threading.Thread(target=job)
    worker.start()
    worker.join()
    assert seen == {"threads": 1, "nice": governor.nice}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < governor.nice  # the caller is untouched


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/stat and SCHED_IDLE are Linux's")
def test_linux_readings_are_real():
    assert read_proc_stat() > 0
    seen: dict[str, int] = {}

    def measure() -> None:
        idle_priority()
        seen["policy"] = os.sched_getscheduler(0)

    worker = threading.Thread(target=measure)
    worker.start()
    worker.join()
    assert seen["policy"] == os.SCHED_IDLE


def test_a_runner_with_a_governor_sets_each_jobs_threads_in_its_thread_and_records_them(tmp_path):
    """The server's runner: the job thread gets the chosen count, and the sidecar and status say why."""
    import json

    import torch

    from ditto_live.generation.jobspec import parse_job
    from tests.ditto_live.test_jobs import runner

    r = runner(tmp_path, measure=False, governor=ThreadGovernor(fixed=1, nice=0))
    seen: dict[str, int] = {}

    def job() -> None:
        torch.set_num_threads(2)  # what torch had before: the governor must set it where the job runs
        res = r.run(parse_job({"model": "narrow", "seconds": 0.7, "steps": 2, "name": "cpu",
                               "controls": [{"type": "intensity", "shape": "flat"}]}),
                    progress=lambda *_: seen.setdefault("threads", torch.get_num_threads()))  # in the job's thread
        seen["sidecar"] = json.loads(res.wav_path.with_suffix(".json").read_text())["cpu"]["threads"]

    worker = threading.Thread(target=job)
    worker.start()
    worker.join()
    assert seen == {"threads": 1, "sidecar": 1}
    assert r.description == {"threads": "1 thread(s) as set"}


@pytest.mark.parametrize("threads", [0, 1])
def test_serve_s_runner_chooses_threads_per_job_unless_pinned(threads):
    """`serve` hands its runner a governor; `--threads N` / [server] threads pins it."""
    from ditto_live.commands.serve import make_runner
    from ditto_live.config import Config, ServerConfig

    runner = make_runner(Config(), ServerConfig(threads=threads))
    assert isinstance(runner.governor, ThreadGovernor) and runner.governor.fixed == threads


def test_a_job_gives_up_a_core_at_its_next_step_when_the_daw_starts_mid_job():
    clocks, set_to = FakeClocks(), []
    governor = ThreadGovernor(cores=2, meter=clocks.meter(), set_threads=set_to.append, nice=0)
    clocks.advance(3.0, others_cores=0.0, own_cores=0.1)
    assert governor.apply().threads == 2  # the job starts on an idle machine
    clocks.advance(0.1, others_cores=1.0, own_cores=1.0)
    assert governor.adapt() is None  # too soon after the last reading: no change, nothing read
    clocks.advance(0.6, others_cores=1.0, own_cores=1.0)  # the DAW plays beside the job
    changed = governor.adapt()
    assert changed is not None and changed.threads == 1 and governor.choice is changed
    clocks.advance(0.6, others_cores=1.0, own_cores=1.0)
    assert governor.adapt() is None  # still busy: unchanged
    clocks.advance(0.6, others_cores=0.0, own_cores=1.0)
    assert governor.adapt().threads == 2  # the DAW stops: the core comes back
    assert set_to == [2, 1, 2]


def test_pinned_threads_and_a_governor_before_its_first_job_never_adapt():
    clocks, set_to = FakeClocks(), []
    pinned = ThreadGovernor(fixed=2, cores=2, meter=clocks.meter(), set_threads=set_to.append, nice=0)
    fresh = ThreadGovernor(cores=2, meter=clocks.meter(), set_threads=set_to.append, nice=0)
    pinned.apply()
    clocks.advance(2.0, others_cores=1.5, own_cores=0.5)
    assert pinned.adapt() is None and fresh.adapt() is None and set_to == [2]


def test_a_runner_s_job_drops_to_one_thread_mid_job_when_the_machine_becomes_busy(tmp_path):
    """The runner asks the governor before every ITO step; the sidecar records the count the job ended with."""
    import json

    from ditto_live.generation.jobspec import parse_job
    from tests.ditto_live.test_jobs import runner

    clocks, set_to, reads = FakeClocks(), [], [0]

    def tick() -> float:  # every reading is 0.6 s after the last; the DAW starts at the fourth
        reads[0] += 1
        clocks.advance(0.6, others_cores=1.0 if reads[0] >= 4 else 0.0, own_cores=1.0)
        return clocks.wall

    governor = ThreadGovernor(cores=2, meter=CpuMeter(lambda: clocks.busy, lambda: clocks.own, tick),
                              set_threads=set_to.append, nice=0)
    r = runner(tmp_path, measure=False, governor=governor)
    res = r.run(parse_job({"model": "narrow", "seconds": 0.7, "steps": 6, "name": "busy",
                           "controls": [{"type": "intensity", "shape": "flat"}]}))
    assert set_to[:2] == [2, 1]  # two threads at the start, one from the step after the DAW started
    assert json.loads(res.wav_path.with_suffix(".json").read_text())["cpu"]["threads"] == 1


def _trial(step_s: dict[int, float]) -> tuple[ThreadGovernor, list[int], FakeClocks]:
    """A governor on an idle 2-core machine through its first job's trial, steps taking ``step_s[threads]``."""
    from ditto_live.runner.cpu import TRIAL_STEPS

    clocks, set_to = FakeClocks(), []
    governor = ThreadGovernor(cores=2, meter=clocks.meter(), set_threads=set_to.append, nice=0)
    clocks.advance(3.0, others_cores=0.0, own_cores=0.1)
    governor.apply()
    for _ in range(2 * (TRIAL_STEPS + 1) + 3):
        governor.adapt()
        clocks.advance(step_s[governor.choice.threads], others_cores=0.0, own_cores=1.0)
    return governor, set_to, clocks


def test_an_idle_trial_keeps_one_thread_where_one_is_faster_than_two():
    """Two vCPUs that are one core's hyper-threads: one thread wins, and later jobs get one on an idle machine."""
    governor, set_to, clocks = _trial({2: 0.20, 1: 0.15})
    assert governor.best == 1 and set_to[:2] == [2, 1] and governor.choice.threads == 1
    clocks.advance(3.0, others_cores=0.0, own_cores=1.0)
    choice = governor.apply()
    assert choice.threads == 1 and "the faster count" in choice.reason


def test_an_idle_trial_returns_to_two_threads_where_two_are_faster():
    governor, set_to, _ = _trial({2: 0.10, 1: 0.15})
    assert governor.best == 2 and set_to == [2, 1, 2] and governor.choice.threads == 2


def test_a_step_in_which_the_job_stepped_aside_for_a_window_is_not_timed_for_the_trial():
    """Two threads are faster here, but one of their steps holds a 2 s stream window: untimed, it cannot make one
    thread look faster."""
    from ditto_live.runner.cpu import TRIAL_STEPS

    clocks, set_to = FakeClocks(), []
    governor = ThreadGovernor(cores=2, meter=clocks.meter(), set_threads=set_to.append, nice=0)
    clocks.advance(3.0, others_cores=0.0, own_cores=0.1)
    governor.apply()
    for step in range(2 * (TRIAL_STEPS + 1) + 6):  # + the 3 untimed steps
        governor.adapt()
        window = 2.0 if step in (2, 3, 4) and governor.choice.threads == 2 else 0.0
        clocks.advance(window + (0.10 if governor.choice.threads == 2 else 0.15), others_cores=0.0, own_cores=1.0)
        if window:
            governor.paused()
    assert governor.best == 2 and set_to == [2, 1, 2]


def test_a_trial_stops_when_the_machine_gets_busy_and_waits_for_an_idle_job():
    clocks, set_to = FakeClocks(), []
    governor = ThreadGovernor(cores=2, meter=clocks.meter(), set_threads=set_to.append, nice=0)
    clocks.advance(3.0, others_cores=0.0, own_cores=0.1)
    governor.apply()
    governor.adapt()
    clocks.advance(0.6, others_cores=1.0, own_cores=1.0)  # the DAW starts during the trial's first half
    assert governor.adapt().threads == 1 and governor.trial == {} and governor.best is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts the process's threads in /proc")
def test_a_background_thread_runs_torch_on_one_thread_with_no_team_even_after_the_engine_asked_for_two():
    """The measurement lives beside the engine: a team of its own would make libgomp stop spin-waiting in the
    engine's. torch sets a new thread's count at its first parallel operation from the count last set anywhere
    (here 2), which the helper must not let undo its one."""
    import torch

    from ditto_live.runner.cpu import one_torch_thread

    seen: dict[str, int] = {}

    def engine() -> None:
        torch.set_num_threads(2)

    def background() -> None:
        one_torch_thread()
        before = set(os.listdir("/proc/self/task"))
        x = torch.ones(4_000_000)
        for _ in range(5):
            x = x * 1.0001 + 0.5  # large enough for a parallel region
        seen["threads"] = torch.get_num_threads()
        seen["new OS threads"] = len(set(os.listdir("/proc/self/task")) - before)  # by id: threads ending meanwhile do not count

    for target in (engine, background):
        thread = threading.Thread(target=target)
        thread.start()
        thread.join()
    assert seen == {"threads": 1, "new OS threads": 0}


def test_the_measurement_thread_runs_at_idle_priority_on_one_torch_thread():
    import torch

    from ditto_live.runner.measurement import BackgroundMeasurer, MeasureSettings

    measurer = BackgroundMeasurer(MeasureSettings(True, False, False))
    seen: dict[str, int] = {}

    def look() -> None:
        seen["threads"] = torch.get_num_threads()
        if sys.platform.startswith("linux"):
            seen["idle"] = int(os.sched_getscheduler(0) == os.SCHED_IDLE)

    torch.set_num_threads(2)
    measurer.executor().submit(look).result(timeout=30)
    assert seen["threads"] == 1 and seen.get("idle", 1) == 1


def test_while_a_stream_plays_a_job_leaves_its_audio_a_core_and_starts_no_trial_unless_pinned():
    """The sound server and the output's callback wake every few milliseconds: a team on every core waits for the
    thread they stall. A trial then would find one thread faster and keep it after the stream stops."""
    clocks, set_to = FakeClocks(), []
    governor = ThreadGovernor(cores=2, meter=clocks.meter(), set_threads=set_to.append, nice=0)
    clocks.advance(3.0, others_cores=0.0, own_cores=1.0)  # idle: alone it would take both cores
    choice = governor.apply(streaming=True)
    assert choice.threads == 1 and "stream" in choice.reason and governor.trial == {}
    assert governor.apply().threads == 2 and governor.trial  # without the stream: both, and the trial
    pinned = ThreadGovernor(fixed=2, cores=2, meter=clocks.meter(), set_threads=set_to.append, nice=0)
    assert pinned.apply(streaming=True).threads == 2  # serve --threads wins
    assert set_to == [1, 2, 2]
    many = ThreadGovernor(cores=8, meter=clocks.meter(), set_threads=set_to.append, nice=0)
    clocks.advance(3.0, others_cores=2.0, own_cores=1.0)  # the DAW on two of eight cores
    assert many.apply(streaming=True).threads == 5  # the six it leaves, less the audio's


def test_a_stream_window_leaves_its_audio_a_core_and_says_why(tmp_path):
    from ditto_live.generation.jobspec import parse_job
    from tests.ditto_live.test_jobs import runner

    clocks = FakeClocks()
    r = runner(tmp_path, measure=False, governor=ThreadGovernor(cores=2, meter=clocks.meter(), nice=0))
    window = parse_job({"model": "narrow", "seconds": 0.7, "steps": 2, "name": "cpu", "deadline_s": 30,
                        "controls": [{"type": "intensity", "shape": "flat"}]})
    clocks.advance(3.0, others_cores=0.0, own_cores=1.0)  # an idle machine
    cpu = r.window(window, None, 0.1, lambda: False).summary["cpu"]
    assert cpu["threads"] == 1 and "audio" in cpu["reason"] and r.governor.trial == {} and r.governor.best is None


def test_a_plain_job_right_after_a_stream_window_runs_one_thread_and_says_why(tmp_path):
    import json

    from ditto_live.generation.jobspec import parse_job
    from tests.ditto_live.test_jobs import runner

    clocks = FakeClocks()
    r = runner(tmp_path, measure=False, governor=ThreadGovernor(cores=2, meter=clocks.meter(), nice=0))
    job = parse_job({"model": "narrow", "seconds": 0.7, "steps": 2, "name": "cpu",
                     "controls": [{"type": "intensity", "shape": "flat"}]})

    def threads_of_a_job() -> tuple[int, str]:
        clocks.advance(3.0, others_cores=0.0, own_cores=1.0)  # an idle machine
        cpu = json.loads(r.run(job).wav_path.with_suffix(".json").read_text())["cpu"]
        return cpu["threads"], cpu["reason"]

    assert threads_of_a_job()[0] == 2  # no stream
    r.engine.run(lambda cancelled: None, priority=True)  # a stream window
    threads, reason = threads_of_a_job()
    assert threads == 1 and "stream" in reason
