"""Melody control (paper §4.1): 12-bin chroma from the mel, log-softmax per frame, NLL on pitch classes;
and, beyond the paper, a register term that puts the tune in the octave it is written in.

Each mel band above ~261 Hz is spread over the pitch classes its triangle covers (the triangle is
sampled densely in Hz and each sample votes for its nearest pitch class), so a band wider than a
semitone splits its energy instead of snapping to one class. Frames without a note are ignored.

Why a register term (DESIGN §5): 80 Slaney mels at 22,050 Hz are ~41 Hz wide below 1 kHz, wider than a
semitone below ~700 Hz, so octave-free chroma is met by moving the tune one or two octaves up where the
bands resolve semitones (pYIN finds the default model's tunes +24 semitones off). The register term
(``register_loss``) adds two NLLs per frame with a note, both on the written MIDI pitch p:

- harmonic contrast over the pitches p-24..p+24: S(q) = sum_h 0.8^(h-1) [L(h f_q) - L((h - 1/2) f_q)],
  L the log power read between band centres. A tune an octave up leaves p's odd harmonics empty, one
  an octave down fills the points half-way between p's harmonics, a neighbouring pitch misses the upper
  harmonics, where the bands are narrow;
- octave energy over p-24, p-12, p, p+12, p+24: the power of the octave around each candidate. Without
  it the contrast is met by a faint fundamental under a loud fourth harmonic, which pitch trackers hear
  two octaves up.

Chosen by measurement (scripts/experiments/melody_register_experiment.py, docs/results.md; pYIN + mir_eval):
chroma alone put the tunes 12-24 semitones up (raw pitch 3 %); the octave-only contrast +12; the octave
energy fixed the octave but left pitch errors (a harmonic standing in for the pitch class); the contrast
over every nearby pitch fixed both (raw pitch 89 % at weight 1). The register weight beside the chroma
NLL: 0.5 gave 95 % over 12 clips, 0.25 and 0.1 matched it on three tunes, 2 was worse; 0.5 keeps a
margin on the octave.

Why an audible-pitch term: a mel band is about a semitone wide or wider, so the register term is never
sure of a note (its NLL stays near 0.9 at the written pitch of a clean tone) and a pitch tracker can hear
another note where both terms above are nearly met. With a neural vocoder the clip's spectrum is known
before it is rendered: ``audible_pitch_loss`` reads the same harmonic contrast on the vocoder's predicted
spectrum (linear STFT bins, 21.5 Hz at 22,050 Hz / 1024, far finer than the mel above ~500 Hz) and adds its
NLL of the written pitch against p-24..p+24: near 0 at the written pitch, above 2 past 0.6 semitone off.
Measured on the eval's test split (16 cases; docs/results.md): pYIN raw chroma 80.9 -> 86.2 %, raw pitch
78.4 -> 85.4 %.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import librosa
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ditto_live.engine.audio import norm_to_db
from ditto_live.engine.controls.combine import Control, Sketch, SketchFn
from ditto_live.engine.controls.intensity import seconds_per_unit

NO_NOTE = -1  # target value of a frame where no note sounds
REGISTER_HARMONICS = 6  # harmonics h f summed by the register salience
HARMONIC_DECAY = 0.8  # weight of harmonic h: decay ** (h - 1)
OCTAVE_OFFSETS = (-24, -12, 0, 12, 24)  # octave candidates of the written pitch, in semitones
CONTRAST_SPAN = 24  # the harmonic contrast compares the written pitch with every pitch this many semitones around
REGISTER_FLOOR_DB = 60.0  # levels more than this below a frame's peak count as silence (no exploit of the floor)
REGISTER_WEIGHT = 0.5  # weight of the register NLLs beside the chroma NLL (measured: 0.1-0.5 alike, 1-2 worse)
AUDIBLE_WEIGHT = 0.5  # weight of the audible-pitch NLL (the vocoder's spectrum) beside the chroma NLL


def db_to_power(db: Tensor) -> Tensor:
    """10^(dB / 10) as one exp (torch's scalar ** tensor is ~20x slower on a CPU). Same shape."""
    return torch.exp(db * (math.log(10.0) / 10.0))


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
    power = db_to_power(norm_to_db(x0.float(), min_db, max_db))[:, 0]  # [B, F, N]
    chroma = torch.einsum("fc,bfn->bcn", weights.to(x0.device), power)  # [B, 12, N]
    return F.log_softmax(torch.log(chroma + 1e-10) / temperature, dim=1)


def melody_pitches(notes: list[list[float]], unit: str, bpm: float, frames: int, frame_rate: float) -> Tensor:
    """MIDI pitch per frame from notes [[midi_pitch, start, duration], ...]; the highest sounding note
    wins where notes overlap; NO_NOTE where none sounds. [N] long"""
    scale = seconds_per_unit(unit, bpm)
    times = np.arange(frames) / frame_rate
    top = np.full(frames, NO_NOTE)
    for pitch, start, dur in notes:
        on = (times >= start * scale) & (times < (start + dur) * scale)
        top = np.where(on & (pitch > top), int(pitch), top)
    return torch.tensor(top, dtype=torch.long)


def pitch_classes(pitch: Tensor) -> Tensor:
    """MIDI pitch (or pitch class) per frame -> pitch class per frame, NO_NOTE kept. [N] -> [N]"""
    return torch.where(pitch >= 0, pitch % 12, torch.full_like(pitch, NO_NOTE))


def melody_target(notes: list[list[float]], unit: str, bpm: float, frames: int, frame_rate: float,
                  keep_octave: bool = False) -> Tensor:
    """Pitch class per frame (MIDI pitch with ``keep_octave``, for the register term) from notes
    [[midi_pitch, start, duration], ...]; the highest sounding note wins; NO_NOTE where none sounds. [N] long"""
    pitch = melody_pitches(notes, unit, bpm, frames, frame_rate)
    return pitch if keep_octave else pitch_classes(pitch)


def melody_loss(log_probs: Tensor, target: Tensor) -> Tensor:
    """Mean NLL over frames with a note. log_probs: [B, C, N]; target: [N] class per frame -> [B]"""
    b = log_probs.shape[0]
    tgt = target.to(log_probs.device).expand(b, -1)
    nll = F.nll_loss(log_probs, tgt.clamp(min=0), reduction="none")  # [B, N]
    valid = (tgt != NO_NOTE).float()
    return (nll * valid).sum(-1) / valid.sum(-1).clamp(min=1)


def melody_accuracy(log_probs: Tensor, target: Tensor) -> Tensor:
    """Share of frames with a note whose argmax pitch class is the target's (pitch class or MIDI). -> [B]"""
    tgt = pitch_classes(target.to(log_probs.device))
    valid = tgt != NO_NOTE
    hit = (log_probs.argmax(1) == tgt) & valid
    return hit.float().sum(-1) / valid.float().sum().clamp(min=1)


def _band_interpolation(n_mels: int, fmin: float, fmax: float, hz: float) -> np.ndarray:
    """Weights over bands that read the mel's log power at ``hz`` by linear interpolation between band
    centres in mel units (zero beyond the last band). -> [F]"""
    centres = librosa.hz_to_mel(librosa.mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax)[1:-1])
    out = np.zeros(n_mels)
    m = float(librosa.hz_to_mel(hz))
    if m < centres[0] or m > centres[-1]:
        return out
    i = int(np.clip(np.searchsorted(centres, m) - 1, 0, n_mels - 2))
    a = (m - centres[i]) / (centres[i + 1] - centres[i])
    out[i], out[i + 1] = 1.0 - a, a
    return out


