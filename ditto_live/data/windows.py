"""Cutting rendered audio into model windows, with per-frame melody ground truth and mels per preset."""

from __future__ import annotations

import numpy as np
import torch

from ditto_live.engine.audio import PRESETS, MelFrontEnd

FRAMES = 512  # mel frames per window (both presets)
HOP = 256  # samples per mel frame
WINDOW = FRAMES * HOP  # 131072 samples = 5.94 s at 22,050 Hz
SILENCE_DB = -45.0  # windows whose RMS is below this (dBFS) are dropped


def window_starts(n_samples: int, max_windows: int | None = None) -> list[int]:
    """Start samples of the whole windows that fit, back to back from 0."""
    starts = list(range(0, n_samples - WINDOW + 1, WINDOW))
    return starts[:max_windows] if max_windows is not None else starts


def rms_db(audio: np.ndarray) -> float:
    """Root-mean-square level in dBFS."""
    return float(10.0 * np.log10(np.mean(np.square(audio, dtype=np.float64)) + 1e-12))


def is_silent(audio: np.ndarray, threshold_db: float = SILENCE_DB) -> bool:
    return rms_db(audio) < threshold_db


def melody_truth(notes, start_s: float, sample_rate: int, frames: int = FRAMES, hop: int = HOP) -> np.ndarray:
    """Pitch class of the melody at each mel frame (-1 where no note sounds).

    notes: (midi pitch, start s, end s, ...) of the top voice; frame i of a window starting at
    ``start_s`` is centred at start_s + i * hop / sample_rate (the STFT is centred). Where notes
    overlap the latest onset wins, then the highest pitch (the top of a chord). -> int8 [frames]
    """
    t = start_s + np.arange(frames) * hop / sample_rate
    out = np.full(frames, -1, dtype=np.int8)
    onset = np.full(frames, -np.inf)
    for note in sorted(notes, key=lambda n: (n[1], n[0])):
        pitch, s, e = note[0], note[1], note[2]
        on = (t >= s) & (t < e) & (s >= onset)
        out[on] = pitch % 12
        onset[on] = s
    return out


def window_notes(notes, start_s: float, length_s: float) -> list[list[float]]:
    """Notes overlapping a window, relative to its start, rounded: [[pitch, start, end], ...]."""
    out = []
    for note in notes:
        pitch, s, e = note[0], note[1], note[2]
        if e > start_s and s < start_s + length_s:
            out.append([int(pitch), round(s - start_s, 3), round(e - start_s, 3)])
    return out


class MelBank:
    """One MelFrontEnd per preset, so data and training share the exact transform."""

    def __init__(self, presets: tuple[str, ...] | list[str]):
        self.front = {p: MelFrontEnd(PRESETS[p]).eval() for p in presets}

    @torch.no_grad()
    def __call__(self, audio: np.ndarray) -> dict[str, np.ndarray]:
        """audio [n, WINDOW] float32 -> {preset: mel [n, n_mels, FRAMES] float16}."""
        wav = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
        return {p: f(wav).squeeze(1).to(torch.float16).numpy() for p, f in self.front.items()}
