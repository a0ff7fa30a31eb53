"""Control targets from a job spec: MIDI files, reference WAVs, curves and forms on the clip's frame grid.

Targets are built once for the whole clip (``ClipTarget``); :func:`window_controls` cuts them into the
engine's differentiable controls for one model window, so clips longer than a window are generated
window by window (each continuing the last by outpainting). Every bad input -- a missing file, a
path outside the allowed roots, a MIDI file with no notes, a region outside the clip, an unknown
tag -- raises a ``UsageError`` subclass with one line that names it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ditto_live.engine.audio import MelConfig, MelFrontEnd
from ditto_live.engine.controls import Control
from ditto_live.engine.controls.intensity import (
    DEFAULT_HIGH_DB,
    DEFAULT_LOW_DB,
    band_weights,
    intensity_control,
    intensity_from_points,
    intensity_shape,
    seconds_per_unit,
)
from ditto_live.engine.controls.masked import loop_control, masked_control
from ditto_live.engine.controls.melody import chroma_weights, melody_control, melody_target
from ditto_live.engine.controls.structure import form_labels, labels_to_target, structure_control
from ditto_live.engine.controls.text import text_control
from ditto_live.engine.tags import TagVocab, tempo_bucket
from ditto_live.jobspec import ControlSpec, JobSpec, JobSpecError
from ditto_live.results import resolve_input_path

log = logging.getLogger(__name__)

DEFAULT_OVERLAP_S = 1.0  # outpaint overlap, loop seam and window-chaining overlap when not given
SSM_SIZE = 64  # resolution of the structure control's self-similarity matrix


@dataclass
class ClipTarget:
    """One control's target over the whole clip (frames of the clip's grid)."""

    kind: str  # control type (jobspec.CONTROL_TYPES)
    weight: float  # weight in the loss sum
    curve: Tensor | None = None  # intensity: RMS dB per frame [L]
    pitch: Tensor | None = None  # melody: pitch class per frame, -1 = none [L]
    labels: Tensor | None = None  # structure: section index per frame [L]
    reference: Tensor | None = None  # inpaint / outpaint: reference mel on the clip grid [1, F, L]
    mask: Tensor | None = None  # inpaint / outpaint: 1 where the reference is enforced [L]
    overlap: int = 0  # loop: seam length in frames
    caption: str = ""  # text
    info: dict[str, Any] = field(default_factory=dict)  # what the sidecar records about the target


class TextModel:
    """Adapter: the engine's text control wants encode_audio(mel) and encode_text(list[str])."""

    def __init__(self, clap: Any, sentence_encoder: Any):
        self.clap, self.sentences = clap, sentence_encoder

    def encode_audio(self, mel: Tensor) -> Tensor:
        return self.clap.encode_audio(mel)

    def encode_text(self, captions: list[str]) -> Tensor:
        param = next(self.clap.parameters())
        emb = torch.as_tensor(self.sentences.encode(list(captions)), dtype=param.dtype, device=param.device)
        return self.clap.encode_text(emb)


def encode_tags(spec: JobSpec, vocab: dict[str, list[str]]) -> Tensor:
    """The job's tags (tempo from the bpm) as a [4] long tensor; an unknown name is a JobSpecError."""
    if not vocab:
        if spec.tags:
            raise JobSpecError(f"job.tags: this model takes no tags (got {', '.join(spec.tags)})")
        return torch.zeros(4, dtype=torch.long)
    tv = TagVocab.from_dict(vocab)
    tags: dict[str, str | None] = dict(spec.tags)
    if "tempo" not in tags and "tempo" in tv.fields:
        bucket = tempo_bucket(spec.bpm)
        tags["tempo"] = bucket if bucket in tv.names[tv.fields.index("tempo")] else None
    try:
        return tv.encode(tags)
    except ValueError as exc:
        raise JobSpecError(f"job.tags: {exc}") from exc


