"""Audio out: the ring buffer drained by an output callback, in memory and through PortAudio's JACK
host API into a private ``jackd -d dummy``."""

from __future__ import annotations

import time

import numpy as np
import pytest

from ditto_live.bridges.audio import AudioOut, find_output_device, output_devices
from tests.fakes import FakeAudioOut
from tests.jack import jack_server  # noqa: F401  (pytest fixture)


def sine(n: int, rate: int, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(n) / rate)).astype(np.float32)


def test_fake_output_plays_at_real_time_and_in_order():
    out = FakeAudioOut(8000, buffer_seconds=1.0, block_size=80)
    data = sine(6000, 8000)
    out.write(data)
    out.start()
    time.sleep(0.3)
    out.stop()
    played = out.played()
    assert 0.2 * 8000 <= len(played) <= 0.45 * 8000  # ~0.3 s of 10 ms blocks
    assert np.array_equal(played, data[:len(played)])
    assert out.underruns == 0


def test_fake_output_counts_underruns_once_armed():
    out = FakeAudioOut(8000, buffer_seconds=1.0, block_size=80, speed=20.0)
    out.write(sine(400, 8000))
    out.ring.arm()
    out.start()
    time.sleep(0.1)  # 0.1 s at 20x = 2 s of blocks: the 400 samples run out after 5 blocks
    out.stop()
    assert out.underruns >= 5 and out.ring.underrun_frames >= 5 * 80


def test_no_device_name_means_the_default_device():
    assert find_output_device("") is None


@pytest.mark.jack
def test_audio_out_plays_through_jack_at_real_time_and_counts_underruns(jack_server):  # noqa: F811
    assert any("JACK" in d["hostapi"] for d in output_devices())
    rate = jack_server.rate
    out = AudioOut(rate, buffer_seconds=1.0, block_size=1024, device=find_output_device(hostapi="JACK"),
                   record=True)
    data = sine(int(0.8 * rate), rate)
    out.write(data)
    out.ring.arm()
    out.start()
    try:
        t0 = time.monotonic()
        time.sleep(0.5)
        consumed, elapsed = out.ring.frames_read, time.monotonic() - t0
        assert out.running
        assert out.ring.underruns == 0  # still inside the 0.8 s we queued
        assert abs(consumed / rate - elapsed) < 0.15  # the callback drains at the device's pace
        time.sleep(0.6)  # past the end of the queued audio: the callback plays silence and counts it
    finally:
        out.stop()
    assert out.ring.underruns > 0 and out.underruns >= out.ring.underruns
    played = out.played()
    assert np.array_equal(played[:len(data)], data)  # every sample reached the device, in order


@pytest.mark.jack
def test_for_device_opens_at_the_devices_rate(jack_server):  # noqa: F811
    out = AudioOut.for_device(find_output_device(hostapi="JACK"), buffer_seconds=0.1)
    assert out.sample_rate == jack_server.rate
