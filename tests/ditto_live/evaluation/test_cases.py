"""Held-out cases: drawn from the test split's case half, every protocol target, exact melody notes."""

from __future__ import annotations

import numpy as np
import torch

from ditto_live.controls.intensity import EVAL_CURVES
from ditto_live.controls.melody import melody_notes
from ditto_live.controls.structure import EVAL_FORMS
from ditto_live.engine.controls.melody import melody_target
from ditto_live.evaluation.cases import load_test_split, make_cases
from ditto_live.generation.jobspec import parse_job

from .conftest import MEL


def test_melody_notes_map_back_to_exactly_the_truth_frames():
    rng = np.random.default_rng(1)
    pitch = rng.integers(-1, 12, size=MEL.frames)
    pitch[100:140] = 7  # a long note
    notes = melody_notes(pitch, MEL.frame_rate)
    back = melody_target(notes, "seconds", 120.0, MEL.frames, MEL.frame_rate).numpy()
    assert np.array_equal(back, pitch)
    assert all(60 <= n[0] < 72 and n[1] >= 0 and n[2] > 0 for n in notes)


def test_reference_and_case_halves_split_the_test_works(corpus):
    split = load_test_split(corpus, "tiny")
    assert len(split.meta) == 8 and split.mels.shape == (8, 1, MEL.n_mels, MEL.frames)
    ref_works = {split.meta[r]["work"] for r in split.reference_rows}
    case_works = {split.meta[r]["work"] for r in split.case_rows}
    assert ref_works and case_works and not ref_works & case_works
    assert sorted(split.reference_rows + split.case_rows) == list(range(8))


def test_cases_cover_the_protocol_and_parse_as_jobs(corpus, tmp_path):
    split = load_test_split(corpus, "tiny")
    vocab = {"genre": ["<null>", "folk"], "mood": ["<null>", "major"], "tempo": ["<null>", "moderate"]}
    args = (split, 8, vocab, MEL.frame_rate, MEL.sample_rate, MEL.window_seconds, tmp_path / "refs")
    intensity = make_cases("intensity", *args)
    forms = [c.target["form"] for c in make_cases("structure", *args)]
    assert [c.target["shape"] for c in intensity] == [name for name, _, _ in EVAL_CURVES] and set(forms) == set(EVAL_FORMS)
    assert {c.target["class"] for c in intensity} == {"ramp", "swell", "step"}
    for c in intensity:  # the judge's ceiling for the curve: 1 for a smooth one, below for a drawn step
        assert 0.85 < c.target["ceiling_corr"] <= 1.0 and c.target["ceiling_mae_db"] >= 0.0
        assert (c.target["ceiling_corr"] > 0.999) == (c.target["class"] != "step")
    for task in ("intensity", "melody", "structure", "inpaint", "outpaint", "loop", "text"):
        cases = make_cases(task, *args)
        assert len(cases) == 8 and all(c.row in split.case_rows for c in cases)
        for c in cases:
            spec = parse_job(c.job)
            assert spec.controls[0].type == task
            assert set(spec.tags) <= {"genre", "mood"}  # only names the model knows; tempo follows bpm
    painted = make_cases("inpaint", *args)[0]
    ctl = painted.job["controls"][0]
    assert ctl["start"] == 1.0 and abs(ctl["end"] - (MEL.window_seconds - 1.0)) < 1e-3
    import soundfile as sf

    audio, sr = sf.read(ctl["reference"], dtype="float32")
    assert sr == MEL.sample_rate and np.allclose(audio, split.audio[painted.row].numpy(), atol=1e-3)
    melody = make_cases("melody", *args)[0]
    notes = melody.job["controls"][0]["notes"]
    back = melody_target(notes, "seconds", 120.0, MEL.frames, MEL.frame_rate)
    assert torch.equal(back, split.truth[melody.row])


def test_cases_are_deterministic_in_the_seed(corpus, tmp_path):
    split = load_test_split(corpus, "tiny")
    args = (split, 3, {}, MEL.frame_rate, MEL.sample_rate, MEL.window_seconds, tmp_path / "refs")
    a = [c.row for c in make_cases("melody", *args, seed=0)]
    assert a == [c.row for c in make_cases("melody", *args, seed=0)]
    assert [c.job["seed"] for c in make_cases("melody", *args, seed=1)] == [1000, 1001, 1002]
