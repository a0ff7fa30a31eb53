"""The work budget of a request, checked before the server accepts it (DESIGN.md §8).

One line of job JSON can ask for hours of optimisation or gigabytes of memory (``{"bars": 64,
"bpm": 20}`` is 12.8 minutes of audio: 156 windows; ``{"model": "paper-untrained", "steps": 2000,
"surrogate": 8}`` is ~10 h on a CPU). :func:`check_budget` estimates what a parsed job costs -- clip
seconds, optimisation work and memory -- without loading a model, and refuses it with a message naming
the limit it breaks. The server runs the same estimate on every job, on the stream's spec and on a
MIDI take, before ``accepted``.

Work is counted in *default-model passes*: one forward + backward of the tiny preset (the bundled
``default``; ~55 ms on two CPU cores). A step costs the surrogate's passes (M, or the DITTO baseline's
whole chain) times the model preset's relative cost (:data:`PRESET_COSTS`), plus each control's own
per-step cost (:data:`CONTROL_COSTS`: a text control scores the decoded audio with the text-audio
model every step); a job costs windows x steps x seeds of those. Memory scales the same way: the
preset's activations per pass held for the backward, times passes and seeds, plus each control's
targets and the clip's audio and mel. A model the estimate cannot read is costed as the largest preset.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from functools import lru_cache

from ditto_live.controls import KINDS
from ditto_live.generation.jobspec import FIELD_RANGES, JobSpec, JobSpecError, clip_seconds
from ditto_live.generation.methods import METHODS

FRAME_RATE = 22050 / 256  # mel frames a second (both presets share the time grid, DESIGN.md §2)
WINDOW_FRAMES = 512  # frames of one model window (both presets)
WINDOW_SECONDS = WINDOW_FRAMES / FRAME_RATE  # 5.94 s
CHAIN_SECONDS = 1.0  # what each window shares with the previous one (ditto_live/generation/targets.py DEFAULT_OVERLAP_S)
MAX_DEFAULT_STEPS = max(kind.steps for kind in KINDS.values())  # the largest per-control K: the cost of steps = 0
ADAPTIVE_PASSES = 1.75  # the adaptive surrogate's mean M: 1 for K/2 steps, 2 for 3K/8, 4 for K/8
ADAPTIVE_PEAK = 4  # the adaptive surrogate's largest M (what its memory peaks at)
AUDIO_COPIES = 4  # float32 copies of the clip's audio alive at once (vocoded, resampled, reference, write)
BASE_MEMORY_MB = 256  # the loaded model, the optimiser state and the decode's working set (coarse upper bound)


@dataclass(frozen=True)
class PresetCost:
    """What one network pass of a model preset costs, relative to the default model."""

    pass_units: float  # one forward + backward, in default-model passes (measured on two CPU cores)
    activation_mb: float  # activations one pass holds for the backward, per seed (MB)
    mel_bins: int  # the preset's mel bins (the clip's mel in memory)


# the tiny preset is the bundled default; paper measured ~2.2 s a pass and ~1.15 GB a pass held for the
# backward on two CPU cores (issue 28: 15-20 s a step at M = 8, RSS 0.6 -> 9.3 GB)
PRESET_COSTS: dict[str, PresetCost] = {
    "tiny": PresetCost(pass_units=1.0, activation_mb=128, mel_bins=80),
    "paper": PresetCost(pass_units=40.0, activation_mb=1152, mel_bins=160),
}
LARGEST_PRESET = "paper"  # what a model of unknown preset is costed as


@dataclass(frozen=True)
class ControlCost:
    """What one control adds to every optimisation step of a window."""

    step_units: float  # its loss (and target slice) a step, in default-model passes
    memory_mb: float  # its targets and loss buffers (MB)


# measured (issue 28): 1,000 intensity controls cost 24 steps' worth (+615 MB); 200 text controls 3.3 s a
# step (+700 MB): a control that reads the text-audio model (Kind.text_model) scores audio every step
PLAIN_CONTROL = ControlCost(step_units=0.03, memory_mb=1.0)
TEXT_CONTROL = ControlCost(step_units=0.3, memory_mb=4.0)


def control_cost(kind: str) -> ControlCost:
    """The per-step cost of one control of ``kind``, read from its Kind row."""
    row = KINDS.get(kind)
    return TEXT_CONTROL if row is not None and row.text_model else PLAIN_CONTROL


@dataclass(frozen=True)
class Budget:
    max_clip_seconds: float  # longest clip
    max_work_steps: int  # most work: windows x steps x seeds x step cost, in default-model passes
    max_memory_mb: int  # most estimated working-set memory


@dataclass(frozen=True)
class Cost:
    seconds: float  # audio the request asks for
    windows: int  # model windows it spans
    steps: int  # optimisation steps a window runs (K)
    step_units: float  # one step of one seed, in default-model passes (surrogate x preset + controls)
    work_steps: float  # windows x steps x seeds x step_units
    memory_mb: float  # estimated working set
    preset: str  # the model preset it was costed as


def window_count(seconds: float) -> int:
    """Model windows a clip of ``seconds`` spans, each sharing CHAIN_SECONDS with the last (as in jobs.py)."""
    total = int(round(seconds * FRAME_RATE))
    chain = min(int(round(CHAIN_SECONDS * FRAME_RATE)), WINDOW_FRAMES // 4)
    if total <= WINDOW_FRAMES:
        return 1
    return math.ceil((total - chain) / (WINDOW_FRAMES - chain))


def passes_per_step(spec: JobSpec) -> float:
    """Network evaluations (forward + backward) one optimisation step costs, on average."""
    if (chain := METHODS[spec.method].chain) is not None:  # DITTO: through its whole teacher chain
        return float(chain)
    return ADAPTIVE_PASSES if spec.surrogate == "adaptive" else float(spec.surrogate)


def passes_held(spec: JobSpec) -> float:
    """Network passes whose activations one step holds at its peak (what memory scales with)."""
    if (chain := METHODS[spec.method].chain) is not None:
        return float(chain)
    return float(ADAPTIVE_PEAK) if spec.surrogate == "adaptive" else float(spec.surrogate)


@lru_cache(maxsize=64)
def model_preset(model: str) -> str:
    """The preset of a model name or (already resolved) folder, read from its checkpoints' ``model.json``
    (the recipe's preset, else the mel bins) without loading weights or the engine; the largest preset
    when it cannot be read."""
    from ditto_live.generation.models import COMPONENTS, META_FILE, UNTRAINED_PRESETS, resolve_bundle

    if model in UNTRAINED_PRESETS:
        return UNTRAINED_PRESETS[model]
    try:
        folder = resolve_bundle(model)
        metas = [folder / META_FILE] + [folder / c / META_FILE for c in COMPONENTS]
        for meta in (json.loads(m.read_text()) for m in metas if m.is_file()):
            preset = (meta.get("recipe") or {}).get("preset")
            if preset in PRESET_COSTS:
                return str(preset)
            bins = (meta.get("mel_config") or {}).get("n_mels")
            found = next((name for name, cost in PRESET_COSTS.items() if cost.mel_bins == bins), None)
            if found is not None:
                return found
    except Exception:  # not a model (the runner says so when it runs): cost it as the largest
        pass
    return LARGEST_PRESET


def estimate(spec: JobSpec, slowest_bpm: bool = False) -> Cost:
    """What ``spec`` costs. ``slowest_bpm``: a length in bars measured at the slowest tempo allowed (the
    stream's live bpm may slow it down while it runs); every other field of the spec still counts."""
    if slowest_bpm and spec.bars is not None:
        spec = dataclasses.replace(spec, bpm=FIELD_RANGES["bpm"].low)
    preset = model_preset(spec.model)
    model = PRESET_COSTS[preset]
    seconds = clip_seconds(spec, WINDOW_SECONDS)
    windows = window_count(seconds)
    steps = spec.steps or (MAX_DEFAULT_STEPS if spec.controls else 0)
    controls = [control_cost(c.type) for c in spec.controls]
    step_units = passes_per_step(spec) * model.pass_units + sum(c.step_units for c in controls)
    work = windows * steps * spec.seeds * step_units
    rate = spec.sample_rate_out or 22050
    audio_mb = seconds * rate * 4 * AUDIO_COPIES / 2**20
    mel_mb = seconds * FRAME_RATE * model.mel_bins * 4 * 3 / 2**20  # the clip's mel, its unoptimised twin, a window
    activations = spec.seeds * model.activation_mb * (passes_held(spec) if steps else 1.0)
    memory = BASE_MEMORY_MB + activations + sum(c.memory_mb for c in controls) * spec.seeds + audio_mb + mel_mb
    return Cost(seconds, windows, steps, step_units, work, memory, preset)


def check_budget(spec: JobSpec, budget: Budget, what: str = "job", slowest_bpm: bool = False) -> Cost:
    """``spec``'s cost if it fits ``budget``; else JobSpecError naming the limit (a bad_request)."""
    cost = estimate(spec, slowest_bpm)
    if cost.seconds > budget.max_clip_seconds:
        at = f" at {FIELD_RANGES['bpm'].low:g} bpm (the slowest live tempo)" if slowest_bpm and spec.bars else ""
        raise JobSpecError(f"{what} asks for {cost.seconds:.1f} s of audio{at}: over the limit of "
                           f"{budget.max_clip_seconds:g} s (server.max_clip_seconds)")
    if cost.work_steps > budget.max_work_steps:
        raise JobSpecError(f"{what} costs {cost.work_steps:,.0f} work steps ({cost.windows} window(s) x "
                           f"{cost.steps} steps x {spec.seeds} seed(s) x {cost.step_units:g} default-model "
                           f"pass(es) a step: {passes_per_step(spec):g} surrogate pass(es) of the {cost.preset} "
                           f"preset and {len(spec.controls)} control(s)): over the limit of "
                           f"{budget.max_work_steps:,} (server.max_work_steps)")
    if cost.memory_mb > budget.max_memory_mb:
        raise JobSpecError(f"{what} needs about {cost.memory_mb:,.0f} MB ({spec.seeds} seed(s) x "
                           f"{passes_held(spec):g} pass(es) x {PRESET_COSTS[cost.preset].activation_mb:g} MB of "
                           f"{cost.preset}-preset activations, {len(spec.controls)} control(s), the model, the "
                           f"clip's audio and mel): over the limit of {budget.max_memory_mb:,} MB "
                           "(server.max_memory_mb)")
    return cost
