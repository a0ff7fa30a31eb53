"""Independent judges of control adherence, on rendered audio (DESIGN §5, "Judges are not losses").

Each judge is a pure function of (audio, sample rate, target) built from tools that no loss of the
engine imitates, so a control cannot grade its own homework:

- melody: librosa's pYIN f0 track, scored with mir_eval's MIREX melody measures (raw pitch accuracy and
  raw chroma accuracy, 50 cents) over the frames where the target sounds;
- intensity: ITU-R BS.1770 momentary loudness (pyloudnorm's K-weighting, 400 ms blocks every 100 ms)
  against the target dB curve: the error once the mean offset is removed (LUFS and RMS dB differ by a
  constant) and the correlation;
- structure: boundaries of a Foote novelty curve on a CQT-chroma self-similarity (harmony, not the
  loss's MFCC timbre) against the target form's boundaries, by mir_eval's hit rate (0.5 s window).

Targets live on the model's frame grid (hop 256 at 22,050 Hz: 86.13 frames/s). The metric keys each
judge returns are listed in ``JUDGE_KEYS``.
"""

from __future__ import annotations

import warnings

import librosa
import mir_eval
import numpy as np
import pyloudnorm
import scipy.ndimage

HOP = 256  # the model's frame hop in samples (targets are given per model frame)
PYIN_FMIN, PYIN_FMAX = 65.41, 2093.0  # C2..C7: wide enough to see a tune two octaves off
PYIN_FRAME = 1024  # pYIN frame length in samples at 22,050 Hz (46 ms, two periods of C2)
PYIN_RESOLUTION = 0.2  # pYIN's pitch grid in semitones (0.1 is ~4x slower; the tolerance is 0.5)
CENT_TOLERANCE = 50.0  # MIREX: an estimate within half a semitone is a hit
MOMENTARY_S, MOMENTARY_STEP = 0.4, 0.75  # BS.1770 momentary block and its overlap (100 ms hop)
CHROMA_HOP = 512  # hop of the CQT chroma of the structure judge
NOVELTY_KERNEL_S = 1.0  # width of Foote's checkerboard kernel in seconds
BOUNDARY_WINDOW_S = 0.5  # mir_eval hit-rate window (seconds either side)

JUDGE_KEYS = {  # control kind -> the metric keys its judge returns
    "melody": ("melody_raw_pitch_accuracy", "melody_raw_chroma_accuracy", "melody_voicing_recall"),
    "intensity": ("intensity_loudness_mae_db", "intensity_loudness_corr"),
    "structure": ("structure_boundary_f",),
}


def midi_to_hz(midi: np.ndarray) -> np.ndarray:
    """MIDI pitch -> Hz; -1 (no note) -> 0 Hz (mir_eval's unvoiced)."""
    midi = np.asarray(midi, dtype=np.float64)
    return np.where(midi >= 0, 440.0 * 2.0 ** ((midi - 69.0) / 12.0), 0.0)


def frame_times(n: int, sample_rate: int, hop: int = HOP) -> np.ndarray:
    """Centre time in seconds of each of ``n`` frames on a hop grid (librosa's centred frames). [n]"""
    return np.arange(n) * hop / sample_rate


# ---------------------------------------------------------------- melody


