"""A stand-in for the DAW beside the server: ``bench --server --co-load N`` (DESIGN.md §10).

A producer's machine is never idle; Live's audio engine keeps a core busy. :class:`CoLoad` starts N
processes that each spin on integer arithmetic, counting rounds, so the bench can time the server's jobs
next to them and also report what the server costs *them*: their rounds per second while the server
works, as a share of their speed alone (the DAW stand-in must keep most of its speed).
"""

from __future__ import annotations

import multiprocessing as mp
import time
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event

ROUND = 20_000  # multiply-adds between two updates of the shared counter


def _spin(counter: Synchronized, stop: Event) -> None:
    """Busy work until told to stop: a linear congruential generator, one counter tick per ROUND."""
    x = 1
    while not stop.is_set():
        for _ in range(ROUND):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        with counter.get_lock():
            counter.value += 1


class CoLoad:
    """N busy processes and their speed (rounds per second, summed over the processes)."""

    def __init__(self, processes: int):
        ctx = mp.get_context("spawn")  # no fork of a process that may hold torch's threads
        self._stop = ctx.Event()
        self._counter: Synchronized = ctx.Value("q", 0)
        self._procs = [ctx.Process(target=_spin, args=(self._counter, self._stop), daemon=True, name=f"co-load-{i}")
                       for i in range(processes)]
        self._mark = (time.perf_counter(), 0)

    def __enter__(self) -> CoLoad:
        for p in self._procs:
            p.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for p in self._procs:
            p.join(5)
            if p.is_alive():
                p.kill()

    def mark(self) -> None:
        """Start a new interval for :meth:`rate`."""
        self._mark = (time.perf_counter(), self._counter.value)

    def rate(self) -> float:
        """Rounds per second since the last :meth:`mark`."""
        t0, n0 = self._mark
        return (self._counter.value - n0) / max(time.perf_counter() - t0, 1e-9)

    def solo_rate(self, seconds: float) -> float:
        """Rounds per second over ``seconds`` now (call while nothing else runs)."""
        time.sleep(0.3)  # past the processes' start
        self.mark()
        time.sleep(seconds)
        return self.rate()
