"""What every control kind shares: the clip target it builds (:class:`ClipTarget` around the kind's own
:class:`Payload`), the contexts its steps get, its ``generate`` flags (:class:`CliFlags`), how the evaluation
draws its cases (:class:`EvalTask`), and the one row (:class:`Kind`) that the table in
``ditto_live/controls/__init__.py`` holds for it. Nothing outside a kind's two modules (this package's and
``engine/controls/``'s) names it: the pipeline, the runner and the evaluation read its row.

Importing the table imports no torch, numpy or engine. Every subcommand's ``--help`` builds the ``generate``
parser, whose control flags are the kinds' own (``Kind.cli``), and must answer at once, not after torch's
1-2 s. The other ways were a torch-free table of flags beside KINDS (a second list of the kinds, tied to the
first only by a test: what ``Kind.cli`` replaced) or a second, torch-free file per kind (two homes for one
kind); so instead this module and each kind's import torch, numpy and the engine inside the functions that
compute, and name their types for annotations only (``TYPE_CHECKING``).
``tests/ditto_live/test_control_kinds.py`` fails if an import at the top brings torch back.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from ditto_live.generation.spec import ControlSpec, JobSpec, JobSpecError

if TYPE_CHECKING:
    import numpy as np
    import torch
    from matplotlib.axes import Axes
    from torch import Tensor

    from ditto_live.engine.audio import MelConfig, MelFrontEnd
    from ditto_live.engine.controls import Control
    from ditto_live.engine.vocoder import Vocoder

DEFAULT_OVERLAP_S = 1.0  # outpaint overlap, loop seam and window-chaining overlap when not given
SSM_SIZE = 64  # resolution of the structure control's self-similarity matrix
DEFAULT_LR = 5e-3  # Adam's learning rate on x_T for a kind that names none (Kind.lr), and for a job without controls


class Payload(Protocol):
    """What the pipeline asks of every kind's target data (each kind's module defines its own type)."""

    @property
    def seam(self) -> int:
        """Frames the clip is generated past its end, then dropped (a loop's seam; 0: none)."""
        ...

    def wrapped(self, seam: int) -> Payload:
        """The payload over ``seam`` more frames that repeat the clip's start (a loop generates them)."""
        ...


P = TypeVar("P", bound=Payload)


class TextAudio(Protocol):
    """The text-audio model a text control optimises against and its measurement reads: the engine's
    ``TextAudioModel`` (``generation.targets.TextModel`` around the bundle's own, the LAION-CLAP adapter), on
    a device."""

    @property
    def device(self) -> torch.device:
        """Where its weights are: the measured audio's mel goes there."""
        ...

    def encode_audio(self, mel: Tensor) -> Tensor:
        """mel [B, 1, F, N] -> unit-norm embeddings [B, D]."""
        ...

    def encode_text(self, captions: list[str]) -> Tensor:
        """captions -> unit-norm embeddings [len(captions), D]."""
        ...


@dataclass
class ClipTarget(Generic[P]):
    """One control's target over the whole clip (frames of the clip's grid)."""

    kind: str  # control type (a key of controls.KINDS)
    weight: float  # weight in the loss sum
    payload: P  # the kind's own target data over the clip (its module's payload type)
    info: dict[str, Any] = field(default_factory=dict)  # what the sidecar records about the target
    params: dict[str, Any] = field(default_factory=dict)  # the control's own job keys (e.g. melody's register)


@dataclass(frozen=True)
class TargetContext:
    """What building a target needs beyond the control itself."""

    spec: JobSpec  # the whole job (bpm, tags)
    mel: MelConfig  # the model's mel front end settings
    frames: int  # frames of the clip
    allowed_roots: tuple[str, ...]  # folders inputs may be read from
    front: MelFrontEnd  # waveform -> normalised mel (reference WAVs)


@dataclass(frozen=True)
class WindowSlice:
    """One model window of the clip, for cutting a target into an engine control."""

    mel: MelConfig  # mel settings (dB range, band edges)
    start: int  # first clip frame of the window
    length: int  # frames of the window
    device: str  # where the control's tensors live
    is_last: bool = True  # the clip's last window
    text_model: TextAudio | None = None  # for the text control
    head: Tensor | None = None  # [1, F, o] the clip's first frames (a loop's last window ends on them)
    so_far: Tensor | None = None  # [1, F, start] the clip generated before this window
    vocoder: Vocoder | None = None  # the bundle's neural vocoder (log_power), for the audible terms
    front: MelFrontEnd | None = None  # the plan's waveform -> mel front end (a melody renders its sketch
    # through it; None: no sketch)

    @property
    def stop(self) -> int:
        return self.start + self.length


@dataclass
class Measuring:
    """The delivered audio and what measuring it needs; the re-analysed mel is computed once, if asked for."""

    audio: np.ndarray  # [samples] vocoded audio
    sample_rate: int  # its rate
    front: MelFrontEnd  # the model's front end
    mel: MelConfig  # mel settings (dB range)
    text_model: TextAudio | None = None  # for the text control (None: text is not measured)

    @cached_property
    def remel(self) -> Tensor:
        """[1, 1, F, N] the audio analysed back into the model's normalised mel."""
        import torch

        with torch.no_grad():
            return self.front(torch.from_numpy(self.audio).float()[None].to(self.front.window.device)).cpu()

    @cached_property
    def remel_db(self) -> Tensor:
        """[F, N] the re-analysed mel in dB."""
        from ditto_live.engine.audio import norm_to_db

        return norm_to_db(self.remel[0, 0], self.mel.min_db, self.mel.max_db)


@dataclass(frozen=True)
class CliHelpers:
    """What turning flags into controls shares with the rest of ``generate``'s flags."""

    json: Callable[[str, str], Any]  # (JSON text or file, flag) -> value; a UsageError names the flag
    path: Callable[[str], str]  # a path as typed -> absolute (jobs may run elsewhere than the shell)


@dataclass(frozen=True)
class CliFlags:
    """A kind's ``ditto-live generate`` flags and how the parsed flags become its job controls."""

    flags: tuple[tuple[str, dict[str, Any]], ...]  # (flag, argparse add_argument keywords), in --help order
    controls: Callable[[argparse.Namespace, CliHelpers], list[dict[str, Any]]]  # -> its controls ([]: none asked)


@dataclass(frozen=True)
class EvalWindow:
    """One held-out test window that an evaluation case is anchored on, as a kind's case builder reads it."""

    index: int  # case number within the task (cycles the kind's variants: shapes, forms)
    meta: dict[str, Any]  # its windows.jsonl row (work, caption, tags, bpm)
    pitch: np.ndarray  # [N] truth pitch class per frame, -1 = none
    audio: np.ndarray | None  # [samples] its waveform at the model rate; None: the corpus has no audio shards
    frame_rate: float  # mel frames per second
    sample_rate: int  # the model's audio rate
    window_s: float  # seconds of one model window
    reference_wav: Path  # where a case that needs a reference WAV writes it (the job names it by path)


EvalCase = Callable[[EvalWindow], tuple[list[dict[str, Any]], dict[str, Any]]]  # -> (job controls, target record)


@dataclass(frozen=True)
class EvalTask:
    """How ``ditto-live eval`` draws, names and reports a kind's held-out cases (paper §4.1)."""

    title: str  # the report's section title
    case: EvalCase  # a held-out window -> the case's job controls and what the report records about its target
    metric: tuple[str, str, float] | None = None  # loss-shaped metric: (reported key, column title, scale)
    judges: tuple[tuple[str, str, float], ...] = ()  # independent judges (key, title, scale); claims rest on these
    usable: Callable[[EvalWindow], bool] | None = None  # whether a window may anchor a case (None: any)
    needs_audio: bool = False  # its cases need the corpus's audio shards
    suite: str = "table1"  # the suite whose table its rows go in ("table1": control adherence, "text": Table 3)
    renamed: tuple[tuple[str, str], ...] = ()  # (measured key, the report's name for it)


@dataclass(frozen=True)
class Kind:
    """One control kind: its job fields, target, window slice, loss (through the engine), measurement, plot,
    and what the pipeline, the runner and the evaluation ask of it (its defaults, its evaluation cases)."""

    name: str  # the job language's "type"
    validate: Callable[[dict[str, Any], str], None]  # (params, key) -> None; a JobSpecError names the bad key
    target: Callable[[ControlSpec, str, TargetContext], ClipTarget[Any]]  # (control, key, context) -> clip target
    window: Callable[[ClipTarget[Any], WindowSlice], Control | None]  # engine control of one window (None: none)
    measure: Callable[[ClipTarget[Any], Measuring], dict[str, float]]  # adherence on the delivered audio
    doc: str  # one line: what the control asks for (docs, --help)
    plot: Callable[[Axes, ClipTarget[Any], Measuring], bool] | None = None  # draw a panel -> whether it has a time axis
    example: Callable[[float, str], dict[str, Any]] | None = None  # the bench's control for a clip of s, reference
    default_unit: str = "beats"  # time unit of its positions when the job gives none
    cli: CliFlags | None = None  # its `generate` flags (shared ones, --unit and --weight, are generate's)
    steps: int = 70  # its default K (DESIGN §4); a job runs the largest of its controls'
    lr: float = DEFAULT_LR  # its default Adam learning rate on x_T (chosen on val with its K); a job runs the smallest
    decode_steps: int = 2  # its default T; a job decodes with the smallest of its controls'
    once: bool = False  # at most one such control in a job
    seam_s: float = 0.0  # seconds generated past the clip's end by default (a loop's seam): a job that gives
    # no length is shortened by them, so clip and seam fill one model window
    text_model: bool = False  # its window control reads the text-audio model (loaded only for such a job)
    yields_to_chain: bool = False  # dropped from a stream window that continues the last (it pins the frames
    # the chain pins)
    evaluation: EvalTask | None = None  # how `ditto-live eval` draws and reports its cases (None: not evaluated)
    pinned: Callable[[ClipTarget[Any]], Tensor] | None = None  # [L] 1 where its target pins the clip to a reference
    # (shaded on the plot's spectrogram); None: it pins nothing
    keys: tuple[str, ...] = ()  # its job keys besides type, weight and unit: any other is refused (empty: unchecked)


def check(cond: bool, message: str) -> None:
    if not cond:
        raise JobSpecError(message)


def read_input(path: Any, allowed_roots: Iterable[str], what: str) -> Path:
    """A path a request names, resolved under the allowed roots, or a JobSpecError that names it."""
    from ditto_live.results import resolve_input_path

    if not isinstance(path, str) or not path:
        raise JobSpecError(f"{what}: expected a path")
    try:
        return resolve_input_path(path, allowed_roots)
    except FileNotFoundError as exc:
        raise JobSpecError(f"{what} {path!r} not found") from exc


def frames_of(value: Any, unit: str, bpm: float, frame_rate: float, key: str) -> int:
    """A position in ``unit`` (seconds, beats, bars) on the clip's frame grid."""
    from ditto_live.engine.controls.intensity import seconds_per_unit

    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise JobSpecError(f"{key}: expected a number >= 0")
    try:
        return int(round(float(value) * seconds_per_unit(unit, bpm) * frame_rate))
    except ValueError as exc:
        raise JobSpecError(f"{key}: {exc}") from exc


def unit_of(c: ControlSpec, default: str, key: str) -> str:
    unit = c.params.get("unit", default)
    check(unit in ("seconds", "beats", "bars"), f"{key}.unit: {unit!r} is not one of seconds, beats, bars")
    return unit


def reference_mel(path: str, allowed_roots: Iterable[str], front_end: MelFrontEnd) -> Tensor:
    """A WAV (any rate, mono or not) -> the model's normalised mel [1, F, M]."""
    import librosa
    import numpy as np
    import soundfile as sf
    import torch

    real = read_input(path, allowed_roots, "reference WAV")
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


def repeat_start(series: Tensor, seam: int) -> Tensor:
    """[..., L] -> [..., L + seam]: a per-frame target whose last ``seam`` frames repeat its first (a loop)."""
    import torch

    return torch.cat([series, series[..., :seam]], -1)
