"""Test doubles shared by the suites: an in-memory audio output and a hash-seeded sentence encoder.

They stand in for the sound card (``ditto_live.bridges.audio.AudioOut``) and the shipped MiniLM sentence
encoder (``ditto_live.generation.text_encoder.SentenceEncoder``); the library never uses them.
"""

from __future__ import annotations

import hashlib
import threading
import time

import numpy as np

from ditto_live.bridges.audio import RingOutput
from ditto_live.generation.text_encoder import TEXT_DIM


class FakeAudioOut(RingOutput):
    """An in-memory output: a thread drains one block every ``block_size / rate / speed`` seconds.

    Blocks are scheduled against absolute times, so playback does not drift; ``speed > 1`` plays
    faster than real time. ``record`` defaults to True so tests can inspect what was played.
    """

    def __init__(self, sample_rate: int, buffer_seconds: float = 4.0, block_size: int = 512,
                 speed: float = 1.0, record: bool = True):
        super().__init__(sample_rate, buffer_seconds, block_size, record)
        self.speed = float(speed)  # playback speed relative to real time
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._reset_counters()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="fake-audio-out", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self._thread = None

    def _run(self) -> None:
        period = self.block_size / self.sample_rate / self.speed
        t0 = time.monotonic()
        k = 0
        while not self._stop.is_set():
            self._fill(self.block_size)
            k += 1
            delay = t0 + k * period - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)


class FakeSentenceEncoder:
    """Deterministic hash-seeded embeddings; word overlap gives similar vectors. For tests only."""

    dim = TEXT_DIM

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                seed = int.from_bytes(hashlib.sha1(word.encode()).digest()[:4], "little")
                out[i] += np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            out[i] /= max(float(np.linalg.norm(out[i])), 1e-8)
        return out