def pyin_track(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pYIN f0 of a mono clip. -> (times [T] s, f0 [T] Hz, best guess also where unvoiced; voiced [T] bool)"""
    frame = int(round(PYIN_FRAME * sample_rate / 22050))
    hop = int(round(HOP * sample_rate / 22050))
    f0, voiced, _ = librosa.pyin(np.asarray(audio, dtype=np.float32), fmin=PYIN_FMIN, fmax=PYIN_FMAX,
                                 sr=sample_rate, frame_length=frame, hop_length=hop,
                                 resolution=PYIN_RESOLUTION, fill_na=None)
    return frame_times(len(f0), sample_rate, hop), f0, voiced


def melody_scores(ref_times: np.ndarray, ref_hz: np.ndarray, est_times: np.ndarray, est_hz: np.ndarray,
                  est_voiced: np.ndarray) -> dict[str, float]:
    """mir_eval's raw pitch / raw chroma accuracy and voicing recall of an f0 track against a reference.

    ref_hz: 0 where no note sounds; est_hz: the tracker's best guess on every frame (MIREX convention:
    a pitch is scored on every reference-voiced frame, whether or not the tracker calls it voiced)."""
    est_signed = np.where(est_voiced, est_hz, -np.abs(est_hz))  # negative = unvoiced with a pitch guess
    ref_v, ref_c, est_v, est_c = mir_eval.melody.to_cent_voicing(ref_times, ref_hz, est_times, est_signed)
    if not np.any(ref_v):
        raise ValueError("target melody has no voiced frame")
    return {"melody_raw_pitch_accuracy": float(mir_eval.melody.raw_pitch_accuracy(ref_v, ref_c, est_v, est_c,
                                                                                  CENT_TOLERANCE)),
            "melody_raw_chroma_accuracy": float(mir_eval.melody.raw_chroma_accuracy(ref_v, ref_c, est_v, est_c,
                                                                                    CENT_TOLERANCE)),
            "melody_voicing_recall": float(np.sum(ref_v * est_v) / np.sum(ref_v))}


def judge_melody(audio: np.ndarray, sample_rate: int, target_midi: np.ndarray, hop: int = HOP) -> dict[str, float]:
    """pYIN + mir_eval against a MIDI pitch per model frame (-1 = none). target_midi: [N]"""
    target_midi = np.asarray(target_midi)
    est_times, est_hz, est_voiced = pyin_track(audio, sample_rate)
    ref_times = frame_times(len(target_midi), sample_rate, hop)
    return melody_scores(ref_times, midi_to_hz(target_midi), est_times, est_hz, est_voiced)


# ---------------------------------------------------------------- intensity


def momentary_loudness(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """BS.1770 momentary loudness (K-weighted mean square over 400 ms blocks, 100 ms apart).
    -> (block centre times [J] s, LUFS [J]; -inf for digital silence)"""
    meter = pyloudnorm.Meter(sample_rate, block_size=MOMENTARY_S, overlap=MOMENTARY_STEP)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        meter.integrated_loudness(np.asarray(audio, dtype=np.float64))
    lufs = np.asarray(meter.blockwise_loudness, dtype=np.float64)
    times = np.arange(len(lufs)) * MOMENTARY_S * (1 - MOMENTARY_STEP) + MOMENTARY_S / 2
    return times, lufs


def loudness_scores(measured: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Offset-free mean absolute error (dB) and Pearson correlation of two curves on one grid. [J], [J]"""
    measured = np.maximum(measured, -70.0)  # BS.1770's absolute gate as the floor of silence
    diff = measured - target
    mae = float(np.mean(np.abs(diff - diff.mean())))
    if np.std(measured) < 1e-9 or np.std(target) < 1e-9:
        corr = float("nan")
    else:
        corr = float(np.corrcoef(measured, target)[0, 1])
    return {"intensity_loudness_mae_db": mae, "intensity_loudness_corr": corr}


def judge_intensity(audio: np.ndarray, sample_rate: int, target_db: np.ndarray, hop: int = HOP) -> dict[str, float]:
    """Momentary loudness against a target dB curve per model frame. target_db: [N]"""
    target_db = np.asarray(target_db, dtype=np.float64)
    times, lufs = momentary_loudness(audio, sample_rate)
    target = np.interp(times, frame_times(len(target_db), sample_rate, hop), target_db)
    return loudness_scores(lufs, target)


# ---------------------------------------------------------------- structure