def _bin_interpolation(n_fft: int, sample_rate: float, hz: float) -> np.ndarray:
    """Weights over the linear STFT bins that read log power at ``hz`` between bin centres. -> [n_fft/2 + 1]"""
    out = np.zeros(n_fft // 2 + 1)
    b = hz * n_fft / sample_rate
    i = int(b)
    if i + 1 < len(out):
        out[i], out[i + 1] = 1.0 - (b - i), b - i
    return out


def _contrast(read: Callable[[float], np.ndarray], top_hz: float, bins: int, harmonics: int,
              decay: float) -> Tensor:
    """S(p) = sum_h decay^(h-1) [L(h f_p) - L((h - 1/2) f_p)] for every MIDI pitch p as a linear map of log
    power per bin, ``read(hz)`` the bin weights at a frequency; harmonics at or above ``top_hz`` left out.
    -> [128, bins]"""
    out = np.zeros((128, bins))
    for p in range(128):
        f = 440.0 * 2.0 ** ((p - 69) / 12.0)
        for h in range(1, harmonics + 1):
            if h * f >= top_hz:
                break
            out[p] += decay ** (h - 1) * (read(h * f) - read((h - 0.5) * f))
    return torch.tensor(out, dtype=torch.float32)


def harmonic_contrast_weights(n_mels: int, fmin: float, fmax: float, harmonics: int = REGISTER_HARMONICS,
                              decay: float = HARMONIC_DECAY) -> Tensor:
    """Harmonic-contrast salience of every MIDI pitch as a linear map of per-band log power (mel bands read
    between their centres); harmonics at or above the last band left out. -> [128, F]"""
    top = librosa.mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax)[-2]
    return _contrast(lambda hz: _band_interpolation(n_mels, fmin, fmax, hz), top, n_mels, harmonics, decay)


