"""The ring buffer between the generator thread and the audio callback."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ditto_live.bridges.ringbuffer import RingBuffer


def test_samples_come_out_in_order_across_the_wrap():
    ring = RingBuffer(10)
    assert ring.write(np.arange(7)) == 7
    assert ring.read(5).tolist() == [0, 1, 2, 3, 4]
    assert ring.write(np.arange(7, 15)) == 8  # only 8 free
    assert ring.available() == 10 and ring.free() == 0
    assert ring.read(10).tolist() == list(range(5, 15))


def test_a_short_read_is_zero_padded_and_counted_only_while_armed():
    ring = RingBuffer(8)
    out = np.ones(4, np.float32)
    assert ring.read_into(out) == 0 and out.tolist() == [0, 0, 0, 0]
    assert ring.underruns == 0  # not armed: silence before playback starts is no underrun
    ring.arm()
    ring.write(np.array([1.0, 2.0]))
    assert ring.read_into(out) == 2 and out.tolist() == [1, 2, 0, 0]
    assert ring.underruns == 1 and ring.underrun_frames == 2
    ring.disarm()
    ring.read_into(out)
    assert ring.underruns == 1


def test_clear_drops_audio_and_resets_counters():
    ring = RingBuffer(8)
    ring.arm()
    ring.write(np.ones(3))
    ring.read(5)
    ring.clear()
    assert ring.available() == 0 and ring.underruns == 0 and not ring.armed


def test_write_all_waits_for_the_consumer_and_loses_nothing():
    ring = RingBuffer(64)
    data = np.arange(10_000, dtype=np.float32)
    got: list[np.ndarray] = []

    def consume():
        while sum(len(g) for g in got) < len(data):
            block = np.empty(997, np.float32)
            n = ring.read_into(block)
            if n:
                got.append(block[:n].copy())

    reader = threading.Thread(target=consume)
    reader.start()
    assert ring.write_all(data, timeout=10) == len(data)
    reader.join(timeout=10)
    assert np.array_equal(np.concatenate(got), data)


def test_write_all_gives_up_when_told_to_stop():
    ring = RingBuffer(16)
    assert ring.write_all(np.zeros(100), should_stop=lambda: True) == 16
    assert ring.write_all(np.zeros(100), timeout=0.05) == 0


def test_capacity_must_be_positive():
    with pytest.raises(ValueError):
        RingBuffer(0)