def notes_from_midi(path: str, allowed_roots: Iterable[str]) -> list[list[float]]:
    """Notes [[pitch, start_s, duration_s], ...] of a MIDI file, timed by its tempo map; channel 10
    (General MIDI drums) is skipped."""
    import mido

    real = _input(path, allowed_roots, "MIDI file")
    try:
        midi = mido.MidiFile(str(real))
        messages = list(midi)  # iterating a MidiFile yields messages with .time in seconds
    except Exception as exc:  # mido raises many kinds on a bad file
        raise JobSpecError(f"{path}: not a readable MIDI file ({type(exc).__name__}{': ' * bool(str(exc))}{exc})") from exc
    now, sounding, notes = 0.0, {}, []
    for msg in messages:
        now += msg.time
        if msg.type not in ("note_on", "note_off") or msg.channel == 9:
            continue
        key = (msg.channel, msg.note)
        if msg.type == "note_on" and msg.velocity > 0:
            sounding.setdefault(key, now)
        elif key in sounding:
            begin = sounding.pop(key)
            if now > begin:
                notes.append([msg.note, begin, now - begin])
    if not notes:
        raise JobSpecError(f"{path}: the MIDI file has no notes")
    return sorted(notes, key=lambda n: (n[1], n[0]))


def reference_mel(path: str, allowed_roots: Iterable[str], front_end: MelFrontEnd) -> Tensor:
    """A WAV (any rate, mono or not) -> the model's normalised mel [1, F, M]."""
    import librosa
    import soundfile as sf

    real = _input(path, allowed_roots, "reference WAV")
    try:
        audio, sr = sf.read(str(real), dtype="float32", always_2d=True)
    except Exception as exc:
        raise JobSpecError(f"{path}: not a readable audio file ({exc})") from exc
    mono = audio.mean(1)
    if len(mono) < front_end.cfg.hop_length * 2:
        raise JobSpecError(f"{path}: the reference audio is empty or too short")
    if sr != front_end.cfg.sample_rate:
        mono = librosa.resample(mono, orig_sr=sr, target_sr=front_end.cfg.sample_rate)
    with torch.no_grad():
        return front_end(torch.from_numpy(np.ascontiguousarray(mono))[None].to(front_end.window.device))[0].cpu()


def _input(path: Any, allowed_roots: Iterable[str], what: str):
    if not isinstance(path, str) or not path:
        raise JobSpecError(f"{what}: expected a path")
    try:
        return resolve_input_path(path, allowed_roots)
    except FileNotFoundError as exc:
        raise JobSpecError(f"{what} {path!r} not found") from exc


def _frames_of(value: Any, unit: str, bpm: float, frame_rate: float, key: str) -> int:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise JobSpecError(f"{key}: expected a number >= 0")
    try:
        return int(round(float(value) * seconds_per_unit(unit, bpm) * frame_rate))
    except ValueError as exc:
        raise JobSpecError(f"{key}: {exc}") from exc


