"""The evaluation's judges that run in the judges' interpreter (issue 31): sound quality by FD / KID in
musicnn's embedding (``ditto_live/judges/quality.py``) per row, and the melody rows' note F by basic-pitch
(``ditto_live/judges/notes.py``), both on the clips the evaluation wrote (DIR/clips, every clip).

They run when asked (``ditto-live eval`` asks unless ``--no-quality`` / ``--no-notes``) and when the
interpreter made by ``scripts/setup_judges.sh`` is there; otherwise the run says why in one line, records
``quality: null`` (or ``note_judge: null``) with the reason, and goes on: no number is made up.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ditto_live.evaluation.cases import Case, TestSplit
from ditto_live.evaluation.runner import Generation
from ditto_live.judges.notes import (
    NOTE_COLUMNS,
    BasicPitch,
    Notes,
    Transcriber,
    basic_pitch_missing,
    note_scores,
)
from ditto_live.judges.quality import (
    Bootstrap,
    Embedding,
    MusicnnEmbedding,
    SetScore,
    fit_length,
    judge_sets,
    judges_python,
    musicnn_missing,
)

log = logging.getLogger(__name__)

CLIPS = "clips"  # the output folder's subfolder of every clip's WAV, written when a judge here runs
EXTERNAL_COLUMNS: dict[str, tuple[tuple[str, str, float], ...]] = {"melody": NOTE_COLUMNS}  # task -> report columns


@dataclass(frozen=True)
class ExternalJudges:
    """The judges a run asks of the judges' interpreter: each one, or why it does not run."""

    quality: Embedding | None = None  # musicnn's embedding for every row's FD / KID (None: not run)
    notes: Transcriber | None = None  # the melody rows' transcriber (None: not run)
    quality_skipped: str | None = None  # why the quality judge does not run (None: it runs)
    notes_skipped: str | None = None  # why the note judge does not run (None: it runs)

    @property
    def any(self) -> bool:
        """Whether a judge here runs (so every clip's WAV is written for it)."""
        return self.quality is not None or self.notes is not None


def find_judges(quality: bool, notes: bool, threads: int = 1) -> ExternalJudges:
    """The judges asked for, from the judges' interpreter (``quality.judges_python()``); each one that
    cannot run is logged in one line saying how to make it."""
    python = judges_python()
    q_why = "not asked (--no-quality)" if not quality else musicnn_missing(python)
    n_why = "not asked (--no-notes)" if not notes else basic_pitch_missing(python)
    for judge, why, asked in (("sound-quality judge (musicnn FD / KID)", q_why, quality),
                              ("note-level melody judge (basic-pitch)", n_why, notes)):
        if asked and why:
            log.warning("%s not run: %s", judge, why)
    return ExternalJudges(MusicnnEmbedding(python, threads=threads) if q_why is None else None,
                          BasicPitch(python, threads=threads) if n_why is None else None, q_why, n_why)


@dataclass(frozen=True)
class QualityFigures:
    """Every row's FD / KID to the reference in the quality judge's embedding."""

    judge: str  # the embedding (model and layer)
    reference: str  # what the reference set is
    rows: dict[str, SetScore]  # row_key -> its distances with intervals resampling the cases' works

    def to_dict(self) -> dict[str, Any]:
        return {"judge": self.judge, "reference": self.reference,
                "intervals": "95 % percentile bootstrap over the row's works (the reference fixed)",
                "note": "FD depends on a row's clip count: compare rows of equal n only; KID does not",
                "rows": {k: s.to_dict() for k, s in self.rows.items()}}


@dataclass
class Judged:
    """What the external judges gave a run, or why they gave nothing."""

    quality: QualityFigures | None = None  # None: not run (quality_skipped says why)
    quality_skipped: str | None = None  # why not, when asked
    note_judge: str | None = None  # the transcriber whose figures the melody rows carry (None: not run)
    notes_skipped: str | None = None  # why not, when asked
    note_clips: int = 0  # melody clips transcribed
    extra: dict[str, Any] = field(default_factory=dict)  # seconds each judge took

    def to_dict(self) -> dict[str, Any]:
        notes = None if self.note_judge is None else {
            "transcriber": self.note_judge, "clips": self.note_clips, "keys": {
                "melody_note_f": "mir_eval note F on pitch (50 cents) and onset (50 ms), offsets ignored",
                "melody_note_chroma_f": "the same on pitch classes (octave folded)",
                "melody_onset_f": "mir_eval onset F (50 ms), pitch ignored"}}
        return {"quality": None if self.quality is None else self.quality.to_dict(),
                "quality_skipped": self.quality_skipped, "note_judge": notes, "note_judge_skipped": self.notes_skipped,
                **self.extra}


def row_key(task: str, label: str, T: int) -> str:
    """The name of a (task, setting, T) row in the judges' figures."""
    return f"{task}: {label}, T={T}"


def clip_path(folder: Path, g: Generation) -> Path:
    """Where a clip's WAV goes: <task>-<case>-<setting>-T<T>.wav with the setting's spaces and brackets
    dropped (what scripts/quality_judge.py --eval-dir reads back)."""
    name = f"{g.task}-{g.case:03d}-{g.setting}-T{g.T}".replace(" ", "_").replace("(", "").replace(")", "")
    return folder / f"{''.join(ch for ch in name if ch.isalnum() or ch in '-_=.,')}.wav"


