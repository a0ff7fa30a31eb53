"""Arranging a parsed work for rendering: instruments, tempo, transposition, dynamics, drum/bass layer.

Every random choice comes from the numpy Generator passed in (seeded per work by the builder), so
the same seed gives the same arrangement. Output is in seconds, ready for the synthesizer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ditto_live.data.sources import Work

# instrument family tag -> General MIDI programs (0-based); sections in register order, top first
FAMILIES: dict[str, tuple[int, ...]] = {
    "piano": (0, 1, 2),
    "electric piano": (4, 5),
    "organ": (19, 16, 20),
    "strings": (48, 49, 40, 41, 42),
    "guitar": (24, 25, 26),
    "woodwinds": (73, 68, 71, 70, 74),
    "brass": (61, 56, 60, 57),
    "choir": (52, 53),
    "mallets": (11, 12, 13, 8),
    "harp": (46,),
    "synth": (80, 81, 88, 89),
    "accordion": (21, 23),
}
SECTIONS: dict[str, tuple[int, ...]] = {  # one program per voice, top to bottom
    "strings": (40, 41, 42, 43),
    "woodwinds": (73, 68, 71, 70),
    "brass": (56, 60, 57, 58),
    "choir": (52, 53, 53, 52),
}
# genre -> families it is usually played on (a uniform pick over all families happens too)
GENRE_FAMILIES: dict[str, tuple[str, ...]] = {
    "chorale": ("organ", "choir", "strings", "brass", "piano", "woodwinds"),
    "renaissance": ("choir", "organ", "strings", "woodwinds", "brass"),
    "folk": ("piano", "guitar", "accordion", "woodwinds", "strings", "mallets", "harp"),
    "irish folk": ("woodwinds", "strings", "guitar", "accordion", "harp", "piano"),
    "fiddle": ("strings", "guitar", "piano", "accordion", "mallets"),
}
GENRE_BPM: dict[str, tuple[float, float]] = {  # beats per minute drawn uniformly (beat = meter's beat)
    "chorale": (60.0, 96.0),
    "renaissance": (50.0, 84.0),
    "folk": (70.0, 132.0),
    "irish folk": (80.0, 132.0),
    "fiddle": (84.0, 136.0),
}
BASS_PROGRAMS = (32, 33, 35, 38)
DRUM_GENRE = "dance"  # genre tag of a work given a drum and bass layer
KICK, SNARE, HAT = 36, 38, 42
MAJOR_CHORDS = (0, 5, 7, 9)  # roots of I, IV, V, vi in semitones above the tonic
MINOR_CHORDS = (0, 5, 7, 8)  # i, iv, V, VI


@dataclass(frozen=True)
class ArrangeConfig:
    p_section: float = 0.25  # chance of one program per voice within the family (strings: vn, va, vc, cb)
    p_mixed: float = 0.1  # chance of mixing families across voices (instrument tag "ensemble")
    p_any_family: float = 0.15  # chance the family ignores the genre's usual ones
    p_drums: float = 0.25  # chance of a drum and bass layer (genre becomes "dance")
    transpose: tuple[int, int] = (-5, 6)  # semitone range (inclusive)
    bpm_scale: tuple[float, float] = (0.9, 1.1)  # extra tempo scaling on top of the genre's range
    velocity_jitter: float = 7.0  # std of per-note velocity noise
    onset_jitter_s: float = 0.008  # std of per-note onset noise in seconds
    min_play_s: float = 30.0  # a shorter tune is played again (as folk players do), up to max_plays times
    max_plays: int = 3  # most play-throughs of a short tune


@dataclass(frozen=True)
class Track:
    """One synthesizer channel: a GM program (or drums) and its notes in seconds."""

    program: int  # GM program 0..127 (ignored for drums)
    is_drum: bool  # True: GM percussion channel
    role: str  # "voice" | "bass" | "drums"
    notes: tuple[tuple[int, float, float, int], ...]  # (midi pitch, start s, end s, velocity)


@dataclass(frozen=True)
class Arrangement:
    tracks: tuple[Track, ...]  # tracks[0] is the top voice (the melody)
    genre: str  # genre tag ("dance" when the drum layer was added)
    instrument: str  # instrument family tag ("ensemble" when families are mixed)
    programs: tuple[int, ...]  # GM program per voice track
    bpm: float  # beats per minute (beat = the meter's beat)
    sec_per_q: float  # seconds per quarter note
    transpose: int  # semitones added to every pitch
    key_name: str  # key after transposition
    duration_s: float  # end of the last note


PITCH_NAMES = ("C", "C#", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B")


def choose_transpose(work: Work, lo: int, hi: int, rng: np.random.Generator) -> int:
    """Random transposition, folded by octaves so the top voice stays within MIDI 40..96."""
    t = int(rng.integers(lo, hi + 1))
    top = max(n[0] for n in work.voices[0])
    low = min(n[0] for v in work.voices for n in v)
    while top + t > 96:
        t -= 12
    while low + t < 28 and top + t + 12 <= 96:
        t += 12
    return t


def humanise(notes, sec_per_q: float, transpose: int, base_vel: float, cfg: ArrangeConfig,
             rng: np.random.Generator) -> tuple[tuple[int, float, float, int], ...]:
    """Quarter-note notes -> seconds, with velocity and onset noise and a small release gap."""
    out = []
    for pitch, onset_q, dur_q in notes:
        start = max(0.0, onset_q * sec_per_q + rng.normal(0.0, cfg.onset_jitter_s))
        end = onset_q * sec_per_q + dur_q * sec_per_q * 0.95
        vel = int(np.clip(round(base_vel + rng.normal(0.0, cfg.velocity_jitter)), 25, 127))
        out.append((pitch + transpose, start, max(end, start + 0.03), vel))
    return tuple(out)


def bar_roots(work: Work, transpose: int) -> list[int]:
    """Root pitch class per bar: the diatonic triad (I IV V vi, or i iv V VI) covering most of the bar."""
    n_bars = max(1, int(np.ceil(work.length_q / work.bar_q)))
    weight = np.zeros((n_bars, 12))
    for voice in work.voices:
        for pitch, onset, dur in voice:
            weight[min(int(onset // work.bar_q), n_bars - 1), pitch % 12] += dur
    roots = MINOR_CHORDS if work.mode == "minor" else MAJOR_CHORDS
    third = (3, 3, 4, 4) if work.mode == "minor" else (4, 4, 4, 3)
    out = []
    for w in weight:
        scores = [w[(work.tonic_pc + r) % 12] + w[(work.tonic_pc + r + th) % 12] + w[(work.tonic_pc + r + 7) % 12]
                  for r, th in zip(roots, third)]
        out.append((work.tonic_pc + roots[int(np.argmax(scores))] + transpose) % 12)
    return out


def groove_layer(work: Work, sec_per_q: float, transpose: int, rng: np.random.Generator) -> tuple[Track, Track]:
    """A drum pattern (kick, snare on the back beats, hats on half beats) and a root-fifth bass line."""
    beats_per_bar = max(1, int(round(work.bar_q / work.beat_q)))
    drums, bass = [], []
    for bar, root in enumerate(bar_roots(work, transpose)):
        bar_t = bar * work.bar_q * sec_per_q
        beat_s = work.beat_q * sec_per_q
        for b in range(beats_per_bar):
            t = bar_t + b * beat_s
            if b == 0 or (beats_per_bar == 4 and b == 2):
                drums.append((KICK, t, t + 0.1, int(rng.integers(95, 115))))
            if b % 2 == 1:
                drums.append((SNARE, t, t + 0.1, int(rng.integers(80, 105))))
            for h in (0.0, 0.5):
                drums.append((HAT, t + h * beat_s, t + h * beat_s + 0.05, int(rng.integers(55, 80))))
        bass_pitch = 36 + root
        half = (beats_per_bar // 2) * beat_s if beats_per_bar > 1 else 0.5 * beat_s
        bass.append((bass_pitch, bar_t, bar_t + half * 0.9, int(rng.integers(85, 105))))
        bass.append((bass_pitch + 7, bar_t + half, bar_t + work.bar_q * sec_per_q * 0.95, int(rng.integers(80, 100))))
    end = work.length_q * sec_per_q
    drums = [n for n in drums if n[1] < end]
    bass = [(p, s, min(e, end), v) for p, s, e, v in bass if s < end]
    return (Track(0, True, "drums", tuple(drums)),
            Track(int(rng.choice(BASS_PROGRAMS)), False, "bass", tuple(bass)))


def choose_programs(genre: str, n_voices: int, cfg: ArrangeConfig, rng: np.random.Generator) -> tuple[str, list[int]]:
    """Instrument family tag and one GM program per voice."""
    if n_voices > 1 and rng.random() < cfg.p_mixed:
        fams = list(FAMILIES)
        return "ensemble", [int(rng.choice(FAMILIES[fams[int(rng.integers(len(fams)))]])) for _ in range(n_voices)]
    usual = GENRE_FAMILIES.get(genre, tuple(FAMILIES))
    pool = tuple(FAMILIES) if rng.random() < cfg.p_any_family else usual
    family = pool[int(rng.integers(len(pool)))]
    if n_voices > 1 and family in SECTIONS and rng.random() < cfg.p_section:
        section = SECTIONS[family]
        return family, [section[min(i, len(section) - 1)] for i in range(n_voices)]
    return family, [int(rng.choice(FAMILIES[family]))] * n_voices


def play_through(work: Work, plays: int) -> Work:
    """The work played ``plays`` times back to back (each repeat starts on the next whole beat)."""
    if plays <= 1:
        return work
    period = float(np.ceil(work.length_q / work.beat_q) * work.beat_q)
    voices = tuple(tuple((p, o + k * period, d) for k in range(plays) for p, o, d in v) for v in work.voices)
    return replace(work, voices=voices, length_q=period * (plays - 1) + work.length_q)


def arrange(work: Work, rng: np.random.Generator, cfg: ArrangeConfig = ArrangeConfig()) -> Arrangement:
    """Pick instruments, tempo, transposition and dynamics for one rendering of a work."""
    lo, hi = GENRE_BPM.get(work.genre, (70.0, 120.0))
    bpm = float(rng.uniform(lo, hi) * rng.uniform(*cfg.bpm_scale))
    bpm = round(bpm, 1)
    sec_per_q = 60.0 / (bpm * work.beat_q)
    plays = int(np.clip(np.ceil(cfg.min_play_s / (work.length_q * sec_per_q)), 1, cfg.max_plays))
    work = play_through(work, plays)
    transpose = choose_transpose(work, *cfg.transpose, rng)
    family, programs = choose_programs(work.genre, len(work.voices), cfg, rng)
    tracks = []
    for i, voice in enumerate(work.voices):
        base = rng.uniform(88, 108) if i == 0 else rng.uniform(62, 86)
        tracks.append(Track(programs[i], False, "voice", humanise(voice, sec_per_q, transpose, base, cfg, rng)))
    genre = work.genre
    if rng.random() < cfg.p_drums:
        tracks.extend(groove_layer(work, sec_per_q, transpose, rng))
        genre = DRUM_GENRE
    mode = work.key_name.split(" ", 1)[1] if " " in work.key_name else work.mode
    return Arrangement(
        tracks=tuple(tracks),
        genre=genre,
        instrument=family,
        programs=tuple(programs),
        bpm=bpm,
        sec_per_q=sec_per_q,
        transpose=transpose,
        key_name=f"{PITCH_NAMES[(work.tonic_pc + transpose) % 12]} {mode}",
        duration_s=max(n[2] for t in tracks for n in t.notes),
    )