def build_target(c: ControlSpec, index: int, spec: JobSpec, mel: MelConfig, frames: int,
                 allowed_roots: Iterable[str], front_end: MelFrontEnd) -> ClipTarget:
    """One control of a job -> its target over the clip's ``frames`` frames."""
    p, fr, key = c.params, mel.frame_rate, f"controls[{index}]"
    unit = p.get("unit", "seconds" if c.type in ("inpaint", "outpaint", "loop") else "beats")
    if unit not in ("seconds", "beats", "bars"):
        raise JobSpecError(f"{key}.unit: {unit!r} is not one of seconds, beats, bars")
    t = ClipTarget(c.type, c.weight)
    if c.type == "intensity":
        if "points" in p:
            pts = p["points"]
            if not (isinstance(pts, list) and pts and all(isinstance(q, list) and len(q) == 2 for q in pts)):
                raise JobSpecError(f"{key}.points: expected [[time, dB], ...]")
            t.curve = intensity_from_points(pts, unit, spec.bpm, frames, fr)
        else:
            low, high = float(p.get("low_db", DEFAULT_LOW_DB)), float(p.get("high_db", DEFAULT_HIGH_DB))
            t.curve = intensity_shape(p["shape"], frames, low, high)
        t.info = {k: v for k, v in p.items() if k != "points"} | {"points": p.get("points")}
    elif c.type == "melody":
        notes = p["notes"] if "notes" in p else notes_from_midi(p["midi"], allowed_roots)
        note_unit = unit if "notes" in p else "seconds"
        t.pitch = melody_target(notes, note_unit, spec.bpm, frames, fr)
        if int((t.pitch >= 0).sum()) == 0:
            raise JobSpecError(f"{key}: no note sounds inside the clip")
        t.info = {"notes": len(notes), "voiced_frames": int((t.pitch >= 0).sum())}
    elif c.type == "structure":
        t.labels = form_labels(p["form"], frames)
        t.info = {"form": p["form"].upper()}
    elif c.type == "inpaint":
        ref = reference_mel(p["reference"], allowed_roots, front_end)
        start = _frames_of(p.get("start"), unit, spec.bpm, fr, f"{key}.start")
        end = _frames_of(p.get("end"), unit, spec.bpm, fr, f"{key}.end")
        usable = min(frames, ref.shape[-1])
        if not start < end <= usable:
            raise JobSpecError(f"{key}: region {p.get('start')}-{p.get('end')} {unit} is outside the clip "
                               f"({usable / fr:.2f} s of reference within {frames / fr:.2f} s)")
        t.reference = torch.zeros(ref.shape[0], ref.shape[1], frames)
        t.reference[..., :usable] = ref[..., :usable]
        t.mask = torch.zeros(frames)
        t.mask[:usable] = 1
        t.mask[start:end] = 0
        t.info = {"reference": p["reference"], "region_frames": [start, end]}
    elif c.type == "outpaint":
        ref = reference_mel(p["reference"], allowed_roots, front_end)
        o = _frames_of(p.get("overlap", DEFAULT_OVERLAP_S), unit, spec.bpm, fr, f"{key}.overlap")
        if not 0 < o <= min(ref.shape[-1], frames // 2):
            raise JobSpecError(f"{key}.overlap: must be > 0 and at most half the clip and the reference length")
        t.reference = torch.zeros(ref.shape[0], ref.shape[1], frames)
        t.reference[..., :o] = ref[..., -o:]
        t.mask = torch.zeros(frames)
        t.mask[:o] = 1
        t.info = {"reference": p["reference"], "overlap_frames": o}
    elif c.type == "loop":
        if "overlap" in p:
            t.overlap = _frames_of(p["overlap"], unit, spec.bpm, fr, f"{key}.overlap")
        else:  # half a second, or a quarter of a short clip
            t.overlap = min(int(round(DEFAULT_OVERLAP_S / 2 * fr)), frames // 4)
        if not 0 < t.overlap <= frames // 2:
            raise JobSpecError(f"{key}.overlap: must be > 0 and at most half the clip")
        t.info = {"overlap_frames": t.overlap}
    elif c.type == "text":
        t.caption = p["caption"]
        t.info = {"caption": t.caption}
    return t


def build_targets(spec: JobSpec, mel: MelConfig, frames: int, allowed_roots: Iterable[str],
                  front_end: MelFrontEnd) -> list[ClipTarget]:
    targets = [build_target(c, i, spec, mel, frames, allowed_roots, front_end) for i, c in enumerate(spec.controls)]
    if sum(t.kind == "loop" for t in targets) > 1:
        raise JobSpecError("job.controls: at most one loop control")
    return targets


def wrap_for_loop(targets: list[ClipTarget], seam: int) -> None:
    """Extend every per-frame target by ``seam`` frames that repeat its start: a loop generates its seam
    (the frames after the end that must equal the first ones), then drops it."""
    for t in targets:
        if t.curve is not None:
            t.curve = torch.cat([t.curve, t.curve[:seam]])
        if t.pitch is not None:
            t.pitch = torch.cat([t.pitch, t.pitch[:seam]])
        if t.labels is not None:
            t.labels = torch.cat([t.labels, t.labels[:seam]])
        if t.reference is not None:
            t.reference = torch.cat([t.reference, torch.zeros(*t.reference.shape[:-1], seam)], -1)
            t.mask = torch.cat([t.mask, torch.zeros(seam)])


@lru_cache(maxsize=8)
def _weights(n_mels: int, fmin: float, fmax: float, device: str) -> tuple[Tensor, Tensor]:
    return band_weights(n_mels, fmin, fmax).to(device), chroma_weights(n_mels, fmin, fmax).to(device)


def _cropped(c: Control, length: int) -> Control:
    """The control applied to the first ``length`` frames of the window."""
    return Control(c.name, lambda x0: c.loss(x0[..., :length]), c.weight,
                   None if c.feature is None else (lambda x0: c.feature(x0[..., :length])), c.target)


def _opening(kind: str, frames: Tensor, length: int, at_end: bool = False, weight: float = 1.0) -> Control:
    """A masked control that pins ``frames`` [1, F, o] at the start (or the end) of a ``length``-frame window."""
    o = frames.shape[-1]
    ref = torch.zeros(frames.shape[0], frames.shape[1], length, device=frames.device)
    mask = torch.zeros(length, device=frames.device)
    span = slice(length - o, length) if at_end else slice(0, o)
    ref[..., span] = frames
    mask[span] = 1
    return masked_control(kind, ref, mask, weight)


def window_controls(targets: list[ClipTarget], mel: MelConfig, start: int, length: int,
                    text_model: Any = None, previous: Tensor | None = None, head: Tensor | None = None,
                    is_last: bool = True, so_far: Tensor | None = None, device: str = "cpu") -> list[Control]:
    """Engine controls for the window holding clip frames [start, start + length), on ``device``.

    ``previous`` [1, F, o]: the generated frames this window must open with (chaining);
    ``head`` [1, F, o]: the clip's first frames, which a loop's last window must end on;
    ``so_far`` [1, F, start]: the clip generated before this window (structure spans windows).
    Targets and weight tables are moved to ``device`` here, once per window, not at every step.
    """
    bw, cw = _weights(mel.n_mels, mel.fmin, mel.fmax, str(device))
    stop = start + length
    out: list[Control] = []
    for t in targets:
        if t.kind == "intensity":
            out.append(intensity_control(t.curve[start:stop].to(device), mel.min_db, mel.max_db, bw, weight=t.weight))
        elif t.kind == "melody":
            if (t.pitch[start:stop] >= 0).any():
                out.append(melody_control(t.pitch[start:stop].to(device), mel.min_db, mel.max_db, cw, weight=t.weight))
        elif t.kind == "structure":
            if so_far is not None and start > 0:
                target = labels_to_target(t.labels[:stop], SSM_SIZE).to(device)
                out.append(structure_control(target, mel.min_db, mel.max_db, t.weight, so_far[..., :start].to(device)))
            else:
                target = labels_to_target(t.labels[start:stop], SSM_SIZE).to(device)
                out.append(structure_control(target, mel.min_db, mel.max_db, weight=t.weight))
        elif t.kind in ("inpaint", "outpaint"):
            if t.mask[start:stop].any():
                out.append(masked_control(t.kind, t.reference[..., start:stop].to(device), t.mask[start:stop].to(device),
                                          t.weight))
        elif t.kind == "loop":
            if start == 0 and is_last:
                out.append(loop_control(t.overlap, t.weight))
            elif is_last and head is not None:
                out.append(_opening("loop", head[..., :t.overlap].to(device), length, at_end=True, weight=t.weight))
        elif t.kind == "text":
            if text_model is None:
                raise JobSpecError("the text control needs a text-audio model; this model bundle has none")
            out.append(text_control(text_model, t.caption, t.weight))
    out = [_cropped(c, length) for c in out]
    if previous is not None:
        out.append(_cropped(_opening("continuation", previous.to(device), length), length))
    return out
