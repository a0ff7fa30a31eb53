"""Intensity adherence per curve class (ramps, swells, steps) beside the judge's ceiling, from eval runs (issue 33).

Reads the ``results.json`` of ``ditto-live eval --tasks intensity`` runs (or of
``scripts/experiments/intensity_eval_knobs.py``), whose cases record each curve's class and the judge's ceiling
for it (``ditto_live.controls.intensity.judge_ceiling``), and writes one JSON (and a markdown table) with, per
run, row and T: per class and over all cases, the mean BS.1770 r, its gap to the ceiling (ceiling r - r,
per case) and the offset-free MAE, each with the eval's 95 % bootstrap interval of the mean, plus the librosa
level MSE and the time per clip.

A run cut short has no ``results.json``: name its ``generations.jsonl`` instead, and the cases' targets are
rebuilt from their index (a case's curve and ceiling depend on nothing else: ``intensity.eval_case``) on the
default model's window.

Usage: python scripts/experiments/intensity_classes.py --out docs/results/intensity_objective/val_summary.json \
           NAME=DIR/results.json [NAME=DIR/generations.jsonl ...]
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from ditto_live.evaluation.scoring import mean_interval

CLASSES = ("ramp", "swell", "step")


def _figure(values: list[float]) -> dict[str, Any]:
    """Mean and 95 % bootstrap interval of the mean (the eval's own)."""
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return {"mean": None, "ci": None, "n": 0}
    lo, hi = mean_interval(values)
    return {"mean": sum(values) / len(values), "ci": [lo, hi], "n": len(values)}


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    """Per (row, T) and class: r, ceiling r, gap, MAE, ceiling MAE, librosa MSE, seconds, loss after."""
    targets = {c["index"]: c["target"] for c in results["cases"]["intensity"]}
    groups: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for g in results["generations"]:
        if g["task"] == "intensity":
            groups[(g["setting"], g["T"])].append(g)
    out = {}
    for (setting, T), gens in sorted(groups.items()):
        per_class = {}
        for cls in (*CLASSES, "all"):
            chosen = [g for g in gens if cls == "all" or targets[g["case"]]["class"] == cls]
            m = [g["metrics"] for g in chosen]
            t = [targets[g["case"]] for g in chosen]
            per_class[cls] = {
                "cases": [g["case"] for g in chosen],
                "r": _figure([x["intensity_loudness_corr"] for x in m]),
                "ceiling_r": _figure([x["ceiling_corr"] for x in t]),
                "gap_r": _figure([c["ceiling_corr"] - x["intensity_loudness_corr"] for x, c in zip(m, t)]),
                "mae_db": _figure([x["intensity_loudness_mae_db"] for x in m]),
                "ceiling_mae_db": _figure([c["ceiling_mae_db"] for c in t]),
                "librosa_mse_db2": _figure([x["intensity_mse_db2"] for x in m]),
                "seconds": _figure([g["seconds"] for g in chosen]),
                "loss_after": _figure([g["loss_after"].get("intensity") for g in chosen]),
            }
        out[f"{setting} T={T}"] = per_class
    return out


def _cell(f: dict[str, Any], digits: int = 3) -> str:
    if f["mean"] is None:
        return "–"
    return f"{f['mean']:.{digits}f} [{f['ci'][0]:.{digits}f}, {f['ci'][1]:.{digits}f}]"


def markdown(summary: dict[str, Any]) -> str:
    lines = ["| run | row | class | n | BS.1770 r | ceiling r | ceiling − r | MAE (dB) | ceiling MAE | librosa MSE (dB²) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for run, rows in summary["runs"].items():
        for row, classes in rows.items():
            for cls, f in classes.items():
                lines.append(f"| {run} | {row} | {cls} | {f['r']['n']} | {_cell(f['r'])} | {_cell(f['ceiling_r'])} | "
                             f"{_cell(f['gap_r'])} | {_cell(f['mae_db'], 2)} | {_cell(f['ceiling_mae_db'], 2)} | "
                             f"{_cell(f['librosa_mse_db2'], 1)} |")
    return "\n".join(lines) + "\n"


def from_journal(path: Path) -> dict[str, Any]:
    """A results.json-like record from an eval journal: its clips, the machine line, targets rebuilt by index."""
    from ditto_live.controls.base import EvalWindow
    from ditto_live.controls.intensity import eval_case

    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    gens = [g for g in lines if "task" in g]
    sample_rate, hop, frames = 22050, 256, 512  # the default model's window (bundle mel config)
    targets = []
    for index in sorted({g["case"] for g in gens}):
        w = EvalWindow(index, {}, None, None, sample_rate / hop, sample_rate, frames * hop / sample_rate, path)
        targets.append({"index": index, "target": eval_case(w)[1]})
    machine = next((line["machine"] for line in lines if "machine" in line), None)
    return {"cases": {"intensity": targets}, "generations": gens,
            "info": {"machine": machine, "config": None, "journal": str(path), "cut_short": True}}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("runs", nargs="+", metavar="NAME=RESULTS_JSON")
    args = ap.parse_args()
    summary: dict[str, Any] = {"runs": {}, "sources": {}}
    for item in args.runs:
        name, path = item.split("=", 1)
        results = from_journal(Path(path)) if path.endswith(".jsonl") else json.loads(Path(path).read_text())
        summary["runs"][name] = summarise(results)
        info = results["info"]
        summary["sources"][name] = {"results": path, "config": info.get("config"), "machine": info.get("machine"),
                                    "load_avg_1m": info.get("load_avg_1m"), "wall_s": info.get("wall_s")}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=1))
    out.with_suffix(".md").write_text(markdown(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
