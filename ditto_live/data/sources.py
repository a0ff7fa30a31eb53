"""Symbolic sources: the works the music21 corpus ships, parsed into plain note lists.

A work is one piece (a chorale, a folk tune inside an ABC collection, a Mass movement). Parsing goes
through music21 with repeats expanded; what fails to parse is reported, never fatal (the caller counts).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# source name -> (music21 corpus folder, genre tag)
SOURCES: dict[str, tuple[str, str]] = {
    "bach": ("bach", "chorale"),
    "essen": ("essenFolksong", "folk"),
    "oneill": ("oneills1850", "irish folk"),
    "palestrina": ("palestrina", "renaissance"),
    "ryans": ("ryansMammoth", "fiddle"),
}
DEFAULT_SOURCES = ("bach", "essen", "oneill", "palestrina")
SCORE_SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn", ".abc", ".mid", ".midi")


@dataclass(frozen=True)
class WorkRef:
    """Where one work lives: a file, and the tune number inside an ABC collection (None: whole file)."""

    source: str  # key of SOURCES
    path: str  # score file
    number: int | None = None  # ABC "X:" number, None for single-work files

    @property
    def work_id(self) -> str:
        """Stable id (the split hashes it): source/filename[#number]."""
        tail = f"#{self.number}" if self.number is not None else ""
        return f"{self.source}/{Path(self.path).name}{tail}"


@dataclass(frozen=True)
class Work:
    """A parsed work, in quarter-note time, voices ordered top first (index 0 = the melody)."""

    ref: WorkRef
    genre: str  # genre tag of the source
    voices: tuple[tuple[tuple[int, float, float], ...], ...]  # per voice: (midi pitch, onset q, duration q)
    tonic_pc: int  # pitch class of the key's tonic
    mode: str  # "major" | "minor"
    key_name: str  # e.g. "F major"
    bar_q: float  # quarters per bar
    beat_q: float  # quarters per beat (1.5 in compound meters)
    length_q: float  # total length in quarters (repeats expanded)
    title: str  # for the card and the jsonl


def abc_numbers(path: str | Path) -> list[int]:
    """Tune numbers ("X:" lines) of an ABC collection, in file order."""
    text = Path(path).read_text(encoding="latin-1")
    return [int(m) for m in re.findall(r"^X:\s*(\d+)", text, flags=re.MULTILINE)]


def list_works(sources: tuple[str, ...] | list[str]) -> list[WorkRef]:
    """Every work of the named sources, in a stable (sorted) order."""
    import music21

    base = Path(music21.__file__).parent / "corpus"
    refs: list[WorkRef] = []
    for name in sources:
        if name not in SOURCES:
            raise ValueError(f"unknown source {name!r}; known: {', '.join(SOURCES)}")
        folder = base / SOURCES[name][0]
        for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in SCORE_SUFFIXES):
            if path.suffix.lower() == ".abc":
                refs.extend(WorkRef(name, str(path), n) for n in abc_numbers(path))
            else:
                refs.append(WorkRef(name, str(path)))
    return refs


def _voices(score) -> list[tuple[tuple[int, float, float], ...]]:
    """Notes per part (ties merged, chords split into pitches), parts with notes only, score order."""
    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    voices = []
    for part in parts:
        notes = []
        part.stripTies(inPlace=True)
        for el in part.flatten().notes:
            dur = float(el.duration.quarterLength)
            if dur <= 0:  # grace notes
                continue
            for p in el.pitches:
                notes.append((int(p.midi), float(el.offset), dur))
        if notes:
            voices.append(tuple(sorted(notes, key=lambda n: (n[1], -n[0]))))
    return voices


MINOR_MODES = ("minor", "aeolian", "dorian", "phrygian", "locrian")  # modes tagged "minor"; the rest "major"
ABC_MODE = re.compile(r"^K:[ \t]*[A-G][#b]?[ \t]*(m|min|maj|ion|aeo|dor|phr|lyd|mix|loc)", re.IGNORECASE | re.MULTILINE)


