"""Audio out: a ring buffer drained by a sound-card callback (sounddevice / PortAudio).

Generated audio is written into :class:`~ditto_live.bridges.ringbuffer.RingBuffer` by a producer
thread; the output stream's callback pulls one block per call and plays zeros (counting an underrun)
when the producer fell behind. Sample-rate conversion is the producer's job: the buffer holds audio
at the device rate. Route the output into a DAW through a loopback device (BlackHole, VB-Cable, JACK;
see docs/midi_audio.md).

:class:`AudioOut` is the real adapter over :class:`RingOutput` (what any output shares); the tests' in-memory
output (``tests/fakes.py``) drains the same buffer from a plain thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ditto_live.bridges.ringbuffer import RingBuffer

log = logging.getLogger(__name__)


def _sounddevice() -> Any:
    """Import sounddevice lazily: it is optional (``pip install ditto-live[audio]``)."""
    try:
        import sounddevice
    except (ImportError, OSError) as exc:  # OSError: PortAudio library missing
        raise RuntimeError(f"audio output needs sounddevice and PortAudio: {exc}") from exc
    return sounddevice


def output_devices() -> list[dict[str, Any]]:
    """Every device with output channels: index, name, host API name, default rate."""
    sd = _sounddevice()
    apis = sd.query_hostapis()
    return [
        {"index": i, "name": d["name"], "hostapi": apis[d["hostapi"]]["name"],
         "channels": d["max_output_channels"], "samplerate": d["default_samplerate"]}
        for i, d in enumerate(sd.query_devices()) if d["max_output_channels"] > 0
    ]


def find_output_device(name: str = "", hostapi: str = "") -> int | None:
    """Index of the first output device whose name (and host API) contains the given text.

    ``name == ""`` with no ``hostapi`` returns None (the system default).
    """
    if not name and not hostapi:
        return None
    for d in output_devices():
        if name.lower() in d["name"].lower() and hostapi.lower() in d["hostapi"].lower():
            return int(d["index"])
    known = ", ".join(f"{d['name']} ({d['hostapi']})" for d in output_devices()) or "none"
    raise RuntimeError(f"no audio output matches name={name!r} hostapi={hostapi!r}; outputs: {known}")


class RingOutput:
    """What both outputs share: the ring buffer, the per-block fill, counters and an optional tap."""

    def __init__(self, sample_rate: int, buffer_seconds: float, block_size: int, record: bool):
        self.sample_rate = int(sample_rate)  # device rate; the ring holds audio at this rate
        self.block_size = int(block_size)  # frames per callback (0 lets the backend choose)
        self.ring = RingBuffer(max(1, int(round(buffer_seconds * sample_rate))))
        self.device_underflows = 0  # callbacks the backend itself reported as late (CPU starved)
        self.callbacks = 0  # blocks served
        self.started_at: float | None = None  # time.monotonic() of start()
        self._record = record
        self._played: list[np.ndarray] = []  # blocks handed to the device, when record=True
        self._scratch = np.zeros(max(self.block_size, 1024), dtype=np.float32)

    @property
    def underruns(self) -> int:
        """Short blocks while playback was armed plus late callbacks reported by the backend."""
        return self.ring.underruns + self.device_underflows

    def write(self, samples: np.ndarray, timeout: float | None = None,
              should_stop: Callable[[], bool] = lambda: False) -> int:
        """Queue mono audio at :attr:`sample_rate`, waiting for room (see ``RingBuffer.write_all``)."""
        return self.ring.write_all(samples, timeout=timeout, should_stop=should_stop)

    def played(self) -> np.ndarray:
        """Everything handed to the device since start (only with ``record=True``)."""
        return np.concatenate(self._played) if self._played else np.zeros(0, np.float32)

    def _fill(self, frames: int) -> np.ndarray:
        """Pull one block from the ring (zeros when empty) -> [frames] float32 view."""
        if frames > len(self._scratch):
            self._scratch = np.zeros(frames, dtype=np.float32)
        block = self._scratch[:frames]
        self.ring.read_into(block)
        self.callbacks += 1
        if self._record:
            self._played.append(block.copy())
        return block

    def _reset_counters(self) -> None:
        self.device_underflows = self.callbacks = 0
        self._played = []
        self.started_at = time.monotonic()


class AudioOut(RingOutput):
    """A sounddevice ``OutputStream`` whose callback drains the ring buffer.

    ``device`` is a sounddevice index, a name substring, or "" for the system default; mono audio is
    copied to every output channel.
    """

    def __init__(self, sample_rate: int, buffer_seconds: float = 4.0, block_size: int = 512,
                 device: int | str = "", channels: int = 1, latency: str | float = "high",
                 record: bool = False):
        super().__init__(sample_rate, buffer_seconds, block_size, record)
        self.device = device  # index or name substring ("" = default)
        self.channels = int(channels)  # output channels (mono is duplicated)
        self.latency = latency  # PortAudio suggested latency ("low", "high" or seconds)
        self._stream: Any = None

    @classmethod
    def for_device(cls, device: int | str = "", **kwargs: Any) -> AudioOut:
        """An output at the device's own default rate (the rate the DAW's loopback runs at)."""
        sd = _sounddevice()
        index = find_output_device(device) if isinstance(device, str) else device
        info = sd.query_devices(index, "output") if index is not None else sd.query_devices(kind="output")
        return cls(int(info["default_samplerate"]), device=device if index is None else index, **kwargs)

    @property
    def running(self) -> bool:
        return self._stream is not None and bool(self._stream.active)

    def start(self) -> None:
        """Open and start the output stream (no-op if running)."""
        if self._stream is not None:
            return
        sd = _sounddevice()
        device = find_output_device(self.device) if isinstance(self.device, str) else self.device
        self._reset_counters()
        self._stream = sd.OutputStream(samplerate=self.sample_rate, blocksize=self.block_size,
                                       device=device, channels=self.channels, dtype="float32",
                                       latency=self.latency, callback=self._callback)
        self._stream.start()
        log.info("audio out: %s at %d Hz, block %d, latency %.3f s", self._stream.device,
                 self.sample_rate, self.block_size, self._stream.latency)

    def stop(self) -> None:
        """Stop and close the stream; the ring keeps its counters until the next start."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
            stream.close()

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        # outdata: [frames, channels] float32, written in place
        if status.output_underflow:
            self.device_underflows += 1
        outdata[:] = self._fill(frames)[:, None]
