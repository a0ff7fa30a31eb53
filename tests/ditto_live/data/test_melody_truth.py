"""Melody ground truth: pitch class of the top voice per mel frame."""

import numpy as np

from ditto_live.data.arrange import ArrangeConfig, arrange
from ditto_live.data.sources import WorkRef, parse_work
from ditto_live.data.windows import FRAMES, HOP, melody_truth

SR = 22050
SCALE = (60, 62, 64, 65, 67, 69, 71, 72)


def test_c_major_scale_truth_frame_by_frame():
    note_s = 0.5
    notes = [(p, i * note_s, (i + 1) * note_s) for i, p in enumerate(SCALE)]
    truth = melody_truth(notes, 0.0, SR)
    assert truth.shape == (FRAMES,) and truth.dtype == np.int8
    for i in range(FRAMES):
        t = i * HOP / SR
        k = int(t // note_s)
        expected = SCALE[k] % 12 if k < len(SCALE) else -1
        assert truth[i] == expected, f"frame {i} at {t:.3f} s"


def test_truth_uses_window_offset_and_marks_rests():
    notes = [(69, 1.0, 2.0), (71, 3.0, 4.0)]
    truth = melody_truth(notes, 1.0, SR)  # window starts at 1 s
    t = 1.0 + np.arange(FRAMES) * HOP / SR
    assert (truth[(t >= 1.0) & (t < 2.0)] == 9).all()
    assert (truth[(t >= 2.0) & (t < 3.0)] == -1).all()
    assert (truth[(t >= 3.0) & (t < 4.0)] == 11).all()


def test_scale_score_through_parse_and_arrange(abc_dir):
    work = parse_work(WorkRef("essen", str(abc_dir / "scale.abc"), 1))
    assert [n[0] for n in work.voices[0]] == list(SCALE)
    assert work.key_name.startswith("C") and work.mode == "major"
    cfg = ArrangeConfig(p_drums=0.0, onset_jitter_s=0.0, min_play_s=0.0)
    arr = arrange(work, np.random.default_rng(3), cfg)
    truth = melody_truth(arr.tracks[0].notes, 0.0, SR)
    t = np.arange(FRAMES) * HOP / SR
    quarter = t / arr.sec_per_q
    k = np.floor(quarter).astype(int)
    inside = (quarter - k > 0.1) & (quarter - k < 0.85) & (k < len(SCALE))  # away from onsets and releases
    expected = np.array([(SCALE[j] + arr.transpose) % 12 for j in k[inside]])
    np.testing.assert_array_equal(truth[inside], expected)
    assert (truth[k >= len(SCALE)] == -1).all()


def test_chord_in_the_top_voice_gives_its_highest_note():
    notes = [(67, 0.0, 1.0), (64, 0.0, 1.0), (60, 0.0, 1.0)]  # C major triad, listed top first
    truth = melody_truth(notes, 0.0, SR)
    t = np.arange(FRAMES) * HOP / SR
    assert (truth[t < 1.0] == 7).all()


def test_mode_from_stated_key_or_final_note(tmp_path):
    """ "K:G" is only a signature: a tune in it ending on E is E minor; "K:Em" states the mode."""
    tune = "X:1\nT:t\nM:4/4\nL:1/4\nK:{key}\nE G B e | d B G E |]\n"
    for key, expected in (("G", ("E minor", 4)), ("Em", ("E minor", 4)), ("C", ("C major", 0))):
        (tmp_path / f"{key}.abc").write_text(tune.format(key=key) if key != "C" else
                                             tune.format(key=key).replace("d B G E", "d B G c"))
        work = parse_work(WorkRef("essen", str(tmp_path / f"{key}.abc"), 1))
        assert (work.key_name, work.tonic_pc) == expected, key
