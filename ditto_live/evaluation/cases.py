"""Held-out evaluation cases drawn from a corpus's test split (paper §4.1).

The test split's works are divided in two halves by a hash of the work id: the *reference* half is the
set FAD compares against; the *case* half supplies the cases (melodies, inpainting and outpainting
references, tags and captions) and the real-data reference row, so no case is scored against itself.
Each case is one model window (5.94 s) anchored on one test window: its tags, tempo and caption
condition the generation, and its truth melody or audio gives the target where the task needs one. A task is
a control kind with an evaluation (``Kind.evaluation`` in ``ditto_live/controls/``): the kind draws its own
case from the window; nothing here names a kind.
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

from ditto_live.controls import KINDS, EvalTask, EvalWindow
from ditto_live.engine.train.dataset import load_truth, read_shards, read_windows

log = logging.getLogger(__name__)



def task_table() -> dict[str, EvalTask]:
    """The evaluated control kinds, in KINDS order (the order seeds each task's case choice)."""
    return {name: kind.evaluation for name, kind in KINDS.items() if kind.evaluation is not None}


@dataclass
class TestSplit:
    """The test windows of a corpus, in row order."""

    meta: list[dict[str, Any]]  # windows.jsonl rows of the split
    mels: Tensor  # [N, 1, F, 512] normalised mels of the model's preset
    audio: Tensor | None  # [N, 512 * hop] float32 waveforms, None when the corpus has no audio shards
    truth: Tensor  # [N, 512] pitch class per frame, -1 = none
    reference_rows: list[int]  # rows of the FAD reference half
    case_rows: list[int]  # rows of the case half
    left_out: list[str] = field(default_factory=list)  # works of the split left out (in an excluded corpus), sorted

    def works(self) -> list[str]:
        """The split's works (after any exclusion), sorted."""
        return sorted({str(m["work"]) for m in self.meta})


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


def corpus_works(root: str | Path) -> frozenset[str]:
    """Every work id in any split of a corpus (its windows.jsonl): all the works a run on that corpus saw."""
    return frozenset(str(m["work"]) for m in read_windows(Path(root)))


def untouched_rows(meta: list[dict[str, Any]], excluded: frozenset[str]) -> list[int]:
    """Indices of the windows whose work is not in ``excluded``, in order."""
    return [i for i, m in enumerate(meta) if str(m["work"]) not in excluded]


def load_test_split(root: str | Path, preset: str, front_end: Any = None, split: str = "test",
                    exclude_works: frozenset[str] = frozenset()) -> TestSplit:
    """Read the split's windows, mels (or compute them from the audio with ``front_end``), audio, truth;
    the windows of works in ``exclude_works`` are left out before the split is halved."""
    root = Path(root)
    meta = sorted((m for m in read_windows(root) if m["split"] == split), key=lambda m: int(m["row"]))
    if not meta:
        raise FileNotFoundError(f"{root}: no {split!r} windows in windows.jsonl")
    n = len(meta)
    keep = untouched_rows(meta, exclude_works)
    if not keep:
        raise ValueError(f"{root}: every {split!r} work is in the excluded corpus")
    audio = read_split_rows(root / "audio", split, "audio", n)
    audio = audio.float() if audio is not None else None
    mels = read_split_rows(root / "mels" / preset, split, "mel", n)
    if mels is None:
        if audio is None or front_end is None:
            raise FileNotFoundError(f"{root}: no {preset} mels and no audio for split {split!r}")
        with torch.no_grad():
            mels = torch.cat([front_end(audio[i:i + 16]).cpu() for i in range(0, n, 16)])[:, 0]
    truth = load_truth(root, split).long()
    left_out = sorted({str(m["work"]) for m in meta} & exclude_works)
    if left_out:  # [n, ...] -> [len(keep), ...]
        meta, mels, truth = [meta[i] for i in keep], mels[keep], truth[keep]
        audio = audio[keep] if audio is not None else None
        n = len(meta)
    halves = [work_half(m["work"]) for m in meta]
    ref = [i for i, h in enumerate(halves) if h == 0]
    cases = [i for i, h in enumerate(halves) if h == 1]
    if not ref or not cases:  # one work only, or every work hashed alike: split the rows instead
        ref, cases = list(range(0, n, 2)), list(range(1, n, 2)) or [0]
    return TestSplit(meta, mels.float().unsqueeze(1), audio, truth, ref, cases, left_out)


@dataclass
class Case:
    """One held-out generation request of a task."""

    task: str  # an evaluated control kind (a key of task_table())
    index: int  # case number within the task
    row: int  # test-split row it is anchored on
    caption: str  # the window's caption (the CLAP score's text)
    job: dict[str, Any]  # job dict (ditto_live.generation.jobspec language) without method settings
    target: dict[str, Any] = field(default_factory=dict)  # what the report records about the target
    work: str = ""  # the work id of the window it is anchored on (intervals resample works)


def _job_base(meta: dict[str, Any], vocab: dict[str, list[str]], seed: int) -> dict[str, Any]:
    """Tags the model knows (tempo follows the bpm), tempo and seed of a window."""
    tags = {k: str(v) for k, v in (meta.get("tags") or {}).items()
            if k != "tempo" and k in vocab and str(v) in vocab[k]}
    return {"bpm": float(min(max(meta.get("bpm", 120.0), 1.0), 400.0)), "seed": seed, "tags": tags}


def _window(split: TestSplit, row: int, index: int, task: str, frame_rate: float, sample_rate: int,
            window_s: float, ref_dir: Path) -> EvalWindow:
    """Test row ``row`` as case ``index`` of ``task`` reads it."""
    audio = None if split.audio is None else split.audio[row].numpy()
    return EvalWindow(index, split.meta[row], split.truth[row].numpy(), audio, frame_rate, sample_rate, window_s,
                      ref_dir / f"{task}-{index:03d}-row{row}.wav")


def make_cases(task: str, split: TestSplit, n: int, vocab: dict[str, list[str]], frame_rate: float,
               sample_rate: int, window_s: float, ref_dir: Path, seed: int = 0) -> list[Case]:
    """``n`` cases of ``task`` from the case half of the test split (deterministic in ``seed``); the task's
    kind draws each case's controls from its window (``EvalTask.case``)."""
    known = task_table()
    if task not in known:
        raise ValueError(f"unknown task {task!r} (one of {', '.join(known)})")
    ev = known[task]
    if ev.needs_audio and split.audio is None:
        raise FileNotFoundError(f"{task} cases need the corpus's audio shards")
    rows = list(split.case_rows)
    if ev.usable is not None:
        usable = ev.usable
        rows = [r for r in rows if usable(_window(split, r, 0, task, frame_rate, sample_rate, window_s, ref_dir))] \
            or rows
    rng = np.random.default_rng([seed, list(known).index(task)])
    picks = [rows[i] for i in rng.permutation(len(rows))[:n]]
    while len(picks) < n:  # fewer windows than cases: cycle
        picks.append(rows[len(picks) % len(rows)])
    cases = []
    for i, row in enumerate(picks):
        meta = split.meta[row]
        job = _job_base(meta, vocab, seed * 1000 + i)
        job["controls"], target = ev.case(_window(split, row, i, task, frame_rate, sample_rate, window_s, ref_dir))
        cases.append(Case(task, i, row, meta.get("caption", ""), job, target, str(meta.get("work", ""))))
    return cases
