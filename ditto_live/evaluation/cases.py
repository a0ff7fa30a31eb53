"""Held-out evaluation cases drawn from a corpus's test split (paper §4.1).

The test split's works are divided in two halves by a hash of the work id: the *reference* half is the
set FAD compares against; the *case* half supplies the cases (melodies, inpainting and outpainting
references, tags and captions) and the real-data reference row, so no case is scored against itself.
Each case is one model window (5.94 s) anchored on one test window: its tags, tempo and caption
condition the generation, and its truth melody or audio gives the target where the task needs one.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ditto_live.engine.train.dataset import load_truth, read_shards, read_windows

log = logging.getLogger(__name__)

TASKS = ("intensity", "melody", "structure", "inpaint", "outpaint", "text")
INTENSITY_SHAPES = ("crescendo", "decrescendo", "swell", "steps")  # the curves of the protocol
FORMS = ("ABA", "AABA", "ABAB")  # the musical forms of the protocol
PAINT_OVERLAP_S = 1.0  # o: seconds of reference kept on each side (inpaint) or carried over (outpaint)
MIN_VOICED = 0.3  # a melody case needs a note in at least this share of frames
MELODY_BASE_PITCH = 60  # pitch classes become MIDI notes in the octave above middle C


@dataclass
class TestSplit:
    """The test windows of a corpus, in row order."""

    meta: list[dict]  # windows.jsonl rows of the split
    mels: Tensor  # [N, 1, F, 512] normalised mels of the model's preset
    audio: Tensor | None  # [N, 512 * hop] float32 waveforms, None when the corpus has no audio shards
    truth: Tensor  # [N, 512] pitch class per frame, -1 = none
    reference_rows: list[int]  # rows of the FAD reference half
    case_rows: list[int]  # rows of the case half


def work_half(work: str) -> int:
    """0 or 1 from a stable hash of the work id."""
    return hashlib.sha1(work.encode()).digest()[0] & 1


def read_split_rows(folder: Path, split: str, key: str, n: int) -> Tensor | None:
    """Rows 0..n-1 of ``key`` from shards ``<split>-<k>.safetensors``, placed by their "row"; None when the
    split has no shards there. -> [n, ...] as stored"""
    try:
        data, rows = read_shards(folder, split, key)
    except FileNotFoundError:
        return None
    out = torch.zeros(n, *data.shape[1:], dtype=data.dtype)
    out[rows] = data
    return out


def load_test_split(root: str | Path, preset: str, front_end: Any = None, split: str = "test") -> TestSplit:
    """Read the split's windows, mels (or compute them from the audio with ``front_end``), audio, truth."""
    root = Path(root)
    meta = sorted((m for m in read_windows(root) if m["split"] == split), key=lambda m: int(m["row"]))
    if not meta:
        raise FileNotFoundError(f"{root}: no {split!r} windows in windows.jsonl")
    n = len(meta)
    audio = read_split_rows(root / "audio", split, "audio", n)
    audio = audio.float() if audio is not None else None
    mels = read_split_rows(root / "mels" / preset, split, "mel", n)
    if mels is None:
        if audio is None or front_end is None:
            raise FileNotFoundError(f"{root}: no {preset} mels and no audio for split {split!r}")
        with torch.no_grad():
            mels = torch.cat([front_end(audio[i:i + 16]).cpu() for i in range(0, n, 16)])[:, 0]
    truth = load_truth(root, split).long()
    halves = [work_half(m["work"]) for m in meta]
    ref = [i for i, h in enumerate(halves) if h == 0]
    cases = [i for i, h in enumerate(halves) if h == 1]
    if not ref or not cases:  # one work only, or every work hashed alike: split the rows instead
        ref, cases = list(range(0, n, 2)), list(range(1, n, 2)) or [0]
    return TestSplit(meta, mels.float().unsqueeze(1), audio, truth, ref, cases)


@dataclass
class Case:
    """One held-out generation request of a task."""

    task: str  # one of TASKS
    index: int  # case number within the task
    row: int  # test-split row it is anchored on
    caption: str  # the window's caption (the CLAP score's text)
    job: dict[str, Any]  # job dict (ditto_live.generation.jobspec language) without method settings
    target: dict[str, Any] = field(default_factory=dict)  # what the report records about the target


