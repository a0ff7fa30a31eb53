"""The melody control: notes (or a MIDI file's) as a pitch per frame, followed through the mel's chroma,
in the written register, and on the spectrum the bundle's vocoder will render (engine/controls/melody.py);
judged by pYIN + mir_eval (raw pitch and raw chroma accuracy) and by librosa's chroma argmax."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ditto_live.controls.base import (
    CliFlags,
    CliHelpers,
    ClipTarget,
    EvalTask,
    EvalWindow,
    Kind,
    Measuring,
    TargetContext,
    WindowSlice,
    check,
    read_input,
    repeat_start,
    unit_of,
)
from ditto_live.generation.spec import ControlSpec, JobSpecError, Range

if TYPE_CHECKING:  # the engine and torch load when a target is built, not on import (controls/base.py)
    import numpy as np
    from matplotlib.axes import Axes
    from torch import Tensor

    from ditto_live.engine.audio import MelConfig, MelFrontEnd
    from ditto_live.engine.controls import Control
    from ditto_live.engine.controls.melody import AudiblePitch, RegisterWeights

PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
REGISTER = True  # follow the written octave too (engine/controls/melody.py); "register": false = octave-free chroma
SKETCH_SHARE = 0.4  # of DITTO-2's start, from the written notes rendered and inverted (chosen on val, docs/bench.md)
MIN_VOICED = 0.3  # an evaluation case needs a note in at least this share of frames
EVAL_BASE_PITCH = 60  # the evaluation's truth pitch classes become MIDI notes in the octave above middle C


@dataclass(frozen=True)
class MelodyTarget:
    """The melody control's target: a pitch per frame over the clip."""

    pitch: Tensor  # [L] MIDI pitch per frame, -1 = none
    seam = 0  # generates nothing past the clip's end

    def wrapped(self, seam: int) -> MelodyTarget:
        return MelodyTarget(repeat_start(self.pitch, seam))


def validate(params: dict[str, Any], key: str) -> None:
    check("notes" in params or "midi" in params, f"{key}: melody needs notes or midi")
    if "notes" in params:
        notes = params["notes"]
        check(isinstance(notes, list) and len(notes) > 0, f"{key}.notes: expected a non-empty list")
        for j, n in enumerate(notes):
            check(isinstance(n, list) and len(n) == 3 and all(Range(-1e9, 1e9).contains(v) for v in n),
                  f"{key}.notes[{j}]: expected [pitch, start, duration]")
            check(0 <= n[0] <= 127 and 0 < n[2] <= 1e4 and 0 <= n[1] <= 1e4,
                  f"{key}.notes[{j}]: pitch 0-127, 0 <= start <= 10000, 0 < duration <= 10000")
    check(isinstance(params.get("register", REGISTER), bool),
          f"{key}.register: expected true (the written octave) or false (pitch class only)")


def notes_from_midi(path: str, allowed_roots: Iterable[str]) -> list[list[float]]:
    """Notes [[pitch, start_s, duration_s], ...] of a MIDI file, timed by its tempo map; channel 10
    (General MIDI drums) is skipped."""
    import mido

    real = read_input(path, allowed_roots, "MIDI file")
    try:
        midi = mido.MidiFile(str(real))
        messages = list(midi)  # iterating a MidiFile yields messages with .time in seconds
    except Exception as exc:  # mido raises many kinds on a bad file
        raise JobSpecError(f"{path}: not a readable MIDI file ({type(exc).__name__}{': ' * bool(str(exc))}{exc})") from exc
    now, notes = 0.0, []
    sounding: dict[tuple[int, int], float] = {}  # (channel, note) -> onset s
    for msg in messages:
        now += msg.time
        if msg.type not in ("note_on", "note_off") or msg.channel == 9:
            continue
        k = (msg.channel, msg.note)
        if msg.type == "note_on" and msg.velocity > 0:
            sounding.setdefault(k, now)
        elif k in sounding:
            begin = sounding.pop(k)
            if now > begin:
                notes.append([msg.note, begin, now - begin])
    if not notes:
        raise JobSpecError(f"{path}: the MIDI file has no notes")
    return sorted(notes, key=lambda n: (n[1], n[0]))


