"""A lock-protected float32 ring buffer between a generator thread and an audio callback.

The producer (the stream's generator thread) writes blocks; the consumer (the sound card's callback)
reads a fixed number of frames per call. A read that finds too little audio is padded with zeros and,
while the buffer is *armed* (playback is meant to be continuous), counted as an underrun: underruns
are reported, never hidden. The lock is held only for two ``memcpy``-sized copies, so the audio
callback never waits on the generator.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np


class RingBuffer:
    """Mono float32 FIFO of fixed capacity with underrun counting."""

    def __init__(self, capacity: int):
        if capacity <= 0:
            raise ValueError(f"capacity must be > 0, got {capacity}")
        self.capacity = int(capacity)
        self._data = np.zeros(self.capacity, dtype=np.float32)  # [capacity]
        self._read = 0  # index of the oldest sample
        self._size = 0  # samples held
        self._cond = threading.Condition(threading.Lock())
        self._armed = False
        self.underruns = 0  # reads that came up short while armed
        self.underrun_frames = 0  # zero frames played because of those underruns
        self.frames_read = 0  # frames handed to the consumer (audio or padding) since the last reset
        self.frames_written = 0  # frames accepted from the producer since the last reset

    # -- state -------------------------------------------------------------------------------------
    def available(self) -> int:
        """Samples ready to read."""
        with self._cond:
            return self._size

    def free(self) -> int:
        """Samples that can be written without blocking."""
        with self._cond:
            return self.capacity - self._size

    @property
    def armed(self) -> bool:
        return self._armed

    def arm(self) -> None:
        """From now on a short read is an underrun (call once playback should be continuous)."""
        with self._cond:
            self._armed = True

    def disarm(self) -> None:
        """Short reads no longer count (stopped, or draining the last audio)."""
        with self._cond:
            self._armed = False

    def clear(self) -> None:
        """Drop buffered audio and reset the counters; wakes a blocked writer."""
        with self._cond:
            self._read = self._size = 0
            self._armed = False
            self.underruns = self.underrun_frames = self.frames_read = self.frames_written = 0
            self._cond.notify_all()

    # -- producer ----------------------------------------------------------------------------------
    def write(self, samples: np.ndarray) -> int:
        """Copy as many samples as fit; return how many were written (never blocks)."""
        x = np.asarray(samples, dtype=np.float32).reshape(-1)  # [n]
        with self._cond:
            n = min(len(x), self.capacity - self._size)
            if n:
                start = (self._read + self._size) % self.capacity
                first = min(n, self.capacity - start)
                self._data[start:start + first] = x[:first]
                self._data[:n - first] = x[first:n]
                self._size += n
                self.frames_written += n
            return n

    def write_all(self, samples: np.ndarray, timeout: float | None = None,
                  should_stop: Callable[[], bool] = lambda: False) -> int:
        """Write every sample, waiting for room; stop early on ``should_stop()`` or ``timeout`` seconds.

        Returns the number of samples written. Waits wake on each read, and at least every 50 ms to
        look at ``should_stop``.
        """
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        done = 0
        deadline = None if timeout is None else time.monotonic() + timeout
        while done < len(x):
            done += self.write(x[done:])
            if done >= len(x) or should_stop():
                break
            wait = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
            if wait <= 0:
                break
            with self._cond:
                if self._size == self.capacity:
                    self._cond.wait(wait)
        return done

    # -- consumer ----------------------------------------------------------------------------------
    def read_into(self, out: np.ndarray) -> int:
        """Fill ``out`` ([n] float32) with the oldest samples, zero-padding the rest.

        Returns the number of real samples; a short read while armed counts one underrun.
        """
        want = len(out)
        with self._cond:
            n = min(want, self._size)
            first = min(n, self.capacity - self._read)
            out[:first] = self._data[self._read:self._read + first]
            out[first:n] = self._data[:n - first]
            self._read = (self._read + n) % self.capacity
            self._size -= n
            self.frames_read += want
            if n < want and self._armed:
                self.underruns += 1
                self.underrun_frames += want - n
            if n:
                self._cond.notify_all()
        out[n:] = 0.0
        return n

    def read(self, n: int) -> np.ndarray:
        """Convenience: read ``n`` samples into a new array (zero-padded)."""
        out = np.empty(n, dtype=np.float32)
        self.read_into(out)
        return out