def melody_notes(pitch: np.ndarray, frame_rate: float) -> list[list[float]]:
    """Pitch class per frame [N] (-1 none) -> notes [[pitch, start_s, dur_s]] that melody_target maps back
    to exactly these frames (starts a quarter frame early so rounding never drops a frame)."""
    notes: list[list[float]] = []
    i, n = 0, len(pitch)
    while i < n:
        j = i
        while j < n and pitch[j] == pitch[i]:
            j += 1
        if pitch[i] >= 0:
            start = max(0.0, (i - 0.25) / frame_rate)
            notes.append([MELODY_BASE_PITCH + int(pitch[i]), start, (j - 0.25) / frame_rate - start])
        i = j
    return notes


def _job_base(meta: dict, vocab: dict[str, list[str]], seed: int) -> dict[str, Any]:
    """Tags the model knows (tempo follows the bpm), tempo and seed of a window."""
    tags = {k: str(v) for k, v in (meta.get("tags") or {}).items()
            if k != "tempo" and k in vocab and str(v) in vocab[k]}
    return {"bpm": float(min(max(meta.get("bpm", 120.0), 1.0), 400.0)), "seed": seed, "tags": tags}


def write_reference_wav(path: Path, audio: np.ndarray, sample_rate: int) -> Path:
    """A test window's audio as a WAV (the inpaint / outpaint reference goes in by path, as for users)."""
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio.astype(np.float32), sample_rate)
    return path


def make_cases(task: str, split: TestSplit, n: int, vocab: dict[str, list[str]], frame_rate: float,
               sample_rate: int, window_s: float, ref_dir: Path, seed: int = 0) -> list[Case]:
    """``n`` cases of ``task`` from the case half of the test split (deterministic in ``seed``)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r} (one of {', '.join(TASKS)})")
    rows = list(split.case_rows)
    if task == "melody":
        rows = [r for r in rows if float((split.truth[r] >= 0).float().mean()) >= MIN_VOICED] or rows
    if task in ("inpaint", "outpaint") and split.audio is None:
        raise FileNotFoundError("inpainting and outpainting cases need the corpus's audio shards")
    rng = np.random.default_rng([seed, TASKS.index(task)])
    picks = [rows[i] for i in rng.permutation(len(rows))[:n]]
    while len(picks) < n:  # fewer windows than cases: cycle
        picks.append(rows[len(picks) % len(rows)])
    cases = []
    for i, row in enumerate(picks):
        meta = split.meta[row]
        job = _job_base(meta, vocab, seed * 1000 + i)
        if task == "intensity":
            shape = INTENSITY_SHAPES[i % len(INTENSITY_SHAPES)]
            job["controls"], target = [{"type": "intensity", "shape": shape}], {"shape": shape}
        elif task == "melody":
            pitch = split.truth[row].numpy()
            job["controls"] = [{"type": "melody", "notes": melody_notes(pitch, frame_rate), "unit": "seconds"}]
            target = {"work": meta["work"], "voiced": round(float((pitch >= 0).mean()), 3)}
        elif task == "structure":
            form = FORMS[i % len(FORMS)]
            job["controls"], target = [{"type": "structure", "form": form}], {"form": form}
        elif task in ("inpaint", "outpaint"):
            wav = write_reference_wav(ref_dir / f"{task}-{i:03d}-row{row}.wav", split.audio[row].numpy(), sample_rate)
            if task == "inpaint":
                ctl = {"type": "inpaint", "reference": str(wav.resolve()), "start": PAINT_OVERLAP_S,
                       "end": round(window_s - PAINT_OVERLAP_S, 4), "unit": "seconds"}
            else:
                ctl = {"type": "outpaint", "reference": str(wav.resolve()), "overlap": PAINT_OVERLAP_S,
                       "unit": "seconds"}
            job["controls"], target = [ctl], {"work": meta["work"], "overlap_s": PAINT_OVERLAP_S}
        else:  # text
            job["controls"], target = [{"type": "text", "caption": meta["caption"]}], {}
        cases.append(Case(task, i, row, meta.get("caption", ""), job, target))
    return cases
