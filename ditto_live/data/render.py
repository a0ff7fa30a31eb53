"""SoundFont rendering with FluidSynth (pyfluidsynth over Debian's libfluidsynth3).

Each render builds a synthesizer, assigns one MIDI channel per track (drums on channel 10) and plays
the notes in time order into a mono float buffer.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ditto_live.data.arrange import Track

log = logging.getLogger(__name__)

DRUM_CHANNEL = 9
SAMPLE_RATE = 22050


def default_soundfont() -> Path:
    """The General MIDI SoundFont that pretty_midi ships (TimGM6mb.sf2)."""
    import pretty_midi

    path = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
    if not path.exists():
        raise FileNotFoundError(f"no SoundFont at {path}; pass --soundfont")
    return path


class Renderer:
    """Renders tracks of notes to audio with FluidSynth.

    Every render gets a fresh synthesizer: FluidSynth's reverb and chorus carry state (LFO phases,
    delay lines) from one render to the next, so reusing one would make a work's audio depend on what
    was rendered before it (and on how works were spread over processes).
    """

    def __init__(self, soundfont: str | Path | None = None, sample_rate: int = SAMPLE_RATE, gain: float = 0.25):
        self.soundfont = str(soundfont or default_soundfont())
        self.sample_rate = sample_rate
        self.gain = gain
        if not Path(self.soundfont).is_file():
            raise FileNotFoundError(f"no SoundFont at {self.soundfont}")

    def _synth(self):
        import fluidsynth

        synth = fluidsynth.Synth(gain=self.gain, samplerate=float(self.sample_rate))
        sfid = synth.sfload(self.soundfont)
        if sfid < 0:
            synth.delete()
            raise RuntimeError(f"FluidSynth could not load {self.soundfont}")
        return synth, sfid

    def _channels(self, tracks: tuple[Track, ...] | list[Track]) -> list[int]:
        """MIDI channel per track: drums on 10, the rest on 1..16 skipping 10."""
        free = [c for c in range(16) if c != DRUM_CHANNEL]
        out, k = [], 0
        for tr in tracks:
            if tr.is_drum:
                out.append(DRUM_CHANNEL)
            else:
                if k >= len(free):
                    raise ValueError("more than 15 melodic tracks")
                out.append(free[k])
                k += 1
        return out

    def render(self, tracks: tuple[Track, ...] | list[Track], tail_s: float = 1.0,
               max_s: float | None = None) -> np.ndarray:
        """Tracks -> mono float32 [samples] at the sample rate (raw level, not normalised).

        max_s: stop there (notes starting later are not played), to skip audio that would be thrown away.
        """
        channels = self._channels(tracks)
        synth, sfid = self._synth()
        try:
            return self._play(synth, sfid, tracks, channels, tail_s, max_s)
        finally:
            synth.delete()

    def _play(self, synth, sfid: int, tracks, channels: list[int], tail_s: float, max_s: float | None) -> np.ndarray:
        sr = self.sample_rate
        events = []  # (sample, kind, channel, pitch, velocity); note-offs (kind 0) sort before note-ons
        for tr, ch in zip(tracks, channels):
            if tr.is_drum:
                synth.program_select(ch, sfid, 128, 0)
            else:
                synth.program_select(ch, sfid, 0, tr.program)
            for pitch, start, end, vel in tr.notes:
                if not 0 <= pitch <= 127 or (max_s is not None and start >= max_s):
                    continue
                events.append((int(round(start * sr)), 1, ch, pitch, vel))
                events.append((int(round(end * sr)), 0, ch, pitch, 0))
        events.sort()
        end_sample = (events[-1][0] if events else 0) + int(tail_s * sr)
        if max_s is not None:
            end_sample = min(end_sample, int(max_s * sr))
            events = [e for e in events if e[0] < end_sample]
        chunks, cursor = [], 0
        for sample, kind, ch, pitch, vel in events:
            if sample > cursor:
                chunks.append(synth.get_samples(sample - cursor))
                cursor = sample
            if kind:
                synth.noteon(ch, pitch, vel)
            else:
                synth.noteoff(ch, pitch)
        if end_sample > cursor:
            chunks.append(synth.get_samples(end_sample - cursor))
        stereo = np.concatenate(chunks).astype(np.float32).reshape(-1, 2) if chunks else np.zeros((0, 2), np.float32)
        return stereo.mean(axis=1) / 32768.0

    def close(self) -> None:
        """Nothing to release (each render owns its synthesizer); kept for symmetry with other adapters."""
