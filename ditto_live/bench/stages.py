"""The latency benchmark behind ``ditto-live bench`` (DESIGN.md §9, issue 10).

For each task (a control), method (the DITTO baseline, DITTO-2 with a CTM or CM student), (M, T) setting
and batch of seeds, a request goes through the whole job path -- parse the job, build the control
targets, optimise x_T, decode, vocode, write the WAV and its sidecar -- and each stage is timed with
the device synchronised at its end. The first run of a configuration is its cold start (backend
preparation: parity probe, compilation, CUDA-graph capture; cuDNN autotuning); the runs after it are
warm. Peak memory is ``torch.cuda.max_memory_allocated`` on a GPU and the process's peak resident set
(VmHWM, reset before each run through /proc/self/clear_refs) on a CPU. The real-time factor is wall
time over the audio's duration (below 1 is faster than real time). DITTO-2's speed-up is DITTO's time
over DITTO-2's, both measured in this run with the same K and batch. The report's summary rows and
the target checks are ``ditto_live/bench/report.py``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ditto_live.bench.report import STAGES, check_targets, config_key, machine_info, summarise
from ditto_live.controls import KINDS
from ditto_live.engine.audio import PRESETS, MelConfig, MelFrontEnd
from ditto_live.engine.backends import BackendRefused, for_gpu
from ditto_live.engine.unet import count_parameters
from ditto_live.generation.jobspec import parse_job
from ditto_live.generation.methods import DITTO_STEPS, METHODS, bench_names, split_bench_name
from ditto_live.generation.pipeline import Backends, Engine, generate, plan_job, sync, vocode
from ditto_live.results import write_json, write_wav

log = logging.getLogger(__name__)

SCHEMA = "ditto-live-bench/1"
TASKS = tuple(name for name, kind in KINDS.items() if kind.example is not None)  # the controls it can time
BENCH_METHODS = bench_names()  # the rows it times: each method of methods.METHODS, a student one per student
PAPER_SETTINGS = ("M1T1", "M1T2", "M1T4", "M2T2", "M2T4", "MaT4")  # the paper's Table 2; "Ma" = adaptive M


@dataclass(frozen=True)
class BenchConfig:
    preset: str = "tiny"  # mel + UNet preset: "tiny" or "paper"
    device: str = "cpu"  # "cpu" or "cuda"
    tasks: tuple[str, ...] = ("intensity", "melody")  # controls to time (TASKS)
    methods: tuple[str, ...] = BENCH_METHODS  # what to time (BENCH_METHODS)
    settings: tuple[str, ...] = ("M1T2",)  # DITTO-2 (M, T) settings, e.g. "M1T2", "MaT4"
    backends: tuple[str, ...] = ("eager",)  # backends of DITTO-2's ITO steps and decoding, each timed
    baseline_backend: str = "eager"  # DITTO's ITO backend (smallest B only); "a,b": b if a is refused
    seeds: tuple[int, ...] = (1,)  # batch sizes B (seeds optimised together)
    repeats: int = 2  # warm runs after each configuration's cold run
    baseline_repeats: int | None = None  # warm runs of DITTO (None: as repeats); 0 = its cold run only
    steps: int = 0  # K for every task (0: each task's default, 70 or 150)
    frames: int = 0  # mel frames per clip and per model window (0: the preset's 512 = 5.94 s)
    model: str = "random"  # "random" (random weights of the preset) or a bundle name / folder
    bf16: bool = False  # bf16 weights + channels-last convolutions (implies autocast)
    autocast: bool = False  # bf16 autocast of model calls
    vocoder: str = "neural"  # "neural" (the bundle's, else a random-weight one) or "griffin-lim"
    compiler: str = "inductor"  # torch.compile backend of the compiled backend
    out_dir: str = "bench_out"  # where the WAVs, sidecars and reference audio go
    threads: int = 0  # torch intra-op threads on the CPU (0: torch's default)


def parse_setting(setting: str) -> tuple[int | str, int]:
    """"M1T2" -> (1, 2); "MaT4" -> ("adaptive", 4)."""
    m = re.fullmatch(r"M(\d+|a)T(\d+)", setting)
    if not m:
        raise ValueError(f"setting {setting!r}: expected M<m>T<t> such as M1T2, or MaT4 for the adaptive M")
    return ("adaptive" if m.group(1) == "a" else int(m.group(1))), int(m.group(2))


def on_teacher_chain(bench_name: str) -> bool:
    """Whether a bench row's method runs the teacher's fixed chain (the DITTO baseline: timed once per task,
    at the smallest B, with its own repeats and backend fallbacks), as the METHODS table says."""
    return METHODS[split_bench_name(bench_name)[0]].teacher_chain


# ---------------------------------------------------------------------------------------------
# the models


@dataclass
class Models:
    """What the benchmark runs: the teacher, the students, the vocoder, and what they are."""

    base: Any  # teacher UNet (DITTO)
    ctm: Any  # CTM student
    cm: Any  # CM student
    vocoder: Any  # neural vocoder or None (Griffin-Lim)
    mel: MelConfig  # the preset's mel config
    tags: dict[str, list[str]]  # tag vocabulary {field: [names]}
    info: dict[str, Any] = field(default_factory=dict)  # name, weights, parameter counts


def _count(model: Any) -> int | None:
    return None if model is None else count_parameters(model)


def load_models(cfg: BenchConfig) -> Models:
    """Random weights of ``cfg.preset`` (timing does not depend on the weights), or a bundle."""
    from ditto_live.generation.models import load_bundle, random_bundle

    if cfg.model == "random":
        b = random_bundle(cfg.preset, cfg.device, vocoder=cfg.vocoder == "neural")
        weights = "random"
    else:
        b = load_bundle(cfg.model, cfg.device)
        weights = "trained"
    models = Models(b.base, b.ctm, b.cm, b.vocoder if cfg.vocoder == "neural" else None, b.mel_config, b.tags)
    models.info = {"name": cfg.model, "weights": weights, "preset": cfg.preset,
                   "vocoder": "griffin-lim (32 iterations)" if models.vocoder is None else f"neural ({weights})",
                   "parameters": {"base": _count(models.base), "student": _count(models.ctm),
                                  "vocoder": _count(models.vocoder)}}
    return models


# ---------------------------------------------------------------------------------------------
# requests


def task_job(task: str, seconds: float, reference: str) -> dict[str, Any]:
    """The job (the server's job language) that exercises ``task`` over a clip of ``seconds``: its kind's
    example control (ditto_live/controls/)."""
    kind = KINDS.get(task)
    if kind is None or kind.example is None:
        raise ValueError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    return {"seconds": seconds, "controls": [kind.example(seconds, reference)]}


def write_reference(folder: Path, mel: MelConfig, seconds: float) -> Path:
    """A reference WAV for the painting tasks: a chord with a slow tremolo."""
    t = np.arange(int(seconds * mel.sample_rate)) / mel.sample_rate
    audio = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 6 * (0.6 + 0.4 * np.sin(2 * np.pi * t))
    return write_wav(folder / "reference.wav", audio.astype(np.float32), mel.sample_rate)


# ---------------------------------------------------------------------------------------------
# timing


def reset_peak_memory(device: str) -> str:
    """Reset the peak-memory counter; returns what peak_memory_mb will measure."""
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        return "torch.cuda.max_memory_allocated"
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return "process peak RSS (VmHWM, reset per run)"
    except OSError:
        return "process peak RSS since start (ru_maxrss; not resettable here)"


def peak_memory_mb(device: str) -> float:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    try:
        found = re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text())
        if found:
            return int(found.group(1)) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Clock:
    """Lap timer whose laps end with the device synchronised."""

    def __init__(self, device: str):
        self.device = device
        self.ms: dict[str, float] = {}  # milliseconds per stage
        sync(device)
        self.last = time.perf_counter()

    def lap(self, stage: str) -> None:
        sync(self.device)
        now = time.perf_counter()
        self.ms[stage] = (now - self.last) * 1000
        self.last = now


@dataclass
class Config:
    """One benchmarked configuration and what it keeps between its runs (prepared backends)."""

    task: str
    method: str  # BENCH_METHODS
    setting: str  # "M1T2", ..., or "M20T20" for DITTO
    seeds: int  # B
    steps: int  # K
    backend: str  # the ITO backend used
    engine: Engine | None = None  # the pipeline's engine, its prepared backend kept between runs


class Bench:
    """Runs the configurations of a BenchConfig and collects every run."""

    def __init__(self, cfg: BenchConfig, models: Models | None = None):
        self.cfg = cfg
        if cfg.threads and cfg.device == "cpu":
            torch.set_num_threads(cfg.threads)
        start = time.perf_counter()
        self.models = models or load_models(cfg)
        mel = self.models.mel
        self.frames = cfg.frames or mel.frames
        self.seconds = self.frames / mel.frame_rate
        self.out = Path(cfg.out_dir).expanduser().resolve()
        self.out.mkdir(parents=True, exist_ok=True)
        self.reference = str(write_reference(self.out, mel, self.seconds))
        self.front = MelFrontEnd(mel).to(cfg.device)
        self.autocast = cfg.autocast or cfg.bf16
        self.tolerance = 5e-2 if self.autocast else 1e-2  # parity: x_T vs eager, relative to eager's move
        fast = (lambda m: for_gpu(m) if m is not None else None) if cfg.bf16 else (lambda m: m)
        from ditto_live.generation.models import Bundle

        meta = {"mel_config": mel.to_dict(), "tags": self.models.tags}
        self.bundle = Bundle(cfg.model, Path("<bench>"), base=fast(self.models.base), ctm=fast(self.models.ctm),
                             cm=fast(self.models.cm), vocoder=self.models.vocoder, meta={"base": meta})
        sync(cfg.device)
        self.setup_ms = (time.perf_counter() - start) * 1000  # models built/loaded and moved, once per process
        self.memory_kind = ""
        self.runs: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []

    def configs(self) -> list[Config]:
        """Per task: DITTO-2 for every backend, method, setting and B; then DITTO once, at the smallest B
        (it costs 20 CFG calls per step, so a timeout cuts it rather than the DITTO-2 rows)."""
        cfg, out = self.cfg, []
        chains = [m for m in cfg.methods if on_teacher_chain(m)]
        for task in cfg.tasks:
            k = cfg.steps or KINDS[task].steps
            for backend in cfg.backends:
                out += [Config(task, method, s, b, k, backend) for method in cfg.methods if method not in chains
                        for s in cfg.settings for b in cfg.seeds]
            for method in chains:
                first = cfg.baseline_backend.split(",")[0]
                out.append(Config(task, method, f"M{DITTO_STEPS}T{DITTO_STEPS}", min(cfg.seeds), k, first))
        return out

    def run_once(self, c: Config, index: int) -> dict[str, Any]:
        """One request through every stage of the pipeline (``ditto_live.generation.pipeline``); returns the run's record."""
        cfg, mel, dev = self.cfg, self.models.mel, self.cfg.device
        method, student = split_bench_name(c.method)
        surrogate, decode_steps = parse_setting(c.setting) if student else (DITTO_STEPS, DITTO_STEPS)
        job = task_job(c.task, self.seconds, self.reference) | {
            "method": method, "student": student or "ctm", "seed": index,
            "seeds": c.seeds, "steps": c.steps, "name": f"{c.task}_{c.method}_{c.setting}_b{c.seeds}"}
        if student:
            job |= {"surrogate": str(surrogate), "decode_steps": decode_steps}
        if c.engine is None:
            backends = Backends(c.backend, dev, cfg.compiler, self.tolerance, methods=tuple(METHODS),
                                fallback=False)  # a refused backend is reported, not timed as eager
            c.engine = Engine(dev, self.autocast, backends=backends, decode_autocast=self.autocast)
        self.memory_kind = reset_peak_memory(dev)
        clock = Clock(dev)
        spec = parse_job(job)
        clock.lap("parse")
        plan = plan_job(spec, self.bundle, dev, [str(self.out)], self.front, window_frames=self.frames)
        clock.lap("target")
        gen = generate(plan, c.engine, unoptimised=False)
        (window,) = gen.windows
        for stage in ("target", "optimise", "decode"):
            clock.ms[stage] = clock.ms.get(stage, 0.0) + gen.timings_ms.get(stage, 0.0)
        clock.last = time.perf_counter()
        audio = vocode(self.bundle, gen.mel)
        clock.lap("vocode")
        wav = write_wav(self.out / f"{spec.name}.wav", audio, mel.sample_rate)
        before, after = window.get("surrogate_loss_before", {}), window.get("surrogate_loss_after", {})
        write_json(wav.with_suffix(".json"), {"spec": spec.to_dict(), "loss": after, "loss_before": before,
                                              "steps_run": window["steps_run"]})
        clock.lap("write")
        total = sum(clock.ms[s] for s in STAGES)
        return {"task": c.task, "method": c.method, "setting": c.setting, "M": surrogate, "T": decode_steps,
                "seeds": c.seeds, "K": c.steps, "steps_run": window["steps_run"], "backend": c.backend,
                "run": index, "cold": index == 0, "process_first": not self.runs,
                "stages_ms": {s: round(clock.ms[s], 2) for s in STAGES}, "total_ms": round(total, 2),
                "backend_prepare_ms": round(window.get("backend_prepare_s", 0.0) * 1000, 2),
                "parity_checked": bool(window.get("parity_checked")),
                "decode_prepare_ms": round(window.get("decoder_prepare_s", 0.0) * 1000, 2),
                "rtf": round(total / 1000 / self.seconds, 4), "peak_memory_mb": round(peak_memory_mb(dev), 1),
                "loss_before": before, "loss_after": after}

    def run(self, on_config: Callable[[Bench], None] | None = None) -> dict[str, Any]:
        """Every configuration, cold then warm; ``on_config`` is called after each (to save progress)."""
        queue = self.configs()
        while queue:
            c = queue.pop(0)
            repeats = self.cfg.repeats
            if on_teacher_chain(c.method) and self.cfg.baseline_repeats is not None:
                repeats = self.cfg.baseline_repeats
            log.info("bench %s %s %s B=%d K=%d backend=%s", c.task, c.method, c.setting, c.seeds, c.steps, c.backend)
            try:
                for i in range(1 + repeats):
                    self.runs.append(self.run_once(c, i))
            except (BackendRefused, ValueError) as exc:
                log.error("%s %s %s: %s", c.task, c.method, c.setting, exc)
                self.errors.append({"task": c.task, "method": c.method, "setting": c.setting, "seeds": c.seeds,
                                    "backend": c.backend, "error": str(exc)})
                failed = (c.task, c.method, c.setting, c.seeds, c.steps, c.backend)
                self.runs = [r for r in self.runs if config_key(r) != failed]  # no half-measured configuration
                fallbacks = self.cfg.baseline_backend.split(",")
                if on_teacher_chain(c.method) and c.backend in fallbacks[:-1]:  # the next baseline backend, named
                    queue.insert(0, Config(c.task, c.method, c.setting, c.seeds, c.steps,
                                           fallbacks[fallbacks.index(c.backend) + 1]))
            if on_config is not None:
                on_config(self)
        return self.report()

    def report(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "machine": machine_info(self.cfg.device), "config": asdict(self.cfg), "model": self.models.info,
                "audio_seconds": round(self.seconds, 4), "frames": self.frames, "setup_ms": round(self.setup_ms, 1),
                "peak_memory_kind": self.memory_kind, "parity_tolerance": self.tolerance,
                "stages": list(STAGES), "runs": self.runs,
                "rows": summarise(self.runs), "errors": self.errors,
                "targets": check_targets(summarise(self.runs), self.cfg, self.frames == PRESETS[self.cfg.preset].frames)}