def target(c: ControlSpec, key: str, ctx: TargetContext) -> ClipTarget[MelodyTarget]:
    from ditto_live.engine.controls.melody import melody_target

    p = c.params
    notes = p["notes"] if "notes" in p else notes_from_midi(p["midi"], ctx.allowed_roots)
    unit = unit_of(c, "beats", key) if "notes" in p else "seconds"
    pitch = melody_target(notes, unit, ctx.spec.bpm, ctx.frames, ctx.mel.frame_rate, keep_octave=True)
    if int((pitch >= 0).sum()) == 0:
        raise JobSpecError(f"{key}: no note sounds inside the clip")
    info = {"notes": len(notes), "voiced_frames": int((pitch >= 0).sum()), "register": bool(p.get("register", REGISTER))}
    return ClipTarget(c.type, c.weight, MelodyTarget(pitch), info, c.params)


@lru_cache(maxsize=8)
def _weights(n_mels: int, fmin: float, fmax: float, device: str) -> Tensor:
    from ditto_live.engine.controls.melody import chroma_weights

    return chroma_weights(n_mels, fmin, fmax).to(device)


@lru_cache(maxsize=8)
def _register(n_mels: int, fmin: float, fmax: float, device: str) -> RegisterWeights:
    from ditto_live.engine.controls.melody import register_weights

    rw = register_weights(n_mels, fmin, fmax)
    return dataclasses.replace(rw, contrast=rw.contrast.to(device), octave=rw.octave.to(device))


@lru_cache(maxsize=8)
def _spectrum_contrast(n_fft: int, sample_rate: int, device: str) -> Tensor:
    from ditto_live.engine.controls.melody import spectrum_contrast_weights

    return spectrum_contrast_weights(n_fft, sample_rate).to(device)


def _audible(vocoder: Any, sample_rate: int, device: str) -> AudiblePitch | None:
    """The audible-pitch term's inputs for a neural vocoder (one with ``log_power``); None for Griffin-Lim."""
    from ditto_live.engine.controls.melody import AudiblePitch

    if vocoder is None or not hasattr(vocoder, "log_power"):
        return None
    return AudiblePitch(vocoder.log_power, _spectrum_contrast(vocoder.cfg.n_fft, sample_rate, device))


def window(t: ClipTarget[MelodyTarget], w: WindowSlice) -> Control | None:
    from ditto_live.engine.controls.melody import melody_control

    pitch = t.payload.pitch[w.start:w.stop]
    if not (pitch >= 0).any():
        return None
    cw = _weights(w.mel.n_mels, w.mel.fmin, w.mel.fmax, w.device)
    voiced = pitch[pitch >= 0]
    register = t.params.get("register", REGISTER) and bool((voiced >= 12).all())  # below C0 nothing sounds
    rw = _register(w.mel.n_mels, w.mel.fmin, w.mel.fmax, w.device) if register else None
    audible = _audible(w.vocoder, w.mel.sample_rate, w.device) if register else None
    sketch = _sketch(pitch, w.mel, w.front) if register and w.front is not None else None
    return melody_control(pitch.to(w.device), w.mel.min_db, w.mel.max_db, cw, weight=t.weight, register=rw,
                          audible=audible, sketch=sketch, sketch_share=SKETCH_SHARE)


def _sketch(pitch: Tensor, mel: MelConfig, front: MelFrontEnd) -> Tensor:
    """The window's notes rendered and taken to the model's mel [1, 1, F, N] by the plan's front end: where
    DITTO-2 starts."""
    from ditto_live.engine.controls.melody import render_notes

    audio = render_notes(pitch, mel.sample_rate, mel.hop_length)
    return front.wav_to_mel(audio[None].to(front.filterbank.device))


def measure(t: ClipTarget[MelodyTarget], m: Measuring) -> dict[str, float]:
    from ditto_live.judges import independent as judges
    from ditto_live.judges import metrics

    pitch = t.payload.pitch.numpy()
    return {"melody_accuracy": metrics.melody_accuracy(m.audio, m.sample_rate, pitch),
            **judges.judge_melody(m.audio, m.sample_rate, pitch)}


