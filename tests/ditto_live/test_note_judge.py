"""The note-level melody judge (issue 31): mir_eval's note and onset F on hand-built note lists whose F is
known, the chroma-folded variant, the worker contract with a stand-in script; the real basic-pitch worker
runs in tests/ditto_live/evaluation/test_external_judges.py where the judges' interpreter exists."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from ditto_live.judges.notes import NOTE_KEYS, BasicPitch, Notes, basic_pitch_missing, note_scores

SCALE = Notes.of([[60, 0.0, 0.5], [62, 0.5, 0.5], [64, 1.0, 0.5], [65, 1.5, 0.5]])  # four written notes


def shifted(notes: Notes, seconds: float = 0.0, semitones: float = 0.0) -> Notes:
    return Notes(notes.intervals + seconds, notes.pitches + semitones)


def test_notes_from_the_job_language_are_onset_offset_and_pitch():
    notes = Notes.of([[67, 1.0, 0.25]])
    assert notes.intervals.tolist() == [[1.0, 1.25]] and notes.pitches.tolist() == [67.0]
    assert Notes.events([[1.0, 1.25, 67]]).intervals.tolist() == [[1.0, 1.25]]
    assert Notes.of([]).intervals.shape == (0, 2)
    assert notes.hz() == pytest.approx([392.0], rel=1e-3)


def test_a_perfect_transcription_scores_one_on_every_figure():
    scores = note_scores(SCALE, SCALE)
    assert set(scores) == set(NOTE_KEYS) and all(v == pytest.approx(1.0) for v in scores.values())


def test_onsets_within_50_ms_are_hits_and_beyond_are_misses():
    assert note_scores(SCALE, shifted(SCALE, 0.03))["melody_note_f"] == pytest.approx(1.0)
    late = note_scores(SCALE, shifted(SCALE, 0.08))
    assert late["melody_note_f"] == 0.0 and late["melody_onset_f"] == 0.0


def test_offsets_do_not_count():
    clipped = Notes(np.stack([SCALE.intervals[:, 0], SCALE.intervals[:, 0] + 0.05], axis=1), SCALE.pitches)
    assert note_scores(SCALE, clipped)["melody_note_f"] == pytest.approx(1.0)


def test_two_right_and_two_wrong_pitches_give_half_and_the_onset_f_ignores_pitch():
    est = Notes(SCALE.intervals, SCALE.pitches + np.array([0, 0, 1, 1]))
    scores = note_scores(SCALE, est)
    assert (scores["melody_note_precision"], scores["melody_note_recall"]) == pytest.approx((0.5, 0.5))
    assert scores["melody_note_f"] == pytest.approx(0.5) and scores["melody_onset_f"] == pytest.approx(1.0)


def test_an_accompaniment_halves_precision_but_keeps_recall():
    chords = Notes(np.concatenate([SCALE.intervals, SCALE.intervals]), np.concatenate([SCALE.pitches,
                                                                                       SCALE.pitches - 12 - 4]))
    scores = note_scores(SCALE, chords)
    assert scores["melody_note_recall"] == pytest.approx(1.0) and scores["melody_note_precision"] == pytest.approx(0.5)
    assert scores["melody_note_f"] == pytest.approx(2 / 3)


def test_a_tune_an_octave_off_misses_every_note_but_its_pitch_classes_all_match():
    scores = note_scores(SCALE, shifted(SCALE, semitones=12))
    assert scores["melody_note_f"] == 0.0
    assert scores["melody_note_chroma_f"] == pytest.approx(1.0) and scores["melody_note_chroma_recall"] == 1.0
    assert note_scores(SCALE, shifted(SCALE, semitones=1))["melody_note_chroma_f"] == 0.0  # a semitone is no class


def test_silence_scores_zero_and_a_target_without_notes_is_refused():
    assert note_scores(SCALE, Notes.of([]))["melody_note_f"] == 0.0
    with pytest.raises(ValueError, match="no note"):
        note_scores(Notes.of([]), SCALE)


def test_the_transcriber_reads_the_workers_json(tmp_path, monkeypatch):
    stand_in = tmp_path / "worker.py"  # the worker's contract: --paths JSON list -> --out {path: events}
    stand_in.write_text("import json, sys\nargs = dict(zip(sys.argv[1::2], sys.argv[2::2]))\n"
                        "paths = json.load(open(args['--paths']))\n"
                        "json.dump({p: [[0.5, 1.0, 60 + i]] for i, p in enumerate(paths)}, open(args['--out'], 'w'))\n")
    monkeypatch.setattr("ditto_live.judges.notes.WORKER", stand_in)
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    heard = BasicPitch(sys.executable).transcribe([a, b])
    assert heard[a].pitches.tolist() == [60.0] and heard[b].pitches.tolist() == [61.0]
    assert heard[b].intervals.tolist() == [[0.5, 1.0]]


def test_a_failing_worker_raises_with_its_error(tmp_path, monkeypatch):
    broken = tmp_path / "broken.py"
    broken.write_text("raise SystemExit('no model here')\n")
    monkeypatch.setattr("ditto_live.judges.notes.WORKER", broken)
    with pytest.raises(RuntimeError, match="no model here"):
        BasicPitch(sys.executable).transcribe([tmp_path / "a.wav"])


def test_a_missing_interpreter_says_how_to_make_it():
    assert "scripts/setup_judges.sh" in (basic_pitch_missing("/nonexistent/python") or "")
