"""A note-level melody judge (issue 31): the generated audio transcribed to notes by Spotify's basic-pitch
(Bittner et al. 2022, a polyphonic transcriber trained on real recordings) and scored against the written
notes with mir_eval's transcription measures, beside the frame-level pYIN judge (``independent.py``).

Figures (mir_eval.transcription, MIREX conventions, onset tolerance 50 ms, pitch tolerance 50 cents):

- ``melody_note_f``: note F-measure on pitch and onset, offsets ignored (``offset_ratio=None``); with its
  precision and recall. The output is polyphonic (the tune sits in an arrangement), so precision counts the
  accompaniment's notes against it; recall says whether the written notes sounded;
- ``melody_note_chroma_f`` (and recall): the same with every pitch folded to its pitch class, since the
  model may follow the tune an octave off;
- ``melody_onset_f``: onsets alone (pitch ignored), mir_eval's ``onset_precision_recall_f1``.

basic-pitch ships its model (TF SavedModel, TF Lite, ONNX) in its wheel. It runs in the judges' interpreter
(``scripts/setup_judges.sh``), driven through files by ``basic_pitch_worker.py`` like musicnn; the scoring
here is numpy and mir_eval and is tested with hand-built note lists and a fake transcriber.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import mir_eval
import numpy as np

from ditto_live.judges.quality import interpreter_missing, judges_env

WORKER = Path(__file__).with_name("basic_pitch_worker.py")  # the script the judges' interpreter runs
ONSET_TOLERANCE_S = 0.05  # MIREX / mir_eval default: an onset within 50 ms is a hit
PITCH_TOLERANCE_CENTS = 50.0  # MIREX / mir_eval default: within a quarter tone
CHROMA_OCTAVE = 60  # folded pitches are placed in the octave above middle C (MIDI 60..71)
NOTE_KEYS = ("melody_note_f", "melody_note_precision", "melody_note_recall", "melody_note_chroma_f",
             "melody_note_chroma_recall", "melody_onset_f")  # what note_scores returns
NOTE_COLUMNS = (("melody_note_f", "note F (%)", 100.0), ("melody_note_recall", "note recall (%)", 100.0),
                ("melody_note_chroma_f", "chroma note F (%)", 100.0))  # the report's columns (key, title, scale):
# recall beside F, since an arrangement's other notes count against precision


@dataclass(frozen=True)
class Notes:
    """A note list: onset and offset times and MIDI pitches."""

    intervals: np.ndarray  # [n, 2] onset, offset in seconds
    pitches: np.ndarray  # [n] MIDI pitch (float)

    @classmethod
    def of(cls, notes: Sequence[Sequence[float]]) -> Notes:
        """From [[midi, start_s, duration_s], ...] (the job language's notes in seconds)."""
        rows = np.asarray(notes, dtype=np.float64).reshape(-1, 3)
        return cls(np.stack([rows[:, 1], rows[:, 1] + rows[:, 2]], axis=1), rows[:, 0])

    @classmethod
    def events(cls, events: Sequence[Sequence[float]]) -> Notes:
        """From [[start_s, end_s, midi], ...] (a transcriber's events)."""
        rows = np.asarray(events, dtype=np.float64).reshape(-1, 3)
        return cls(rows[:, :2], rows[:, 2])

    def folded(self) -> Notes:
        """Every pitch moved to its pitch class in one octave (``CHROMA_OCTAVE``)."""
        return Notes(self.intervals, CHROMA_OCTAVE + np.mod(np.round(self.pitches), 12))

    def hz(self) -> np.ndarray:
        """Pitches in Hz (mir_eval's unit). [n]"""
        return 440.0 * 2.0 ** ((self.pitches - 69.0) / 12.0)


def note_prf(ref: Notes, est: Notes) -> tuple[float, float, float]:
    """mir_eval's note precision, recall, F on pitch and onset (offsets ignored). 0s when either is empty."""
    if not len(ref.pitches) or not len(est.pitches):
        return 0.0, 0.0, 0.0
    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ref.intervals, ref.hz(), est.intervals, est.hz(), onset_tolerance=ONSET_TOLERANCE_S,
        pitch_tolerance=PITCH_TOLERANCE_CENTS, offset_ratio=None)
    return float(p), float(r), float(f)


def onset_f(ref: Notes, est: Notes) -> float:
    """mir_eval's onset F-measure, pitch ignored; 0 when either list is empty."""
    if not len(ref.pitches) or not len(est.pitches):
        return 0.0
    _, _, f = mir_eval.transcription.onset_precision_recall_f1(ref.intervals, est.intervals,
                                                               onset_tolerance=ONSET_TOLERANCE_S)
    return float(f)


def note_scores(ref: Notes, est: Notes) -> dict[str, float]:
    """Every figure of ``NOTE_KEYS`` for one clip's transcription against its written notes."""
    if not len(ref.pitches):
        raise ValueError("the target has no note")
    p, r, f = note_prf(ref, est)
    _, cr, cf = note_prf(ref.folded(), est.folded())
    return {"melody_note_f": f, "melody_note_precision": p, "melody_note_recall": r, "melody_note_chroma_f": cf,
            "melody_note_chroma_recall": cr, "melody_onset_f": onset_f(ref, est)}


class Transcriber(Protocol):
    """Audio files -> the notes heard in each; one call for many files (a model loads once)."""

    @property
    def name(self) -> str:
        """What transcribes, for the results file (model and its runtime)."""
        ...

    def transcribe(self, paths: Sequence[Path]) -> dict[Path, Notes]:
        """WAV paths -> {path: Notes}"""
        ...


@dataclass(frozen=True)
class BasicPitch:
    """basic-pitch's ICASSP 2022 model, run by ``basic_pitch_worker.py`` in the judges' interpreter."""

    python: str  # interpreter with basic-pitch and TensorFlow (quality.judges_python())
    runtime: str = "tflite"  # which of the wheel's serialisations: tflite (TensorFlow's interpreter) or onnx
    threads: int = 1  # TensorFlow / TF Lite threads

    @property
    def name(self) -> str:
        return f"basic-pitch 0.4.0 ICASSP 2022 ({self.runtime}), default thresholds"

    def transcribe(self, paths: Sequence[Path]) -> dict[Path, Notes]:
        with tempfile.TemporaryDirectory() as tmp:
            request, out = Path(tmp) / "paths.json", Path(tmp) / "notes.json"
            request.write_text(json.dumps([str(p) for p in paths]))
            run = subprocess.run([self.python, str(WORKER), "--paths", str(request), "--out", str(out),
                                  "--runtime", self.runtime], capture_output=True, text=True,
                                 env=judges_env(self.threads))
            if run.returncode != 0:
                raise RuntimeError(f"basic-pitch worker failed ({run.returncode}): {run.stderr[-2000:]}")
            events = json.loads(out.read_text())
        return {p: Notes.events(events[str(p)]) for p in paths}


def basic_pitch_missing(python: str) -> str | None:
    """None when ``python`` can import basic-pitch, else why not."""
    return interpreter_missing(python, ("basic_pitch", "tensorflow"))

