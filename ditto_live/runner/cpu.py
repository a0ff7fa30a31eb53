"""Sharing the CPU with the DAW (DESIGN.md §10, issue 27).

A producer's machine is never idle: Live's audio engine, plug-ins and the UI run beside the server. Three
rules keep the server from collapsing (or starving the DAW) on a contended core:

- **Never spin on a contended core.** OpenMP threads that busy-wait between parallel regions burn the
  time slice the other process needs, and every region then waits for a descheduled thread: a 2-thread
  job with one other busy core ran 4x slower than on an idle machine. The cure is the thread count, not the
  wait policy: a job given only the free cores has no thread waiting on a busy one (one thread has no team
  at all). The passive policy was measured and rejected: it doubled the idle 2-thread step (the team sleeps
  and wakes at every region) and still lost to one thread beside a busy core (docs/bench.md).
- **Take the cores that are free, not all of them.** :class:`CpuMeter` reads how much CPU the *other*
  processes used over an interval (all CPU time minus this process's own), and :func:`choose_threads`
  leaves them their cores. :class:`ThreadGovernor` does this before every job, in the thread that runs
  it (OpenMP's thread count is a per-thread setting: set from another thread it does not apply), so a
  machine that becomes busy while serving gets a server with fewer threads on its next job.
- **Fewer threads where fewer are faster.** Two vCPUs can be one core's two hyper-threads: there a served
  job ran faster with one thread than with two on an idle machine (docs/bench.md). The first job that finds
  the machine idle runs a trial: its first :data:`TRIAL_STEPS` steps with every core, the next with one; the
  faster count is the most the governor gives from then on.
- **Run below the DAW.** The engine thread (and the OpenMP team it creates, which inherits its priority)
  runs at :data:`ENGINE_NICE`; measurement and plots run at idle priority (:func:`idle_priority`).
- **One OpenMP team in the process: the engine's.** libgomp stops spin-waiting in every team once the
  process's OpenMP threads outnumber its cores, and a team that sleeps and wakes at each parallel region ran
  a step twice as slowly. So the engine's work runs on a thread that ends with it (``EngineLock.run``), and
  the threads that live beside it and use torch (the measurement) run it on one thread
  (:func:`background_thread`). A job that steps aside for a stream window ends its team first
  (:func:`release_openmp_team`), so the window's team is the only one while it runs.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

log = logging.getLogger(__name__)

ENGINE_NICE = 10  # the job thread's niceness: any normal-priority process (the DAW, its plug-ins) goes first
SPARE_CORE_SHARE = 0.35  # a core counts as free when others use at most 1 - this share of it (hysteresis)
MIN_SAMPLE_S = 0.2  # shorter intervals than this are too noisy to read a load from; the last reading stands
ADAPT_INTERVAL_S = 0.5  # during a job, the load is re-read at the first step at least this long after the last
TRIAL_STEPS = 4  # steps timed with each thread count in the idle trial (the first after a switch is not timed)
OMP_PAUSE_SOFT = 1  # OpenMP 5.0's omp_pause_soft: the runtime releases its threads and starts new ones when next needed
OPENMP_RUNTIMES = ("libgomp", "libomp", "libiomp")  # the names of the OpenMP runtimes torch builds link


@dataclass(frozen=True)
class CpuSample:
    """A reading of the machine's CPU clocks."""

    wall_s: float  # monotonic time of the reading
    busy_s: float  # CPU time all processes have used since boot, summed over cores (-1: unknown)
    own_s: float  # CPU time this process has used (all its threads)


def read_proc_stat(path: str = "/proc/stat") -> float:
    """Busy CPU seconds of the whole machine since boot (Linux ``/proc/stat``; -1 where it is missing)."""
    try:
        with open(path) as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return -1.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    busy_ticks = sum(fields[:8]) - idle  # user nice system idle iowait irq softirq steal; guest is in user
    return busy_ticks / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """How many cores the other processes used between two readings."""

    def __init__(self, read_busy: Callable[[], float] = read_proc_stat,
                 read_own: Callable[[], float] = time.process_time, clock: Callable[[], float] = time.monotonic):
        self._read_busy, self._read_own, self._clock = read_busy, read_own, clock

    def sample(self) -> CpuSample:
        return CpuSample(self._clock(), self._read_busy(), self._read_own())

    @staticmethod
    def others_cores(before: CpuSample, after: CpuSample) -> float | None:
        """Cores' worth of CPU the other processes used from ``before`` to ``after`` (None: unknown)."""
        wall = after.wall_s - before.wall_s
        if before.busy_s < 0 or after.busy_s < 0 or wall < MIN_SAMPLE_S:
            return None
        others = (after.busy_s - before.busy_s) - (after.own_s - before.own_s)
        return max(0.0, others / wall)


