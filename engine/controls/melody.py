"""Melody control (paper §4.1): 12-bin chroma from the mel, log-softmax per frame, NLL on pitch classes.

Each mel band above ~261 Hz is spread over the pitch classes its triangle covers (the triangle is
sampled densely in Hz and each sample votes for its nearest pitch class), so a band wider than a
semitone splits its energy instead of snapping to one class. Frames without a note are ignored.
"""

from __future__ import annotations

import librosa
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ditto_live.engine.audio import norm_to_db
from ditto_live.engine.controls.combine import Control
from ditto_live.engine.controls.intensity import seconds_per_unit

NO_NOTE = -1  # target value of a frame where no note sounds


def chroma_weights(n_mels: int, fmin: float, fmax: float, low_hz: float = 261.0, high_hz: float = 5000.0,
                   samples: int = 64) -> Tensor:
    """Soft assignment of each mel band to the 12 pitch classes (rows sum to 1 or 0). [F, 12]"""
    edges = librosa.mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax)
    out = np.zeros((n_mels, 12))
    for b in range(n_mels):
        lo, centre, hi = edges[b], edges[b + 1], edges[b + 2]
        if centre < low_hz or centre > high_hz:
            continue
        hz = np.linspace(lo, hi, samples + 2)[1:-1]
        tri = np.where(hz <= centre, (hz - lo) / (centre - lo), (hi - hz) / (hi - centre))
        pc = np.round(12 * np.log2(hz / 440.0) + 69).astype(int) % 12
        np.add.at(out[b], pc, tri)
        out[b] /= out[b].sum()
    return torch.tensor(out, dtype=torch.float32)


def chroma_log_probs(x0: Tensor, min_db: float, max_db: float, weights: Tensor, temperature: float = 1.0) -> Tensor:
    """log-softmax over pitch classes of log chroma energy. x0: [B, 1, F, N] -> [B, 12, N]"""
    power = 10.0 ** (norm_to_db(x0.float(), min_db, max_db) / 10.0)[:, 0]  # [B, F, N]
    chroma = torch.einsum("fc,bfn->bcn", weights.to(x0.device), power)  # [B, 12, N]
    return F.log_softmax(torch.log(chroma + 1e-10) / temperature, dim=1)


def melody_target(notes: list[list[float]], unit: str, bpm: float, frames: int, frame_rate: float) -> Tensor:
    """Pitch class per frame from notes [[midi_pitch, start, duration], ...]; the highest sounding
    note wins where notes overlap; NO_NOTE where none sounds. [N] long"""
    scale = seconds_per_unit(unit, bpm)
    times = np.arange(frames) / frame_rate
    top = np.full(frames, -1)
    for pitch, start, dur in notes:
        on = (times >= start * scale) & (times < (start + dur) * scale)
        top = np.where(on & (pitch > top), int(pitch), top)
    return torch.tensor(np.where(top >= 0, top % 12, NO_NOTE), dtype=torch.long)


def melody_loss(log_probs: Tensor, target: Tensor) -> Tensor:
    """Mean NLL over frames with a note. log_probs: [B, 12, N]; target: [N] -> [B]"""
    b = log_probs.shape[0]
    tgt = target.to(log_probs.device).expand(b, -1)
    nll = F.nll_loss(log_probs, tgt.clamp(min=0), reduction="none")  # [B, N]
    valid = (tgt != NO_NOTE).float()
    return (nll * valid).sum(-1) / valid.sum(-1).clamp(min=1)


def melody_accuracy(log_probs: Tensor, target: Tensor) -> Tensor:
    """Share of frames with a note whose argmax pitch class is the target's. -> [B]"""
    tgt = target.to(log_probs.device)
    valid = tgt != NO_NOTE
    hit = (log_probs.argmax(1) == tgt) & valid
    return hit.float().sum(-1) / valid.float().sum().clamp(min=1)


def melody_control(target: Tensor, min_db: float, max_db: float, weights: Tensor, weight: float = 1.0) -> Control:
    """The melody control for a pitch-class-per-frame target [N]."""
    def feature(x0: Tensor) -> Tensor:
        return chroma_log_probs(x0, min_db, max_db, weights)

    return Control("melody", lambda x0: melody_loss(feature(x0), target), weight, feature, target)
