"""Control targets from a job spec, on the clip's frame grid, and the engine controls of each model window.

Targets are built once for the whole clip (each kind's ``target`` in ``ditto_live/controls/``);
:func:`window_controls` cuts them into the engine's differentiable controls for one model window, so
clips longer than a window are generated window by window (each continuing the last). Every bad input --
a missing file, a path outside the allowed roots, a MIDI file with no notes, a region outside the clip,
an unknown tag -- raises a ``UsageError`` subclass with one line that names it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from ditto_live.controls import KINDS, ClipTarget, TargetContext, TextAudio, WindowSlice, painting
from ditto_live.engine.audio import MelConfig, MelFrontEnd
from ditto_live.engine.controls import Control
from ditto_live.engine.controls.masked import masked_control
from ditto_live.engine.tags import TagVocab, tempo_bucket
from ditto_live.generation.jobspec import JobSpec, JobSpecError

if TYPE_CHECKING:
    from ditto_live.engine.clap import ClapModel
    from ditto_live.engine.vocoder import Vocoder
    from ditto_live.generation.text_encoder import SentenceEmbedder

log = logging.getLogger(__name__)


class TextModel:
    """The bundle's text-audio model as the text control reads it (``controls.TextAudio``): encode_audio(mel)
    and encode_text(list[str]), the captions through a sentence encoder first."""

    def __init__(self, clap: ClapModel, sentence_encoder: SentenceEmbedder):
        self.clap, self.sentences = clap, sentence_encoder

    @property
    def device(self) -> torch.device:
        return next(self.clap.parameters()).device

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


def build_targets(spec: JobSpec, mel: MelConfig, frames: int, allowed_roots: Iterable[str],
                  front_end: MelFrontEnd) -> list[ClipTarget[Any]]:
    """Every control of the job -> its target over the clip's ``frames`` frames (its kind's ``target``)."""
    ctx = TargetContext(spec, mel, frames, tuple(allowed_roots), front_end)
    targets = [KINDS[c.type].target(c, f"controls[{i}]", ctx) for i, c in enumerate(spec.controls)]
    for name, kind in KINDS.items():
        if kind.once and sum(t.kind == name for t in targets) > 1:
            raise JobSpecError(f"job.controls: at most one {name} control")
    return targets


def seam_of(targets: list[ClipTarget[Any]]) -> int:
    """Frames the clip is generated past its end, then dropped (a loop's seam; 0: none)."""
    return max((t.payload.seam for t in targets), default=0)


def wrap_for_loop(targets: list[ClipTarget[Any]], seam: int) -> None:
    """Extend every target by ``seam`` frames that repeat its start (each payload's ``wrapped``): a loop
    generates its seam (the frames after the end that must equal the first ones), then drops it."""
    for t in targets:
        t.payload = t.payload.wrapped(seam)


def _cropped(c: Control, length: int) -> Control:
    """The control applied to the first ``length`` frames of the window (its sketch, if any, covers them)."""
    feature, sketch = c.feature, c.sketch
    return dataclasses.replace(c, loss=lambda x0: c.loss(x0[..., :length]),
                               feature=None if feature is None else (lambda x0: feature(x0[..., :length])),
                               sketch=None if sketch is None else dataclasses.replace(sketch, move=lambda x0: (
                                   torch.cat([sketch.move(x0[..., :length]), x0[..., length:]], -1))))


def continuation(previous: Tensor, length: int) -> Control:
    """The window must open with ``previous`` [1, F, o]: the chain between windows (and stream windows)."""
    o = previous.shape[-1]
    ref = torch.zeros(previous.shape[0], previous.shape[1], length, device=previous.device)
    mask = torch.zeros(length, device=previous.device)
    ref[..., :o] = previous
    mask[:o] = 1
    return masked_control("continuation", ref, mask, sketch_share=painting.SKETCH_SHARE)


def window_controls(targets: list[ClipTarget[Any]], mel: MelConfig, start: int, length: int,
                    text_model: TextAudio | None = None, previous: Tensor | None = None,
                    head: Tensor | None = None, is_last: bool = True, so_far: Tensor | None = None,
                    device: str = "cpu", vocoder: Vocoder | None = None,
                    front: MelFrontEnd | None = None) -> list[Control]:
    """Engine controls for the window holding clip frames [start, start + length), on ``device``.

    ``previous`` [1, F, o]: the generated frames this window must open with (chaining);
    ``head`` [1, F, o]: the clip's first frames, which a loop's last window must end on;
    ``so_far`` [1, F, start]: the clip generated before this window (structure spans windows);
    ``vocoder``: the neural vocoder that will render the clip (the melody reads its spectrum), if any;
    ``front``: the plan's waveform -> mel front end (a melody's sketch is rendered through it), if any.
    Targets and weight tables are moved to ``device`` here, once per window, not at every step.
    """
    w = WindowSlice(mel, start, length, str(device), is_last, text_model, head, so_far, vocoder, front)
    out = [c for t in targets if (c := KINDS[t.kind].window(t, w)) is not None]
    if previous is not None:
        out.append(continuation(previous.to(device), length))
    return [_cropped(c, length) for c in out]