def spectrum_contrast_weights(n_fft: int, sample_rate: float, harmonics: int = REGISTER_HARMONICS,
                              decay: float = HARMONIC_DECAY) -> Tensor:
    """The same salience on a linear STFT's bins (the vocoder's spectrum). -> [128, n_fft/2 + 1]"""
    top = sample_rate / 2.0 - sample_rate / n_fft
    return _contrast(lambda hz: _bin_interpolation(n_fft, sample_rate, hz), top, n_fft // 2 + 1, harmonics, decay)


def octave_band_weights(n_mels: int, fmin: float, fmax: float) -> Tensor:
    """Power of the octave centred on every MIDI pitch (f / sqrt 2 .. f sqrt 2) as a linear map of per-band
    power: each band whose centre falls inside, weighted by its width (so sum ~ the octave's power). -> [128, F]"""
    edges = librosa.mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax)
    centres, width = edges[1:-1], (edges[2:] - edges[:-2]) / 2.0
    out = np.zeros((128, n_mels))
    for p in range(128):
        f = 440.0 * 2.0 ** ((p - 69) / 12.0)
        inside = (centres >= f / np.sqrt(2.0)) & (centres < f * np.sqrt(2.0))
        out[p] = np.where(inside, width, 0.0)
    return torch.tensor(out, dtype=torch.float32)


@dataclass(frozen=True)
class RegisterWeights:
    """The register term's two linear maps from mel bands to MIDI pitches (``register_weights``)."""

    contrast: Tensor  # [128, F] harmonic contrast of log power: the harmonic series of f is there
    octave: Tensor  # [128, F] power of the octave around f: the fundamental's octave holds the energy
    contrast_offsets: tuple[int, ...] = OCTAVE_OFFSETS  # candidates the contrast compares, semitones from the written


def contrast_offsets(span: int = CONTRAST_SPAN) -> tuple[int, ...]:
    """Candidates the harmonic contrast compares with the written pitch: every pitch within ``span``
    semitones (0: its octaves only), as offsets in semitones."""
    return tuple(range(-span, span + 1)) if span > 0 else OCTAVE_OFFSETS


def register_weights(n_mels: int, fmin: float, fmax: float, contrast_span: int = CONTRAST_SPAN) -> RegisterWeights:
    """Both maps of the register term for a mel front end; ``contrast_span`` 0 compares octaves only."""
    offsets = contrast_offsets(contrast_span)
    return RegisterWeights(harmonic_contrast_weights(n_mels, fmin, fmax), octave_band_weights(n_mels, fmin, fmax),
                           offsets)


def contrast_salience(bels: Tensor, contrast: Tensor, floor_db: float = REGISTER_FLOOR_DB) -> Tensor:
    """Harmonic-contrast salience of every MIDI pitch per frame from log power per bin (bels); levels more
    than ``floor_db`` below the frame's peak are floored. bels: [B, K, N]; contrast: [128, K] -> [B, 128, N]"""
    floor = bels.detach().amax(1, keepdim=True) - floor_db / 10.0
    return torch.einsum("pk,bkn->bpn", contrast.to(bels.device), torch.maximum(bels, floor))