def boundaries_of_labels(labels: np.ndarray, sample_rate: int, hop: int = HOP) -> np.ndarray:
    """Times (s) where a per-frame section label changes. labels: [N] -> [k]"""
    labels = np.asarray(labels)
    change = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    return change * hop / sample_rate


def chroma_novelty(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Foote novelty of a CQT-chroma self-similarity matrix. -> (frame times [T] s, novelty [T] >= 0)"""
    with warnings.catch_warnings():  # the CQT's lowest octaves of a short clip are shorter than their FFT
        warnings.filterwarnings("ignore", message="n_fft=.* is too large")
        chroma = librosa.feature.chroma_cqt(y=np.asarray(audio, dtype=np.float32), sr=sample_rate,
                                            hop_length=CHROMA_HOP)  # [12, T]
    chroma = scipy.ndimage.median_filter(chroma, size=(1, 5))  # steady harmony, not single notes
    unit = chroma / (np.linalg.norm(chroma, axis=0, keepdims=True) + 1e-8)
    ssm = unit.T @ unit  # [T, T]
    half = max(2, int(round(NOVELTY_KERNEL_S / 2 * sample_rate / CHROMA_HOP)))
    grid = np.arange(-half, half) + 0.5
    taper = np.exp(-0.5 * (grid / (0.5 * half)) ** 2)
    kernel = np.outer(np.sign(grid), np.sign(grid)) * np.outer(taper, taper)  # [2h, 2h] checkerboard
    padded = np.pad(ssm, half, mode="edge")
    n = ssm.shape[0]
    novelty = np.array([np.sum(kernel * padded[i:i + 2 * half, i:i + 2 * half]) for i in range(n)])
    novelty[:half] = novelty[n - half:] = 0.0  # where the kernel reaches past the clip, the padding speaks
    return frame_times(n, sample_rate, CHROMA_HOP), np.maximum(novelty, 0.0)


def pick_boundaries(times: np.ndarray, novelty: np.ndarray, k: int, min_gap_s: float) -> np.ndarray:
    """The ``k`` highest novelty peaks at least ``min_gap_s`` apart (the oracle segment count). -> [<=k] s"""
    chosen: list[float] = []
    for i in np.argsort(novelty)[::-1]:
        if len(chosen) == k:
            break
        if novelty[i] > 0 and all(abs(times[i] - c) >= min_gap_s for c in chosen):
            chosen.append(float(times[i]))
    return np.sort(np.asarray(chosen))


def intervals(boundaries: np.ndarray, duration: float) -> np.ndarray:
    """Segment intervals [[start, end], ...] from inner boundaries over [0, duration]. -> [k + 1, 2]"""
    edges = np.concatenate([[0.0], np.asarray(boundaries, dtype=np.float64), [duration]])
    return np.stack([edges[:-1], edges[1:]], axis=1)


def boundary_f(ref: np.ndarray, est: np.ndarray, duration: float, window: float = BOUNDARY_WINDOW_S) -> float:
    """mir_eval's boundary hit-rate F-measure between inner boundaries (start and end are not scored)."""
    if len(ref) == 0:
        raise ValueError("the target form has a single section: no boundary to find")
    if len(est) == 0:
        return 0.0
    _, _, f = mir_eval.segment.detection(intervals(ref, duration), intervals(est, duration), window=window,
                                         trim=True)
    return float(f)


def judge_structure(audio: np.ndarray, sample_rate: int, target_labels: np.ndarray,
                    hop: int = HOP) -> dict[str, float]:
    """Chroma-novelty boundaries against a form's section labels per model frame. target_labels: [N]"""
    duration = len(audio) / sample_rate
    ref = boundaries_of_labels(target_labels, sample_rate, hop)
    times, novelty = chroma_novelty(audio, sample_rate)
    min_gap = 0.5 * duration / (len(ref) + 1)
    est = pick_boundaries(times, novelty, len(ref), min_gap)
    return {"structure_boundary_f": boundary_f(ref, est, duration)}