def abc_states_mode(path: str | Path, number: int | None) -> bool:
    """Whether the tune's ABC "K:" field names a mode ("K:Em", "K:Ador"); "K:G" alone is only a signature."""
    text = Path(path).read_text(encoding="latin-1")
    if number is not None:
        blocks = re.split(r"(?m)^(?=X:)", text)
        text = next((b for b in blocks if re.match(rf"X:\s*{number}\b", b)), "")
    return ABC_MODE.search(text) is not None


def work_key(score, mode_stated: bool = True, final_pc: int | None = None) -> tuple[int, str, str]:
    """(tonic pitch class, "major" | "minor", name).

    The notated key when the score states a mode (MusicXML <mode>, ABC "K:Em"). Otherwise, with a key
    signature (Essen tunes write only that), its major or its relative minor: the one whose tonic is
    the final note ``final_pc`` (tunes end on the tonic), else the one music21's key analysis
    (Krumhansl-Schmuckler) ranks higher. Without a signature, the analysis alone.
    """
    from music21 import key

    k = score.recurse().getElementsByClass(key.Key).first()
    if k is None or not k.mode or not mode_stated:
        sig = score.recurse().getElementsByClass(key.KeySignature).first()
        found = score.analyze("key")
        if sig is not None:
            major, minor = sig.asKey("major"), sig.asKey("minor")
            by_final = [c for c in (major, minor) if c.tonic.pitchClass == final_pc]
            ranked = [a for a in [found, *found.alternateInterpretations] if a.sharps == sig.sharps
                      and a.mode in ("major", "minor")]
            found = by_final[0] if by_final else (ranked[0] if ranked else found)
        k = found
    mode = "minor" if k.mode in MINOR_MODES else "major"
    return int(k.tonic.pitchClass), mode, f"{k.tonic.name} {mode}"


def parse_work(ref: WorkRef) -> Work:
    """Parse one work with music21 and reduce it to note lists. Raises on anything unusable."""
    from music21 import bar, converter, meter, repeat

    kwargs: dict[str, Any] = {"number": ref.number} if ref.number is not None else {}
    score = converter.parse(ref.path, storePickle=False, **kwargs)
    if hasattr(score, "scores"):  # an Opus: take its first score
        score = score.scores[0]
    try:
        if score.recurse().getElementsByClass((bar.Repeat, repeat.RepeatExpression)).first() is not None:
            score = score.expandRepeats()
    except Exception as exc:  # music21 refuses some repeat structures; play them once
        log.debug("%s: repeats not expanded (%s)", ref.work_id, exc)
    voices = _voices(score)
    if not voices:
        raise ValueError("no notes")
    voices.sort(key=lambda v: -sum(n[0] for n in v) / len(v))  # top voice first
    stated = abc_states_mode(ref.path, ref.number) if ref.path.lower().endswith(".abc") else True
    final_pc = max(voices[-1], key=lambda n: (n[1], -n[0]))[0] % 12  # last (lowest) note of the lowest voice
    tonic_pc, mode, key_name = work_key(score, stated, final_pc)
    ts = score.recurse().getElementsByClass(meter.TimeSignature).first()
    bar_q = float(ts.barDuration.quarterLength) if ts is not None else 4.0
    beat_q = float(ts.beatDuration.quarterLength) if ts is not None else 1.0
    length_q = max(n[1] + n[2] for v in voices for n in v)
    title = (score.metadata.title if score.metadata is not None else None) or Path(ref.path).stem
    return Work(
        ref=ref,
        genre=SOURCES[ref.source][1],
        voices=tuple(voices),
        tonic_pc=tonic_pc,
        mode=mode,
        key_name=key_name,
        bar_q=bar_q,
        beat_q=beat_q,
        length_q=float(length_q),
        title=str(title),
    )