def plot(ax: Axes, t: ClipTarget[MelodyTarget], m: Measuring) -> bool:
    import numpy as np

    from ditto_live.judges import metrics

    fr = m.mel.frame_rate
    achieved = metrics.chroma_argmax(m.audio, m.sample_rate)
    tgt = t.payload.pitch.numpy().astype(float)
    tgt[tgt < 0] = np.nan
    ax.plot(np.arange(len(tgt)) / fr, tgt % 12, "s", ms=3, label="target")
    ax.plot(np.arange(len(achieved)) / fr, achieved, ".", ms=2, alpha=0.7, label="achieved (librosa chroma argmax)")
    ax.set(yticks=range(12), yticklabels=PITCH_NAMES, ylabel="pitch class")
    return True


def example(seconds: float, reference: str) -> dict[str, Any]:
    """A rising scale, eight notes over the clip."""
    step = seconds / 8
    return {"type": "melody", "unit": "seconds",
            "notes": [[60 + p, i * step, step] for i, p in enumerate((0, 2, 4, 5, 7, 9, 11, 12))]}


def melody_notes(pitch: np.ndarray, frame_rate: float) -> list[list[float]]:
    """Pitch class per frame [N] (-1 none) -> notes [[pitch, start_s, dur_s]] that melody_target maps back
    to exactly these frames (starts a quarter frame early so rounding never drops a frame)."""
    notes: list[list[float]] = []
    i, n = 0, len(pitch)
    while i < n:
        j = i
        while j < n and pitch[j] == pitch[i]:
            j += 1
        if pitch[i] >= 0:
            start = max(0.0, (i - 0.25) / frame_rate)
            notes.append([EVAL_BASE_PITCH + int(pitch[i]), start, (j - 0.25) / frame_rate - start])
        i = j
    return notes


def eval_case(w: EvalWindow) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The held-out window's own tune (its truth pitch classes)."""
    controls = [{"type": "melody", "notes": melody_notes(w.pitch, w.frame_rate), "unit": "seconds"}]
    return controls, {"work": w.meta["work"], "voiced": round(float((w.pitch >= 0).mean()), 3)}


def eval_usable(w: EvalWindow) -> bool:
    return float((w.pitch >= 0).mean()) >= MIN_VOICED


EVALUATION = EvalTask(
    "Melody", eval_case, metric=("melody_accuracy", "Acc. (%)", 100.0),
    judges=(("melody_raw_pitch_accuracy", "pYIN raw pitch (%)", 100.0),
            ("melody_raw_chroma_accuracy", "pYIN raw chroma (%)", 100.0)),
    usable=eval_usable)


def from_flags(args: argparse.Namespace, cli: CliHelpers) -> list[dict[str, Any]]:
    """--melody then --notes: both may be given, as two melody controls."""
    register = {"register": False} if args.no_register else {}
    controls = []
    if args.melody:
        controls.append({"type": "melody", "midi": cli.path(args.melody), **register})
    if args.notes:
        controls.append({"type": "melody", "notes": cli.json(args.notes, "--notes"), "unit": args.unit, **register})
    return controls


CLI = CliFlags((
    ("--melody", dict(metavar="MIDI_FILE", help="melody from a MIDI file (highest sounding note)")),
    ("--notes", dict(metavar="JSON", help='melody notes "[[pitch, start, duration], ...]" in --unit')),
    ("--no-register", dict(action="store_true", help="melody as pitch classes only (the paper's octave-free "
                                                     "chroma), not in its written octave")),
), from_flags)

KIND = Kind("melody", validate, target, window, measure,
            "a tune: notes [[pitch, start, duration], ...] or midi (a file path), in its written octave "
            "(register, default true) or as pitch classes (register false)",
            plot=plot, example=example, cli=CLI, steps=20, lr=1e-2, decode_steps=1, evaluation=EVALUATION,
            keys=("notes", "midi", "register"))