def pitch_salience(x0: Tensor, min_db: float, max_db: float, contrast: Tensor,
                   floor_db: float = REGISTER_FLOOR_DB) -> Tensor:
    """Harmonic-contrast salience of every MIDI pitch per frame on the mel, in bels (dB / 10).
    x0: [B, 1, F, N]; contrast: [128, F] -> [B, 128, N]"""
    db = norm_to_db(x0.float(), min_db, max_db)[:, 0]  # [B, F, N]
    return contrast_salience(db / 10.0, contrast, floor_db)


def octave_energy(x0: Tensor, min_db: float, max_db: float, octave: Tensor) -> Tensor:
    """Log power (bels) of the octave around every MIDI pitch per frame. x0: [B, 1, F, N] -> [B, 128, N]"""
    power = db_to_power(norm_to_db(x0.float(), min_db, max_db)[:, 0])  # [B, F, N]
    return torch.log10(torch.einsum("pf,bfn->bpn", octave.to(x0.device), power) + 1e-10)


def pitch_candidates(target: Tensor, offsets: tuple[int, ...]) -> tuple[Tensor, Tensor]:
    """MIDI pitch of each candidate (written pitch + offset semitones) per frame and whether it is a valid
    pitch. target: [N] MIDI (NO_NOTE allowed) -> ([S, N] long clamped to 0..127, [S, N] bool); S = len(offsets)"""
    shifts = torch.tensor(offsets, device=target.device)[:, None]
    cand = target[None] + shifts
    valid = (cand >= 0) & (cand < 128) & (target[None] >= 0)
    return cand.clamp(0, 127), valid


def register_log_probs(sal: Tensor, target: Tensor, offsets: tuple[int, ...]) -> Tensor:
    """Log-softmax over the candidates around the written pitch. sal: [B, 128, N]; target: [N] MIDI
    -> [B, S, N] (invalid candidates at -inf; frames without a note are uniform)"""
    cand, valid = pitch_candidates(target.to(sal.device), offsets)
    picked = torch.gather(sal, 1, cand[None].expand(sal.shape[0], -1, -1))  # [B, S, N]
    picked = picked.masked_fill(~valid[None], float("-inf"))
    picked = torch.where(valid.any(0)[None, None], picked, torch.zeros_like(picked))  # no note: no -inf row
    return F.log_softmax(picked, dim=1)


def register_target(target: Tensor, offsets: tuple[int, ...]) -> Tensor:
    """Index of the written pitch (offset 0) among the candidates, NO_NOTE where none sounds. [N] -> [N]"""
    written = torch.full_like(target, offsets.index(0))
    return torch.where(target >= 0, written, torch.full_like(target, NO_NOTE))


def register_loss(x0: Tensor, target: Tensor, min_db: float, max_db: float, weights: RegisterWeights) -> Tensor:
    """NLL of the written pitch against its neighbours by harmonic contrast, plus NLL of the written octave
    against the others by octave energy. x0: [B, 1, F, N]; target: [N] MIDI -> [B]"""
    near, octaves = weights.contrast_offsets, OCTAVE_OFFSETS
    harmonic = register_log_probs(pitch_salience(x0, min_db, max_db, weights.contrast), target, near)
    energy = register_log_probs(octave_energy(x0, min_db, max_db, weights.octave), target, octaves)
    return melody_loss(harmonic, register_target(target, near)) + melody_loss(energy, register_target(target, octaves))


@dataclass(frozen=True)
class AudiblePitch:
    """What the audible-pitch term reads: the spectrum the vocoder will synthesise, and its contrast map."""

    log_power: Callable[[Tensor], Tensor]  # x0 [B, 1, F, N] -> log10 power [B, K, N] (Vocoder.log_power)
    contrast: Tensor  # [128, K] spectrum_contrast_weights(n_fft, sample_rate) of that vocoder


def audible_pitch_loss(x0: Tensor, target: Tensor, audible: AudiblePitch) -> Tensor:
    """NLL of the written pitch against p-24..p+24 by harmonic contrast on the vocoder's spectrum.
    x0: [B, 1, F, N]; target: [N] MIDI -> [B]"""
    offsets = contrast_offsets()
    sal = contrast_salience(audible.log_power(x0).float(), audible.contrast)
    return melody_loss(register_log_probs(sal, target, offsets), register_target(target, offsets))


