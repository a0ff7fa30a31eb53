"""The evaluation suites (paper Tables 1-3, Figure 5) and the loop that runs one.

``run_suite(cfg, bundle, embedder)`` draws the cases, runs every (case, setting) with a progress bar,
scores the generations against the test split, and returns a ``SuiteResult`` that ``report`` writes.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
from tqdm import tqdm

from ditto_live.engine.train.common import cpu_model_name
from ditto_live.evaluation.cases import Case, TestSplit, make_cases, task_table
from ditto_live.evaluation.external import CLIPS, ExternalJudges, Judged, clip_path, find_judges, run_external
from ditto_live.evaluation.runner import Embedder, Generation, Setting, run_case
from ditto_live.evaluation.scoring import Row, aggregate, reference_embeddings, reference_rows
from ditto_live.generation.methods import METHODS
from ditto_live.generation.models import Bundle

log = logging.getLogger(__name__)

DITTO = Setting("DITTO", "ditto")
TABLE1_ORDER = ("intensity", "melody", "structure", "outpaint", "inpaint")  # the paper's rows; other kinds follow
INTENSITY_FIGURES = ("intensity",)  # the task of Table 2 and Figures 4-5 (the paper's intensity sweeps)
JOURNAL = "generations.jsonl"  # the machine, then one Generation record per line, as each clip finishes


def unoptimised(decode_steps: int) -> Setting:
    """The CTM student decoding the case's initial noise without optimisation: each control's baseline."""
    return Setting("DITTO-2 (CTM), unoptimised", "ditto2", "ctm", "1", (decode_steps,), optimise=False)


def suite_tasks(suite: str) -> tuple[str, ...]:
    """The tasks a suite runs: table1 and text, the evaluated kinds that name it (``EvalTask.suite``; table1 in
    the paper's row order, a kind it does not have after them); table2 and fig5, the intensity sweeps."""
    if suite in ("table2", "fig5"):
        return INTENSITY_FIGURES
    if suite not in SUITES:
        raise KeyError(suite)
    named = [name for name, ev in task_table().items() if ev.suite == suite]
    rank = {name: i for i, name in enumerate(TABLE1_ORDER)}
    return tuple(sorted(named, key=lambda name: rank.get(name, len(rank))))


def suite_settings(suite: str, decode_steps: int = 0) -> list[Setting]:
    """The method settings a suite compares (rows of its table / curves of its figure)."""
    if suite == "table1":  # DITTO vs DITTO-2 at M = 1 and one T for both students, and the CTM's output from
        return [DITTO, Setting("DITTO-2 (CM)", "ditto2", "cm", "1", (decode_steps,)),  # the same noise unoptimised
                Setting("DITTO-2 (CTM)", "ditto2", "ctm", "1", (decode_steps,)), unoptimised(decode_steps)]
    if suite == "table2":  # the (M, T) grid of Table 2 for CTM, CM at M = 1, DITTO for Figure 4
        return [DITTO, Setting("CTM M=1", "ditto2", "ctm", "1", (1, 2, 4)),
                Setting("CTM M=2", "ditto2", "ctm", "2", (2, 4)),
                Setting("CTM adaptive", "ditto2", "ctm", "adaptive", (4,)),
                Setting("CM M=1", "ditto2", "cm", "1", (1, 2, 4))]
    if suite == "fig5":  # M = 1, T = 1..8 for both students; DITTO (20, 20) is the baseline line
        steps = tuple(range(1, 9))
        return [DITTO, Setting("CTM", "ditto2", "ctm", "1", steps), Setting("CM", "ditto2", "cm", "1", steps)]
    if suite == "text":  # Table 3: the base model's tag conditioning, then text control by ITO
        return [Setting("Base model (DDIM 20)", "ditto", optimise=False),
                unoptimised(decode_steps),
                Setting("DITTO-2 (CTM) + text control", "ditto2", "ctm", "1", (decode_steps,)),
                Setting("DITTO-2 (CTM) + text control, null tags", "ditto2", "ctm", "1", (decode_steps,),
                        null_tags=True)]
    raise ValueError(f"unknown suite {suite!r} (table1, table2, fig5, text)")


SUITES = ("table1", "table2", "fig5", "text")


@dataclass(frozen=True)
class EvalConfig:
    """What ``ditto-live eval`` runs."""

    suite: str  # table1 | table2 | fig5 | text
    model: str  # bundle name or path ("tiny-untrained": random weights)
    data: str  # corpus folder whose test split gives the cases and the FAD reference
    out: str  # output folder
    cases: int = 16  # cases per task (at least 16 per control for the CPU suite)
    steps: int = 0  # K optimisation steps for every method; 0 = each control's default (Kind.steps)
    decode_steps: int = 0  # T of the DITTO-2 rows of table1 and text (0: each control's default, as a job's)
    lr: float = 0.0  # Adam learning rate on x_T; 0 = each control's default (Kind.lr)
    tasks: tuple[str, ...] = ()  # subset of the suite's tasks; () = all
    skip_ditto: bool = False  # leave out the (slow) DITTO optimisation rows
    device: str = "cpu"  # torch device
    seed: int = 0  # case choice and initial noise
    save_audio: int = 1  # WAVs written per (task, setting, T): the first cases
    resume: bool = False  # keep the clips already in OUT/generations.jsonl and run only the others
    report_only: bool = False  # run nothing: report the clips of OUT/generations.jsonl (a run cut short)
    autocast: bool = False  # bf16 autocast of the model calls while optimising (the CLI's default: the product's)
    split: str = "test"  # corpus split of the cases and the FAD reference ("val" to choose a setting before testing it)
    quality: bool = False  # run the sound-quality judge (musicnn FD / KID per row) when its interpreter is there
    # (the CLI asks unless --no-quality)
    notes: bool = False  # run the note-level melody judge (basic-pitch) on the melody rows (the CLI: unless --no-notes)
    exclude_works: str = ""  # a corpus folder whose works (any split) never supply a case or reference ("": none)


@dataclass
class SuiteResult:
    config: EvalConfig
    rows: list[Row]  # one per (task, setting, T)
    references: list[Row]  # reference rows (real, vocoded, shuffled, noise)
    generations: list[Generation]  # every clip's record
    settings: list[Setting]  # what ran
    cases: dict[str, list[Case]]  # per task
    info: dict[str, Any] = field(default_factory=dict)  # machine, model, wall time, embedding model
    judged: Judged = field(default_factory=Judged)  # the external judges' figures, or why there are none


def machine_info(device: str) -> dict[str, Any]:
    """What the timings were measured on."""
    info = {"platform": platform.platform(), "processor": cpu_model_name(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "device": device, "python": platform.python_version()}
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def run_suite(cfg: EvalConfig, bundle: Bundle, embedder: Embedder, split: TestSplit,
              judges: ExternalJudges | None = None) -> SuiteResult:
    """Run every case of the suite under every setting; score against the test split. ``judges``: the
    external judges (default: those ``cfg`` asks for, found in the judges' interpreter)."""
    started = time.perf_counter()
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    out = Path(cfg.out)
    tasks = suite_tasks(cfg.suite)
    if cfg.tasks:
        unknown = set(cfg.tasks) - set(tasks)
        if unknown:
            raise ValueError(f"suite {cfg.suite} has no task(s) {sorted(unknown)} (has {', '.join(tasks)})")
        tasks = tuple(t for t in tasks if t in cfg.tasks)
    settings = [s for s in suite_settings(cfg.suite, cfg.decode_steps)
                if not (cfg.skip_ditto and METHODS[s.method].teacher_chain and s.optimise)]  # the base model's row stays
    mel = bundle.mel_config
    cases = {t: make_cases(t, split, cfg.cases, bundle.tags, mel.frame_rate, mel.sample_rate, mel.window_seconds,
                           out / "references", cfg.seed) for t in tasks}
    journal_path = out / JOURNAL
    recorded, gens = read_journal(journal_path) if cfg.resume or cfg.report_only else (None, [])
    kept = len(gens)
    done = {(g.task, g.case, g.setting) for g in gens}
    machine = machine_info(cfg.device)
    judges = judges or find_judges(cfg.quality, cfg.notes and "melody" in tasks, max(1, torch.get_num_threads()))
    if not cfg.report_only:  # case by case, so a run cut short stays paired; each clip journalled as it finishes
        jobs = [(c, s) for t in tasks for c in cases[t] for s in settings if (t, c.index, s.label) not in done]
        out.mkdir(parents=True, exist_ok=True)
        with open(journal_path, "a" if kept else "w", encoding="utf-8") as journal:
            if not kept:
                journal.write(json.dumps({"machine": machine}) + "\n")
            gens += _generate(jobs, cfg, bundle, embedder, out, journal, judges.any)
    judged = run_external(judges, gens, cases, split, out, mel.sample_rate, cfg.seed) if judges.any else \
        Judged(quality_skipped=judges.quality_skipped, notes_skipped=judges.notes_skipped)
    reference = reference_embeddings(split, embedder)
    m_of = {s.label: s.m_label for s in settings}
    works = {(c.task, c.index): c.work for cs in cases.values() for c in cs}
    rows = aggregate(gens, reference, m_of, works)
    refs = reference_rows(split, embedder, bundle, reference, cfg.cases, cfg.seed)
    info = {"machine": recorded if cfg.report_only and recorded else machine,
            "journal_machine": recorded, "model": bundle.name, "model_path": str(bundle.path),
            "untrained": bundle.name == "tiny-untrained", "embedding_trained": embedder.trained,
            "vocoder": "neural" if getattr(bundle, "vocoder", None) is not None else "Griffin-Lim",
            "reference_clips": int(len(reference)), "test_windows": len(split.meta), "clips_from_journal": kept,
            "wall_s": round(time.perf_counter() - started, 1), "config": asdict(cfg),
            "load_avg_1m": [load_before, os.getloadavg()[0] if hasattr(os, "getloadavg") else None],
            "holdout": holdout_info(cfg, split, cases)}
    return SuiteResult(cfg, rows, refs, gens, settings, cases, info, judged)


def holdout_info(cfg: EvalConfig, split: TestSplit, cases: dict[str, list[Case]]) -> dict[str, Any]:
    """Which works the split and each task's cases come from, what was left out, and what the metric
    intervals resample (the raw record of a hold-out's provenance)."""
    return {"split": cfg.split, "excluded_corpus": cfg.exclude_works or None, "left_out_works": split.left_out,
            "split_works": split.works(), "case_works": {t: sorted({c.work for c in cs}) for t, cs in cases.items()},
            "metric_intervals": "95 % percentile bootstrap resampling the cases' works, each with all its clips "
                                "(seconds and CLAP: over clips)"}


def _generate(jobs: list[tuple[Case, Setting]], cfg: EvalConfig, bundle: Bundle, embedder: Embedder, out: Path,
              journal: TextIO, every_clip: bool = False) -> list[Generation]:
    """Run each (case, setting), appending every clip to ``journal`` as it finishes; ``every_clip``: each
    clip's WAV also goes to OUT/clips (for the external judges)."""
    gens: list[Generation] = []
    roots = (str(out.resolve()),)
    bar = tqdm(jobs, desc=f"eval {cfg.suite}", unit="clip", dynamic_ncols=True)
    for case, setting in bar:
        bar.set_postfix_str(f"{case.task} #{case.index} {setting.label}")
        results = run_case(bundle, case, setting, embedder, cfg.device, roots, cfg.steps, cfg.lr,
                           keep_audio=every_clip or case.index < cfg.save_audio, autocast=cfg.autocast)
        for g in results:
            if g.audio is not None:
                if case.index < cfg.save_audio:
                    _write_audio(out / "audio", g, bundle.mel_config.sample_rate)
                if every_clip:
                    _write_audio(out / CLIPS, g, bundle.mel_config.sample_rate)
                g.audio = None
            journal.write(json.dumps(g.to_dict()) + "\n")
        journal.flush()
        gens.extend(results)
    return gens


def read_journal(path: Path) -> tuple[dict[str, Any] | None, list[Generation]]:
    """An earlier run's journal: (the machine its clips were generated on, if recorded; the clips).
    (None, []) when the folder has none."""
    if not path.is_file():
        return None, []
    with open(path, encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    machine = records[0].get("machine") if records else None
    return machine, [Generation.from_dict(r) for r in records if "task" in r]


def _write_audio(folder: Path, g: Generation, sample_rate: int) -> None:
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    sf.write(str(clip_path(folder, g)), np.asarray(g.audio, dtype=np.float32), sample_rate)