def read_clip(path: Path, sample_rate: int) -> np.ndarray:
    """A mono clip at ``sample_rate``. -> [samples] float32"""
    import soundfile as sf

    audio, rate = sf.read(str(path), dtype="float32")
    if rate != sample_rate:
        raise ValueError(f"{path}: {rate} Hz, expected {sample_rate} Hz")
    return audio if audio.ndim == 1 else audio.mean(axis=1)


def written_notes(case: Case) -> Notes | None:
    """The notes a case's job writes (a control's ``notes`` in seconds: a melody's); None when it writes none."""
    for control in case.job.get("controls", []):
        if "notes" in control and control.get("unit") == "seconds":
            return Notes.of(control["notes"])
    return None


def judge_quality(emb: Embedding, gens: Sequence[Generation], works: Mapping[tuple[str, int], str],
                  reference: np.ndarray, folder: Path, sample_rate: int, seed: int = 0) -> dict[str, SetScore]:
    """Every row's clips (read from ``folder``) against ``reference`` [m, samples]; a row's interval
    resamples the works its cases come from (``works``: (task, case) -> work)."""
    clips: dict[str, list[np.ndarray]] = {}
    groups: dict[str, list[str]] = {}
    for g in gens:
        key = row_key(g.task, g.setting, g.T)
        clips.setdefault(key, []).append(read_clip(clip_path(folder, g), sample_rate))
        groups.setdefault(key, []).append(works[(g.task, g.case)])
    samples = reference.shape[1]
    sets = {k: np.concatenate([fit_length(c[None], samples) for c in v]) for k, v in clips.items()}
    return judge_sets(emb, sets, groups, reference, sample_rate, Bootstrap(seed=seed))


def judge_notes(tr: Transcriber, gens: Sequence[Generation], targets: Mapping[tuple[str, int], Notes],
                folder: Path) -> dict[int, dict[str, float]]:
    """The note figures of each clip whose case has written notes, in one transcriber call.
    -> {index in gens: {key: value}}"""
    judged = {i: clip_path(folder, g) for i, g in enumerate(gens) if (g.task, g.case) in targets}
    heard = tr.transcribe(sorted(set(judged.values())))
    return {i: note_scores(targets[(gens[i].task, gens[i].case)], heard[p]) for i, p in judged.items()}


def missing_clips(gens: Sequence[Generation], folder: Path) -> str | None:
    """Why the clips cannot be judged (some have no WAV: generated before, without a judge), or None."""
    absent = [g for g in gens if not clip_path(folder, g).is_file()]
    if absent:
        return (f"{len(absent)} of {len(gens)} clips have no WAV in {folder} (generated without the judges); "
                "rerun them without --resume / --report-only")
    return None


def run_external(judges: ExternalJudges, gens: list[Generation], cases: Mapping[str, Sequence[Case]],
                 split: TestSplit, out: Path, sample_rate: int, seed: int = 0) -> Judged:
    """Run the judges on the clips in OUT/clips; the note figures join the melody clips' metrics (so the
    rows' means and intervals carry them). Never raises for a missing judge: the reason is recorded."""
    import time

    folder = out / CLIPS
    result = Judged(quality_skipped=judges.quality_skipped, notes_skipped=judges.notes_skipped)
    if judges.quality is not None:
        why = missing_clips(gens, folder) or (None if split.audio is not None else "the corpus has no audio shards")
        if why:
            log.warning("sound-quality judge not run: %s", why)
            result.quality_skipped = why
        else:
            start = time.perf_counter()
            works = {(c.task, c.index): split.meta[c.row]["work"] for cs in cases.values() for c in cs}
            assert split.audio is not None
            reference = split.audio[split.reference_rows].numpy()
            try:
                rows = judge_quality(judges.quality, gens, works, reference, folder, sample_rate, seed)
            except RuntimeError as exc:  # the worker failed: said and recorded, the run goes on
                result.quality_skipped = worker_failed("sound-quality judge", exc)
            else:
                result.quality = QualityFigures(judges.quality.name, f"{len(reference)} windows: the reference "
                                                "half of the split (by work), as the evaluation's FAD", rows)
                result.extra["quality_seconds"] = round(time.perf_counter() - start, 1)
    if judges.notes is not None:
        targets = {(c.task, c.index): n for cs in cases.values() for c in cs if (n := written_notes(c)) is not None}
        melodic = [g for g in gens if (g.task, g.case) in targets]
        why = missing_clips(melodic, folder)
        if why:
            log.warning("note-level melody judge not run: %s", why)
            result.notes_skipped = why
        elif melodic:
            start = time.perf_counter()
            try:
                scored = judge_notes(judges.notes, melodic, targets, folder)
            except RuntimeError as exc:
                result.notes_skipped = worker_failed("note-level melody judge", exc)
            else:
                for i, scores in scored.items():
                    melodic[i].metrics.update(scores)
                result.note_judge, result.note_clips = judges.notes.name, len(melodic)
                result.extra["notes_seconds"] = round(time.perf_counter() - start, 1)
    return result


def worker_failed(judge: str, exc: RuntimeError) -> str:
    """Log a judge's failed worker in one line; -> the reason recorded in its place."""
    why = f"its worker failed: {' '.join(str(exc).split())[-300:]}"
    log.warning("%s not run: %s", judge, why)
    return why
