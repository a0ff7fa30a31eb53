"""The work budget of a request, checked before the server accepts it (DESIGN.md §8).

One line of job JSON can ask for hours of optimisation or gigabytes of memory (``{"bars": 64,
"bpm": 20}`` is 12.8 minutes of audio: 156 windows). :func:`check_budget` estimates what a parsed
job costs -- clip seconds, optimisation work (windows x steps x seeds x network passes a step) and
memory -- without loading a model, and refuses it with a message naming the limit it breaks. The
server runs it on every job, on the stream's spec and on a MIDI take, before ``accepted``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ditto_live.generation.jobspec import FIELD_RANGES, JobSpec, JobSpecError, clip_seconds

FRAME_RATE = 22050 / 256  # mel frames a second (both presets share the time grid, DESIGN.md §2)
WINDOW_FRAMES = 512  # frames of one model window (both presets)
WINDOW_SECONDS = WINDOW_FRAMES / FRAME_RATE  # 5.94 s
CHAIN_SECONDS = 1.0  # what each window shares with the previous one (ditto_live/generation/targets.py DEFAULT_OVERLAP_S)
MAX_DEFAULT_STEPS = 150  # the largest per-control K (each kind's Kind.steps): the cost of steps = 0
DITTO_CHAIN_CALLS = 20  # the DITTO baseline runs the whole 20-step DDIM chain every optimisation step
ADAPTIVE_PASSES = 1.75  # the adaptive surrogate's mean M: 1 for K/2 steps, 2 for 3K/8, 4 for K/8
ACTIVATION_MB_PER_SEED = 256  # one window's forward+backward at batch 1 (paper preset, coarse upper bound)
MEL_BINS = 160  # the paper preset's mel bins (the larger preset)
AUDIO_COPIES = 4  # float32 copies of the clip's audio alive at once (vocoded, resampled, reference, write)


@dataclass(frozen=True)
class Budget:
    max_clip_seconds: float  # longest clip
    max_work_steps: int  # most windows x steps x seeds x passes
    max_memory_mb: int  # most estimated working-set memory


@dataclass(frozen=True)
class Cost:
    seconds: float  # audio the request asks for
    windows: int  # model windows it spans
    work_steps: float  # windows x steps x seeds x network passes a step
    memory_mb: float  # estimated working set


def window_count(seconds: float) -> int:
    """Model windows a clip of ``seconds`` spans, each sharing CHAIN_SECONDS with the last (as in jobs.py)."""
    total = int(round(seconds * FRAME_RATE))
    chain = min(int(round(CHAIN_SECONDS * FRAME_RATE)), WINDOW_FRAMES // 4)
    if total <= WINDOW_FRAMES:
        return 1
    return math.ceil((total - chain) / (WINDOW_FRAMES - chain))


def passes_per_step(spec: JobSpec) -> float:
    """Network evaluations (forward + backward) one optimisation step costs."""
    if spec.method == "ditto":
        return float(DITTO_CHAIN_CALLS)
    return ADAPTIVE_PASSES if spec.surrogate == "adaptive" else float(spec.surrogate)


def estimate(spec: JobSpec, slowest_bpm: bool = False) -> Cost:
    """What ``spec`` costs. ``slowest_bpm``: a length in bars measured at the slowest tempo allowed (the
    stream's live bpm may slow it down while it runs)."""
    if slowest_bpm and spec.bars is not None:
        spec = JobSpec(bars=spec.bars, bpm=FIELD_RANGES["bpm"].low)
    seconds = clip_seconds(spec, WINDOW_SECONDS)
    windows = window_count(seconds)
    steps = spec.steps or (MAX_DEFAULT_STEPS if spec.controls else 0)
    work = windows * steps * spec.seeds * passes_per_step(spec)
    rate = spec.sample_rate_out or 22050
    audio_mb = seconds * rate * 4 * AUDIO_COPIES / 2**20
    mel_mb = seconds * FRAME_RATE * MEL_BINS * 4 * 3 / 2**20  # the clip's mel, its unoptimised twin, a window
    memory = spec.seeds * ACTIVATION_MB_PER_SEED + audio_mb + mel_mb
    return Cost(seconds, windows, work, memory)


def check_budget(spec: JobSpec, budget: Budget, what: str = "job", slowest_bpm: bool = False) -> Cost:
    """``spec``'s cost if it fits ``budget``; else JobSpecError naming the limit (a bad_request)."""
    cost = estimate(spec, slowest_bpm)
    if cost.seconds > budget.max_clip_seconds:
        at = f" at {FIELD_RANGES['bpm'].low:g} bpm (the slowest live tempo)" if slowest_bpm and spec.bars else ""
        raise JobSpecError(f"{what} asks for {cost.seconds:.1f} s of audio{at}: over the limit of "
                           f"{budget.max_clip_seconds:g} s (server.max_clip_seconds)")
    if cost.work_steps > budget.max_work_steps:
        raise JobSpecError(f"{what} costs {cost.work_steps:,.0f} optimisation steps ({cost.windows} window(s) x "
                           f"{spec.steps or MAX_DEFAULT_STEPS} steps x {spec.seeds} seed(s) x "
                           f"{passes_per_step(spec):g} pass(es)): over the limit of {budget.max_work_steps:,} "
                           "(server.max_work_steps)")
    if cost.memory_mb > budget.max_memory_mb:
        raise JobSpecError(f"{what} needs about {cost.memory_mb:,.0f} MB ({spec.seeds} seed(s) x "
                           f"{ACTIVATION_MB_PER_SEED} MB + the clip's audio and mel): over the limit of "
                           f"{budget.max_memory_mb:,} MB (server.max_memory_mb)")
    return cost
