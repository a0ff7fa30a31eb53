"""Arrangement variety: programs, drum layer, tempo, transposition, replayed short tunes; all seeded."""

from collections import Counter

import numpy as np

from ditto_live.data.arrange import DRUM_GENRE, FAMILIES, GENRE_BPM, ArrangeConfig, arrange, bar_roots
from ditto_live.data.sources import WorkRef, parse_work


def test_arrangements_vary_and_follow_the_seed(abc_dir):
    work = parse_work(WorkRef("oneill", str(abc_dir / "tune_b.abc"), 1))
    arrs = [arrange(work, np.random.default_rng(s)) for s in range(200)]
    again = arrange(work, np.random.default_rng(7))
    assert again == arrs[7]
    genres = Counter(a.genre for a in arrs)
    assert 0.15 < genres[DRUM_GENRE] / 200 < 0.35 and genres["irish folk"] > 100
    assert len({a.instrument for a in arrs}) >= 6
    assert {a.instrument for a in arrs} <= set(FAMILIES) | {"ensemble"}
    lo, hi = GENRE_BPM["irish folk"]
    assert all(lo * 0.9 - 0.1 <= a.bpm <= hi * 1.1 + 0.1 for a in arrs)
    assert len({a.transpose for a in arrs}) >= 8
    for a in arrs:
        top = max(n[0] for n in a.tracks[0].notes)
        assert top <= 96
        assert all(0 <= n[0] <= 127 and n[2] > n[1] and 25 <= n[3] <= 127 for t in a.tracks for n in t.notes)
        if a.genre == DRUM_GENRE:
            assert [t.role for t in a.tracks[-2:]] == ["drums", "bass"] and a.tracks[-2].is_drum


def test_short_tune_is_played_again(abc_dir):
    work = parse_work(WorkRef("essen", str(abc_dir / "tune_c.abc"), 1))  # 4 bars of 6/8
    a = arrange(work, np.random.default_rng(0), ArrangeConfig(p_drums=0.0))
    once = len(work.voices[0])
    assert len(a.tracks[0].notes) == 3 * once  # ~8 s at these tempi: three play-throughs (the cap)
    pitches = [n[0] for n in a.tracks[0].notes]
    assert pitches[:once] == pitches[once:2 * once]


def test_bass_follows_the_bar_chord(tmp_path):
    abc = tmp_path / "chords.abc"
    abc.write_text("X:1\nT:I V IV vi\nM:4/4\nL:1/4\nK:C\nC E G c | G B d B | F A c A | A, C E A | c G E C |]\n")
    work = parse_work(WorkRef("essen", str(abc), 1))
    assert work.mode == "major" and work.tonic_pc == 0
    assert bar_roots(work, transpose=0) == [0, 7, 5, 9, 0]
    assert bar_roots(work, transpose=2) == [2, 9, 7, 11, 2]
