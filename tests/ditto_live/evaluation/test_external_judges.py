"""The evaluation's external judges (issue 31): the sound-quality judge's FD / KID per row and the melody
rows' note F, wired through ``evaluate`` with an in-memory embedding and transcriber; the one line and the
null figures when the judges' interpreter is missing; the real workers on two tiny WAVs where
~/.venvs/judges exists."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest
import torch

from ditto_live.evaluation import evaluate
from ditto_live.evaluation.cases import Case
from ditto_live.evaluation.cases import TestSplit as Split  # (not "Test*": pytest would collect it)
from ditto_live.evaluation.external import (
    ExternalJudges,
    clip_path,
    find_judges,
    row_key,
    run_external,
    written_notes,
)
from ditto_live.evaluation.runner import Generation
from ditto_live.evaluation.suites import EvalConfig
from ditto_live.judges.notes import NOTE_KEYS, Notes, note_scores
from ditto_live.judges.quality import DEFAULT_VENV
from tests.fakes import FakeSentenceEncoder

from .conftest import MEL, narrow_bundle

SETTINGS = ("DITTO-2 (CM)", "DITTO-2 (CTM)", "DITTO-2 (CTM), unoptimised")  # table1 without DITTO


class BandEmbedding:
    """In-memory stand-in for musicnn: log power in 8 FFT bands of each of 2 chunks; records its calls."""

    name = "fake band power"

    def __init__(self) -> None:
        self.calls: list[dict[str, tuple[int, ...]]] = []

    def embed(self, sets: Mapping[str, np.ndarray], sample_rate: int) -> dict[str, np.ndarray]:
        self.calls.append({k: v.shape for k, v in sets.items()})
        out = {}
        for k, audio in sets.items():
            chunks = [np.abs(np.fft.rfft(c, axis=-1)) ** 2 for c in np.array_split(audio, 2, axis=-1)]
            out[k] = np.stack([np.log(np.stack([b.mean(-1) for b in np.array_split(p, 8, axis=-1)], -1) + 1e-9)
                               for p in chunks], axis=1)  # [n, 2, 8]
        return out


class FixedTranscriber:
    """In-memory stand-in for basic-pitch: hears the same notes in every file; records the files."""

    name = "fake transcriber"

    def __init__(self, notes: Notes) -> None:
        self.notes = notes
        self.paths: list[Path] = []

    def transcribe(self, paths: Sequence[Path]) -> dict[Path, Notes]:
        self.paths += list(paths)
        return {p: self.notes for p in paths}


def run_melody(corpus: Path, out: Path, judges: ExternalJudges | None = None, **kw):
    cfg = EvalConfig(suite="table1", model="narrow", data=str(corpus), out=str(out), cases=2, steps=2,
                     tasks=("melody",), skip_ditto=True, **kw)
    return evaluate(cfg, bundle=narrow_bundle(), sentence_encoder=FakeSentenceEncoder(), judges=judges)


def test_the_eval_scores_every_row_with_the_judges_and_writes_their_figures(corpus, tmp_path):
    tune = Notes.of([[60, 0.0, 0.5], [64, 0.5, 0.5]])
    emb, tr = BandEmbedding(), FixedTranscriber(tune)
    result, paths = run_melody(corpus, tmp_path / "out", ExternalJudges(emb, tr))
    clips = sorted((tmp_path / "out" / "clips").glob("*.wav"))
    assert len(clips) == 2 * len(SETTINGS)  # every clip written, though --save-audio keeps the first case only
    assert len(emb.calls) == 1 and set(emb.calls[0]) == {row_key("melody", s, 1) for s in SETTINGS} | {"reference"}
    assert sorted(tr.paths) == clips  # one transcriber call for every melody clip
    for g in result.generations:  # each clip's note figures are mir_eval's on its case's written notes
        case = result.cases["melody"][g.case]
        target = written_notes(case)
        assert target is not None and {k: g.metrics[k] for k in NOTE_KEYS} == note_scores(target, tune)
    data = json.loads(paths["json"].read_text())
    quality = data["quality"]
    assert quality["judge"] == "fake band power" and data["quality_skipped"] is None
    for s in SETTINGS:
        row = quality["rows"][row_key("melody", s, 1)]
        assert row["clips"] == 2 and np.isfinite(row["fd"]) and len(row["fd_interval"]) == 2
        assert row["groups"] == len({result.cases["melody"][i].target["work"] for i in range(2)})
    assert data["note_judge"]["transcriber"] == "fake transcriber" and data["note_judge"]["clips"] == 6
    melody_rows = [r for r in data["rows"] if r["task"] == "melody"]
    assert all("melody_note_f" in r["metrics"] and "melody_note_f" in r["intervals"] for r in melody_rows)
    md = paths["md"].read_text()
    assert "### Sound quality: fake band power" in md and "| melody | DITTO-2 (CM) | 1 | 2 |" in md
    assert "| note F (%) | note recall (%) | chroma note F (%) |" in md and "Note judge: fake transcriber" in md


def test_without_the_judges_interpreter_the_eval_says_so_once_and_records_null(corpus, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="ditto_live.evaluation.external")
    result, paths = run_melody(corpus, tmp_path / "out", quality=True, notes=True)  # conftest: no interpreter
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and all("scripts/setup_judges.sh" in line for line in lines)
    assert lines[0].startswith("sound-quality judge") and lines[1].startswith("note-level melody judge")
    data = json.loads(paths["json"].read_text())
    assert data["quality"] is None and "no judges interpreter" in data["quality_skipped"]
    assert data["note_judge"] is None and "setup_judges.sh" in data["note_judge_skipped"]
    assert not any(k in r["metrics"] for r in data["rows"] for k in NOTE_KEYS)  # no figure stands in for one
    assert "Sound-quality judge (musicnn) not run: no judges interpreter" in paths["md"].read_text()
    assert not (tmp_path / "out" / "clips").exists()


class BrokenEmbedding(BandEmbedding):
    """A worker that dies (TensorFlow missing a library, say)."""

    def embed(self, sets: Mapping[str, np.ndarray], sample_rate: int) -> dict[str, np.ndarray]:
        raise RuntimeError("musicnn worker failed (1): ImportError: libcuda")


def test_a_failing_judge_worker_is_recorded_and_the_eval_goes_on(corpus, tmp_path):
    tr = FixedTranscriber(Notes.of([[60, 0.0, 0.5]]))
    result, paths = run_melody(corpus, tmp_path / "out", ExternalJudges(BrokenEmbedding(), tr))
    data = json.loads(paths["json"].read_text())
    assert data["quality"] is None and "libcuda" in data["quality_skipped"]
    assert data["note_judge"]["clips"] == 6  # the other judge still ran


def test_no_quality_and_no_notes_skip_without_a_warning(caplog):
    caplog.set_level(logging.WARNING, logger="ditto_live.evaluation.external")
    judges = find_judges(quality=False, notes=False)
    assert judges.quality is None and judges.notes is None and not judges.any
    assert judges.quality_skipped == "not asked (--no-quality)" and not caplog.records


def test_the_cli_asks_for_the_judges_unless_told_not_to(corpus, tmp_path, monkeypatch):
    from ditto_live.cli import main

    seen: list[EvalConfig] = []
    monkeypatch.setattr("ditto_live.evaluation.evaluate", lambda cfg: (seen.append(cfg), 1 / 0))
    base = ["eval", "--suite", "table1", "--out", str(tmp_path / "x"), "--data", str(corpus), "--device", "cpu"]
    for argv in ([], ["--no-quality"], ["--no-notes"]):
        with pytest.raises(ZeroDivisionError):
            main(base + argv)
    assert [(c.quality, c.notes) for c in seen] == [(True, True), (False, True), (True, False)]


def tone_clip(pitches: Sequence[int], seconds: float, sample_rate: int) -> np.ndarray:
    """A few harmonic notes of equal length, 10 ms attack. -> [samples] float32"""
    each = int(seconds * sample_rate / len(pitches))
    t = np.arange(each) / sample_rate
    env = np.minimum(1.0, t / 0.01) * np.minimum(1.0, (t[-1] - t) / 0.05 + 1e-3)
    return np.concatenate([0.3 * env * sum(np.sin(2 * np.pi * 440 * 2 ** ((p - 69) / 12) * k * t) / k
                                           for k in (1, 2, 3)) for p in pitches]).astype(np.float32)


@pytest.mark.skipif(not (DEFAULT_VENV / "bin" / "python").is_file(),
                    reason="no judges interpreter at ~/.venvs/judges (scripts/setup_judges.sh)")
def test_the_real_workers_judge_two_tiny_wavs(tmp_path, monkeypatch):
    monkeypatch.setenv("DITTO_LIVE_JUDGES_PYTHON", str(DEFAULT_VENV / "bin" / "python"))
    sr, seconds = MEL.sample_rate, 4.0
    tunes = ([60, 62, 64, 65, 67, 69, 71, 72], [72, 67, 64, 60])
    cases = {"melody": [Case("melody", i, i, "", {"controls": [
        {"type": "melody", "unit": "seconds",
         "notes": [[p, k * seconds / len(tune), seconds / len(tune)] for k, p in enumerate(tune)]}]}, {})
        for i, tune in enumerate(tunes)]}
    gens = [Generation("melody", i, "DITTO-2 (CTM)", 1, 0.0, 0.0, 0.0, 0, {}, 0.0, np.zeros(1)) for i in range(2)]
    import soundfile as sf

    (tmp_path / "clips").mkdir()
    for g, tune in zip(gens, tunes):
        sf.write(str(clip_path(tmp_path / "clips", g)), tone_clip(tune, seconds, sr), sr)
    reference = np.stack([tone_clip(t, seconds, sr) for t in ([57, 60, 64], [62, 65, 69], [55, 59, 62])])
    split = Split([{"work": f"w{i}"} for i in range(3)], torch.zeros(3, 1, 1, 1), torch.from_numpy(reference),
                      torch.zeros(3, 1), [0, 1, 2], [0, 1])
    judges = find_judges(quality=True, notes=True)
    assert judges.quality is not None and judges.notes is not None, (judges.quality_skipped, judges.notes_skipped)
    judged = run_external(judges, gens, cases, split, tmp_path, sr)
    assert judged.quality is not None and judged.note_judge is not None and judged.note_clips == 2
    row = judged.quality.rows[row_key("melody", "DITTO-2 (CTM)", 1)]
    assert row.clips == 2 and row.groups == 2 and np.isfinite([row.fd, row.kid]).all()
    for g in gens:  # clean synthetic tones: basic-pitch hears their notes at their onsets
        assert g.metrics["melody_note_chroma_f"] >= 0.75 and g.metrics["melody_onset_f"] >= 0.75