SKETCH_HARMONICS = 8  # harmonics of the rendered notes' tone
SKETCH_DECAY = 0.6  # amplitude of harmonic h: decay ** (h - 1)
SKETCH_ATTACK_S = 0.01  # linear rise at each note start
SKETCH_RELEASE_S = 1.2  # exponential decay constant of a held note
SKETCH_PEAK = 0.3  # peak amplitude of the rendering


def render_notes(target: Tensor, sample_rate: int, hop: int) -> Tensor:
    """The written notes as a plain harmonic tone, for a warm start of the optimisation (the sketch the
    initial noise is inverted from). Phase-continuous partials at the written pitch, a short attack at
    each note start and an exponential decay; silence where no note sounds.
    target: [N] MIDI pitch per frame (-1 none) -> audio [N * hop] in [-1, 1]"""
    target = target.long().cpu()
    voiced = target >= 0
    f0 = torch.where(voiced, 440.0 * 2.0 ** ((target.double() - 69) / 12), torch.zeros((), dtype=torch.float64))
    starts = voiced & torch.cat([torch.ones(1, dtype=torch.bool), target[1:] != target[:-1]])
    frame = torch.arange(len(target))
    last_start = torch.cummax(torch.where(starts, frame, torch.full_like(frame, -10**9)), 0).values
    since = ((frame - last_start).double() * hop).repeat_interleave(hop) + torch.arange(hop).repeat(len(target))
    since = since / sample_rate  # seconds since the sounding note began, per sample
    envelope = torch.clamp(since / SKETCH_ATTACK_S, max=1.0) * torch.exp(-since / SKETCH_RELEASE_S)
    f0_s = f0.repeat_interleave(hop)
    phase = 2 * math.pi * torch.cumsum(f0_s, 0) / sample_rate
    tone = torch.zeros_like(phase)
    for h in range(1, SKETCH_HARMONICS + 1):
        audible = (f0_s * h < sample_rate / 2 - 500).double()  # no partial folds back over Nyquist
        tone += SKETCH_DECAY ** (h - 1) * torch.sin(h * phase) * audible
    tone = tone * envelope * voiced.repeat_interleave(hop)
    return (SKETCH_PEAK * tone / tone.abs().max().clamp_min(1e-6)).float()


def melody_control(target: Tensor, min_db: float, max_db: float, weights: Tensor, weight: float = 1.0,
                   register: RegisterWeights | None = None, register_weight: float = REGISTER_WEIGHT,
                   audible: AudiblePitch | None = None, audible_weight: float = AUDIBLE_WEIGHT,
                   sketch: Tensor | None = None, sketch_share: float = 0.0) -> Control:
    """The melody control for a target per frame [N]: pitch classes (octave-free chroma, the paper's
    control) or MIDI pitches. ``register`` (``register_weights(n_mels, fmin, fmax)``) turns the register
    term on, ``audible`` the audible-pitch term; both need MIDI pitches
    (``melody_target(..., keep_octave=True)``). ``sketch``: the notes rendered to a mel [1, 1, F, N], where
    DITTO-2 may start (``render_notes``), holding ``sketch_share`` of the start's variance."""
    if (register is not None or audible is not None) and bool(((target >= 0) & (target < 12)).any()):
        raise ValueError("the register and audible-pitch terms need MIDI pitches per frame "
                         "(melody_target(..., keep_octave=True)), not pitch classes")
    classes = pitch_classes(target)

    def feature(x0: Tensor) -> Tensor:
        return chroma_log_probs(x0, min_db, max_db, weights)

    def loss(x0: Tensor) -> Tensor:
        total = melody_loss(feature(x0), classes)
        if register is not None:
            total = total + register_weight * register_loss(x0, target, min_db, max_db, register)
        if audible is not None:
            total = total + audible_weight * audible_pitch_loss(x0, target, audible)
        return total

    start = Sketch(notes_sketch(sketch), sketch_share) if sketch is not None and sketch_share > 0 else None
    return Control("melody", loss, weight, feature, classes, start)


def notes_sketch(notes: Tensor) -> SketchFn:
    """A melody's sketch: the rendered notes' mel [1, 1, F, n] in place of the output (the notes carry the
    pitch the loss asks for), silent past them. -> x0 [1, 1, F, N] -> [1, 1, F, N]"""
    def sketch(x0: Tensor) -> Tensor:
        return F.pad(notes.to(x0), (0, x0.shape[-1] - notes.shape[-1]), value=-1.0)

    return sketch
