"""The independent judges on synthetic audio whose answer is known: each test can fail."""

from __future__ import annotations

import numpy as np
import pytest

from ditto_live.judges import independent as judges

SR = 22050
FRAMES = 256  # model frames of the synthetic clips (2.97 s)
SECONDS = FRAMES * judges.HOP / SR


def tone(midi: np.ndarray | float, seconds: float = SECONDS, harmonics: int = 4) -> np.ndarray:
    """A harmonic tone following a MIDI pitch per model frame (or one pitch). -> [samples]"""
    n = int(round(seconds * SR))
    per_frame = np.broadcast_to(np.asarray(midi, dtype=np.float64), (FRAMES,))
    hz = np.repeat(judges.midi_to_hz(per_frame), judges.HOP)[:n]
    hz = np.pad(hz, (0, n - len(hz)), mode="edge")
    phase = 2 * np.pi * np.cumsum(hz) / SR
    return sum(0.3 * 0.6 ** (h - 1) * np.sin(h * phase) for h in range(1, harmonics + 1)).astype(np.float32)


TUNE = np.repeat([60, 64, 67, 65], FRAMES // 4)  # C4 E4 G4 F4, one per quarter of the clip


def test_midi_to_hz_maps_a4_and_no_note():
    assert judges.midi_to_hz(np.array([69, -1])).tolist() == [440.0, 0.0]


def test_melody_at_the_written_pitch_scores_high_on_both():
    scores = judges.judge_melody(tone(TUNE), SR, TUNE)
    assert scores["melody_raw_pitch_accuracy"] > 0.9
    assert scores["melody_raw_chroma_accuracy"] > 0.9


def test_melody_an_octave_up_scores_zero_raw_pitch_but_high_raw_chroma():
    scores = judges.judge_melody(tone(TUNE + 12), SR, TUNE)
    assert scores["melody_raw_pitch_accuracy"] < 0.1
    assert scores["melody_raw_chroma_accuracy"] > 0.9


def test_melody_a_fourth_off_scores_low_on_both():
    scores = judges.judge_melody(tone(TUNE + 5), SR, TUNE)
    assert scores["melody_raw_pitch_accuracy"] < 0.1
    assert scores["melody_raw_chroma_accuracy"] < 0.1


def test_melody_is_scored_only_where_the_target_sounds():
    target = TUNE.copy()
    target[FRAMES // 2:] = -1  # the second half has no note: what plays there does not count
    audio = tone(np.concatenate([TUNE[:FRAMES // 2], TUNE[FRAMES // 2:] + 7]))
    assert judges.judge_melody(audio, SR, target)["melody_raw_pitch_accuracy"] > 0.9


def test_melody_without_a_voiced_target_frame_is_an_error():
    with pytest.raises(ValueError, match="no voiced frame"):
        judges.judge_melody(tone(60), SR, np.full(FRAMES, -1))


def crescendo_audio(target_db: np.ndarray) -> np.ndarray:
    """Pink-ish noise whose RMS follows a dB curve per model frame."""
    n = FRAMES * judges.HOP
    noise = np.random.default_rng(0).standard_normal(n)
    gain = 10 ** (np.repeat(target_db, judges.HOP) / 20)
    return (noise * gain).astype(np.float32)


def test_loudness_following_the_target_curve_scores_small_error_and_high_correlation():
    target = np.linspace(-40, -15, FRAMES)
    scores = judges.judge_intensity(crescendo_audio(target), SR, target)
    assert scores["intensity_loudness_mae_db"] < 1.5
    assert scores["intensity_loudness_corr"] > 0.95


def test_loudness_error_ignores_a_constant_offset_but_not_the_shape():
    target = np.linspace(-40, -15, FRAMES)
    audio = crescendo_audio(target)
    shifted = judges.judge_intensity(audio, SR, target + 20.0)
    reversed_ = judges.judge_intensity(audio, SR, target[::-1])
    assert shifted["intensity_loudness_mae_db"] == pytest.approx(
        judges.judge_intensity(audio, SR, target)["intensity_loudness_mae_db"], abs=1e-9)
    assert reversed_["intensity_loudness_mae_db"] > 5.0
    assert reversed_["intensity_loudness_corr"] < -0.9


def test_loudness_of_a_flat_target_has_no_correlation():
    flat = np.full(FRAMES, -20.0)
    assert np.isnan(judges.judge_intensity(crescendo_audio(flat), SR, flat)["intensity_loudness_corr"])


def chords(form: str, seconds: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """Audio of equal sections, each a repeated triad of its letter, and the label per model frame."""
    triads = {"A": (60, 64, 67), "B": (66, 70, 73), "C": (62, 65, 69)}
    frames = int(seconds * SR / judges.HOP)
    labels = (np.arange(frames) * len(form)) // frames
    n = frames * judges.HOP
    t = np.arange(n) / SR
    section = np.repeat(labels, judges.HOP)
    audio = np.zeros(n)
    for i, letter in enumerate(form):
        on = section == i
        for p in triads[letter]:
            audio[on] += 0.1 * np.sin(2 * np.pi * judges.midi_to_hz(np.array([p]))[0] * t[on])
    letters = {ch: i for i, ch in enumerate(dict.fromkeys(form))}
    return audio.astype(np.float32), np.array([letters[form[s]] for s in labels])


def test_structure_finds_the_boundaries_of_a_chord_form():
    audio, labels = chords("ABA")
    assert judges.judge_structure(audio, SR, labels)["structure_boundary_f"] == 1.0


def test_structure_of_audio_with_other_boundaries_scores_low():
    audio, _ = chords("ABA")  # changes at 2 s and 4 s
    _, labels = chords("AABB")  # asks for changes at 1.5 s, 3 s and 4.5 s
    assert judges.judge_structure(audio, SR, labels)["structure_boundary_f"] < 0.5


def test_structure_boundaries_of_labels_are_the_label_changes():
    times = judges.boundaries_of_labels(np.array([0, 0, 1, 1, 0]), SR)
    assert times.tolist() == pytest.approx([2 * judges.HOP / SR, 4 * judges.HOP / SR])


def test_judge_keys_name_what_each_judge_returns():
    target = np.linspace(-40, -15, FRAMES)
    audio, labels = chords("ABA")
    assert set(judges.judge_melody(tone(TUNE), SR, TUNE)) == set(judges.JUDGE_KEYS["melody"])
    assert set(judges.judge_intensity(crescendo_audio(target), SR, target)) == set(judges.JUDGE_KEYS["intensity"])
    assert set(judges.judge_structure(audio, SR, labels)) == set(judges.JUDGE_KEYS["structure"])