def choose_threads(cores: int, others: float | None) -> int:
    """Engine threads for a machine of ``cores`` where the other processes use ``others`` cores: the
    cores left free, at least one. Unknown load (no ``/proc/stat``): all cores but one, so a DAW keeps
    one."""
    if others is None:
        return max(1, cores - 1)
    return max(1, min(cores, math.floor(cores - others + SPARE_CORE_SHARE)))


@dataclass(frozen=True)
class ThreadChoice:
    """What the governor chose for a job, and why (the server's status reports it)."""

    threads: int  # torch threads of the job
    cores: int  # cores of the machine
    others_cores: float | None  # cores the other processes used since the last choice (None: unknown)
    fixed: bool  # set by the user (serve --threads / [server] threads), not by the load
    reason: str  # one line for people

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class ThreadGovernor:
    """Chooses the engine's threads before each job from the load the other processes put on the machine.

    ``fixed`` > 0 pins the count (``serve --threads``). ``apply`` must be called in the thread that runs
    the job: it sets that thread's OpenMP thread count (``torch.set_num_threads``) and its priority."""

    def __init__(self, fixed: int = 0, cores: int | None = None, meter: CpuMeter | None = None,
                 set_threads: Callable[[int], None] | None = None, nice: int = ENGINE_NICE):
        self.fixed = fixed
        self.cores = cores or os.cpu_count() or 1
        self.meter = meter or CpuMeter()
        self._set_threads = set_threads or _torch_set_threads
        self.nice = nice
        self._lock = threading.Lock()
        self._last = self.meter.sample()
        self._others: float | None = None  # the last load read over a long enough interval
        self.choice: ThreadChoice | None = None  # the last choice (None before the first job)
        self.best: int | None = None  # the faster thread count on an idle machine, once the trial has run
        self.trial: dict[int, list[float]] = {}  # thread count -> step seconds timed in the running trial
        self._step_began: float | None = None  # when the running job's last step began

    def decide(self) -> ThreadChoice:
        """Read the load since the last decision and choose (no side effect on threads)."""
        with self._lock:
            now = self.meter.sample()
            others = CpuMeter.others_cores(self._last, now)
            if others is not None:
                self._others, self._last = others, now
            others = self._others
        if self.fixed:
            return ThreadChoice(self.fixed, self.cores, others, True, f"{self.fixed} thread(s) as set")
        threads = choose_threads(self.cores, others)
        if others is None:
            reason = f"load unknown: {threads} of {self.cores} cores, one left to other programs"
        else:
            reason = f"other programs used {others:.2f} of {self.cores} cores: {threads} thread(s) on the rest"
        if self.best is not None and self.best < threads:
            threads, reason = self.best, f"{reason}; at most {self.best}, the faster count on this machine"
        return ThreadChoice(threads, self.cores, others, False, reason)

    def _trial_step(self, now: float) -> int | None:
        """Time the step that just ended for the running trial; -> the count the next step should use, or
        None when the trial does not change it. The trial's first half runs every core, its second one thread;
        the faster (median) becomes ``best``."""
        began, self._step_began = self._step_began, now
        if self.best is not None or not self.trial or began is None:
            return None
        current = 1 if 1 in self.trial else self.cores  # the one-thread half follows the all-core one
        timed = self.trial[current]
        timed.append(now - began)
        if len(timed) < TRIAL_STEPS + 1:  # + the first step after a switch, dropped below
            return None
        if current == self.cores:
            self.trial[1] = []
            return 1
        medians = {n: sorted(t[1:])[len(t[1:]) // 2] for n, t in self.trial.items()}
        self.best = min(medians, key=lambda n: (medians[n], -n))
        log.info("engine threads: a step took %s; at most %d thread(s) from now on",
                 ", ".join(f"{medians[n] * 1000:.0f} ms with {n}" for n in sorted(medians)), self.best)
        self.trial = {}
        return self.best

    def adapt(self) -> ThreadChoice | None:
        """During a job, in its thread, before a step: once ``ADAPT_INTERVAL_S`` has passed since the last
        reading, re-read the load and reset this thread's torch threads if the free cores changed, so a DAW
        that starts playing mid-job gets its core back at the next step, not the next job (two threads
        beside a busy core run many times slower). -> the new choice, or None when nothing changed."""
        if self.fixed or self.choice is None:
            return None
        with self._lock:
            now = self.meter.sample().wall_s
            due = now - self._last.wall_s >= ADAPT_INTERVAL_S
        switch = self._trial_step(now)
        if switch == 1 and self.best is None:  # the trial's one-thread half begins
            choice = ThreadChoice(1, self.cores, self.choice.others_cores, False, "idle: trying 1 thread")
        elif 1 in self.trial:  # it runs on: one thread is never too many
            return None
        else:
            choice = self.decide() if due or switch is not None else self.choice
            if self.trial and choice.threads < self.cores:  # the machine got busy: no trial now
                self.trial = {}
        if choice.threads == self.choice.threads:
            return None
        self._set_threads(choice.threads)
        log.info("engine threads, mid-job: %s", choice.reason)
        self.choice = choice
        return choice

    def paused(self) -> None:
        """The job stepped aside (for a stream window) before this step: the step is not timed for the trial,
        whose times would otherwise include the window's."""
        self._step_began = None

    def apply(self, streaming: bool = False) -> ThreadChoice:
        """Decide and set this thread's torch threads and lower its priority; on the first idle
        machine with more than one core, start the trial of every core against one.

        ``streaming``: a live stream plays (a stream window, or a plain job beside one). Unless the count is pinned,
        the job leaves the audio a core: the sound server and the output's callback wake every few milliseconds,
        and a team whose every core they take turns on waits at each parallel region for the thread they
        stalled (2-core Xeon, JACK's dummy driver: 14-17 ITO steps of a window on two threads in the time of 24 on
        one; docs/midi_audio.md). No trial runs then: its answer would hold after the stream has stopped."""
        choice = self.decide()
        self._step_began = None
        if streaming and not self.fixed:
            threads = max(1, choice.threads - 1)
            choice = ThreadChoice(threads, self.cores, choice.others_cores, False,
                                  f"a live stream plays: {threads} thread(s), a core left to its audio")
        elif self.best is None and not self.fixed and self.cores > 1 and choice.threads == self.cores:
            self.trial = {self.cores: []}
        lower_priority(self.nice)  # every job's thread is new (EngineLock.run); a no-op where it is lowered
        self._set_threads(choice.threads)
        if self.choice is None or choice.threads != self.choice.threads:
            log.info("engine threads: %s", choice.reason)
        self.choice = choice
        return choice


def _torch_set_threads(n: int) -> None:
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def lower_priority(nice: int) -> None:
    """Raise the calling thread's niceness to ``nice`` (Linux schedules threads as tasks; threads it
    starts later, an OpenMP team included, inherit it). Never raises: a platform without it runs as is."""
    try:
        tid = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except (AttributeError, OSError) as exc:
        log.debug("cannot lower the thread's priority: %s", exc)


def one_torch_thread() -> None:
    """Run the calling thread's torch work on that thread alone, with no OpenMP team of its own (see the module's
    last rule). torch sets a thread's count at its first parallel operation, from the count last set in any
    thread; asking for the count does that set-up first, so the one set after it stays. (It becomes torch's
    count for threads that never set one: the engine's threads set theirs, :meth:`ThreadGovernor.apply`.)"""
    import torch

    torch.get_num_threads()  # torch's one-time set-up of this thread, which would otherwise undo the next line
    torch.set_num_threads(1)


def release_openmp_team() -> bool:
    """End the calling thread's OpenMP team: its helper threads exit, and the thread's next parallel region starts
    a new one (about a millisecond). For a job that steps aside for a stream window: its paused thread's team
    would otherwise live on beside the window's, and libgomp stops spin-waiting in every team once the process's
    OpenMP threads outnumber its cores (a window took 3.8 s instead of 1.7 s; docs/bench.md). Must be called
    outside a parallel region. -> whether a runtime released it (False before torch is imported, or where the
    platform does not say which runtimes are loaded; never raises)."""
    pauses = _openmp_pauses() if "torch" in sys.modules else ()  # torch loads its runtime on import
    released = False
    for pause in pauses:  # each runtime ends only this thread's team, if it keeps one
        try:
            released = pause(OMP_PAUSE_SOFT) == 0 or released
        except OSError as exc:  # pragma: no cover - a runtime that faults is left as it is
            log.debug("cannot release the OpenMP team: %s", exc)
    return released


@functools.cache
def _openmp_pauses() -> tuple[Callable[[int], int], ...]:
    """``omp_pause_resource_all`` of each OpenMP runtime loaded in this process (torch's, and any other a
    library brought), found in ``/proc/self/maps``; none where there is no such file."""
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "/" in line})
    except OSError:
        return ()
    pauses = []
    for path in paths:
        if os.path.basename(path).startswith(OPENMP_RUNTIMES):
            try:
                pause = ctypes.CDLL(path).omp_pause_resource_all  # the loaded library: CDLL does not load it twice
            except (OSError, AttributeError):
                continue
            pause.argtypes, pause.restype = [ctypes.c_int], ctypes.c_int
            pauses.append(pause)
    return tuple(pauses)


def background_thread() -> None:
    """What a thread that works beside the engine and that nobody waits for (the measurement, the plots) runs
    first: idle priority and one torch thread."""
    idle_priority()
    one_torch_thread()


def idle_priority() -> None:
    """Run the calling thread only when a core would otherwise idle (Linux ``SCHED_IDLE``; elsewhere the
    lowest niceness): for measurement and plots, which nobody waits for."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # 0: the calling thread
    except (AttributeError, OSError):
        lower_priority(19)
