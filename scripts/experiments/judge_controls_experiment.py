"""Intensity and structure on the default model, graded twice: by the loss-shaped metric and by the judge.

An experiment kept in scripts/experiments/: it produced the "Intensity" table of docs/results.md (16 cases,
the command below; the per-clip JSONL went to /tmp and was not kept; the table is typed there).

Runs DITTO-2 (CTM, M = 1, default K: 70 intensity / 150 structure, T = 2) and the same noise decoded
without optimisation, through the engine API, for the protocol's intensity shapes and musical forms
(cycled over --cases cases with varied tags and seeds). Each clip is vocoded and measured with
``ditto_live.judges.metrics`` (1 s-smoothed RMS MSE, MFCC self-similarity MSE) and ``ditto_live.judges.independent``
(BS.1770 momentary loudness, chroma-novelty boundaries). One JSON line per clip goes to --out, then a
markdown table with means and 95 % bootstrap intervals.

    python3 scripts/experiments/judge_controls_experiment.py --out /tmp/judge_controls.jsonl --cases 16 --threads 1
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from ditto_live.controls.intensity import EVAL_SHAPES as INTENSITY_SHAPES
from ditto_live.controls.structure import EVAL_FORMS as FORMS
from ditto_live.engine.conditioning import Cond
from ditto_live.engine.controls import loss_function
from ditto_live.engine.controls.intensity import band_weights, intensity_control, intensity_shape
from ditto_live.engine.controls.structure import form_labels, labels_to_target, structure_control
from ditto_live.engine.ito import ditto2_decode, ditto2_optimise, draw_noise_seed
from ditto_live.engine.train.common import cpu_model_name
from ditto_live.evaluation.scoring import mean_interval
from ditto_live.judges import metrics
from ditto_live.judges.independent import judge_intensity, judge_structure

STEPS = {"intensity": 70, "structure": 150}  # the two kinds' default K (Kind.steps)
SSM_SIZE = 64  # pooled self-similarity size of the structure control and metric
FIGURES = {"intensity": ("intensity_mse_db2", "intensity_loudness_mae_db", "intensity_loudness_corr"),
           "structure": ("structure_mse", "structure_boundary_f")}


def case_tags(vocab: dict[str, list[str]], case: int) -> torch.Tensor:
    """[1, 4] tag ids: genre, mood and instrument cycled through the vocabulary, tempo null."""
    ids = []
    for k, names in vocab.items():
        real = len(names) - 1  # index 0 is the null tag
        ids.append(0 if k == "tempo" or real < 1 else 1 + (case * (3 + len(ids))) % real)
    return torch.tensor([ids], dtype=torch.long)


def build(task: str, case: int, mel) -> tuple[object, np.ndarray]:
    """The case's engine control and its judge target per model frame."""
    if task == "intensity":
        curve = intensity_shape(INTENSITY_SHAPES[case % len(INTENSITY_SHAPES)], mel.frames)  # [N] dB
        bw = band_weights(mel.n_mels, mel.fmin, mel.fmax)
        return intensity_control(curve, mel.min_db, mel.max_db, bw), curve.numpy()
    labels = form_labels(FORMS[case % len(FORMS)], mel.frames)  # [N]
    return structure_control(labels_to_target(labels, SSM_SIZE), mel.min_db, mel.max_db), labels.numpy()


def measure(task: str, audio: np.ndarray, sr: int, target: np.ndarray) -> dict[str, float]:
    """Loss-shaped metric and judge of one clip."""
    if task == "intensity":
        return {"intensity_mse_db2": metrics.intensity_mse(audio, sr, target), **judge_intensity(audio, sr, target)}
    ssm_target = labels_to_target(torch.as_tensor(target), SSM_SIZE).numpy()
    return {"structure_mse": metrics.structure_mse(audio, sr, ssm_target), **judge_structure(audio, sr, target)}


def run_case(bundle, task: str, case: int) -> list[dict]:
    """The case's optimised and unoptimised clips, measured."""
    mel = bundle.mel_config
    control, target = build(task, case, mel)
    cond = Cond(case_tags(bundle.tags, case), w=3.0)
    gen = torch.Generator().manual_seed(7000 + case)
    x_T = torch.randn(1, 1, mel.n_mels, mel.frames, generator=gen)  # [1, 1, F, N]
    noise_seed = draw_noise_seed(gen)
    start = time.perf_counter()
    res = ditto2_optimise(bundle.ctm, x_T, cond, loss_function([control]), STEPS[task], 5e-3, 1,
                          student_kind="ctm", noise_seed=noise_seed)
    optimise_s = time.perf_counter() - start
    out = []
    for label, x, seed in (("unoptimised", x_T, noise_seed), ("DITTO-2 (CTM)", res.x_T, res.noise_seed)):
        x0 = ditto2_decode(bundle.ctm, x, cond, 2, 0.2, "ctm", noise_seed=seed).clamp(-1, 1)
        with torch.no_grad():
            audio = bundle.mel_to_wav(x0.float())[0].cpu().numpy()
        out.append({"task": task, "case": case, "setting": label, "optimise_s": round(optimise_s, 3)
                    if label != "unoptimised" else 0.0,
                    **{k: round(float(v), 5) for k, v in measure(task, audio, mel.sample_rate, target).items()}})
    return out


def summary(records: list[dict]) -> str:
    """Markdown table per task: mean [95 % interval] of each figure per setting."""
    lines = []
    for task, keys in FIGURES.items():
        rs = [r for r in records if r["task"] == task]
        if not rs:
            continue
        lines += [f"### {task} ({len(rs) // 2} cases)", "", "| setting | " + " | ".join(keys) + " |",
                  "|---|" + "---|" * len(keys)]
        for setting in ("unoptimised", "DITTO-2 (CTM)"):
            cells = []
            for k in keys:
                v = [r[k] for r in rs if r["setting"] == setting]
                lo, hi = mean_interval(v)
                finite = [x for x in v if np.isfinite(x)]
                cells.append(f"{np.mean(finite):.3f} [{lo:.3f}, {hi:.3f}]")
            lines.append(f"| {setting} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="judge_controls.jsonl")
    ap.add_argument("--cases", type=int, default=16)
    ap.add_argument("--tasks", default="intensity,structure")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from ditto_live.generation.models import load_bundle

    bundle = load_bundle("default", "cpu")
    machine = {"processor": cpu_model_name(), "torch": torch.__version__, "threads": torch.get_num_threads(),
               "platform": platform.platform()}
    records = []
    with open(args.out, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"machine": machine}) + "\n")
        for task in args.tasks.split(","):
            for case in range(args.cases):
                for rec in run_case(bundle, task, case):
                    records.append(rec)
                    fh.write(json.dumps(rec) + "\n")
                fh.flush()
    print(json.dumps(machine))
    print(summary(records))


if __name__ == "__main__":
    main()
