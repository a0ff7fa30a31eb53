"""Paired comparison of two `ditto-live eval` melody runs on the same cases (same split, seed and noise).

An experiment kept in scripts/experiments/: it produced the paired-difference table ("knob (val split)") of
docs/results.md: the eval folder of docs/results/cpu_xeon/eval_register/melody_val_base against those of
melody_val_T05 and melody_val_lr01 (its printout, typed into the table).

Prints each run's CTM means and the per-case paired difference with two 95 % bootstrap intervals: over
the cases (as the eval's own intervals) and over the works the cases come from (a case is one window of
a work, and several cases can share a work, so the clip intervals are too narrow when they do).

Usage: python scripts/experiments/melody_eval_compare.py BASE_DIR OTHER_DIR [--row "DITTO-2 (CTM)"]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

KEYS = ("melody_raw_pitch_accuracy", "melody_raw_chroma_accuracy", "melody_accuracy")


def per_case(folder: Path, row: str) -> tuple[dict[int, dict[str, float]], dict[int, str]]:
    res = json.loads((folder / "results.json").read_text())
    gens = {g["case"]: g["metrics"] for g in res["generations"] if g["task"] == "melody" and g["setting"] == row}
    works = {int(c["index"]): str(c["target"]["work"] if isinstance(c["target"], dict) else c["target"])
             for c in res["cases"]["melody"]}
    return gens, works


def bootstrap(values: np.ndarray, groups: np.ndarray | None = None, n: int = 10000, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    if groups is None:
        means = values[rng.integers(0, len(values), (n, len(values)))].mean(1)
    else:
        labels = np.unique(groups)
        sums = np.array([values[groups == g].sum() for g in labels])
        counts = np.array([(groups == g).sum() for g in labels])
        pick = rng.integers(0, len(labels), (n, len(labels)))
        means = sums[pick].sum(1) / counts[pick].sum(1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("other")
    ap.add_argument("--row", default="DITTO-2 (CTM)")
    args = ap.parse_args()
    a, works = per_case(Path(args.base), args.row)
    b, works_b = per_case(Path(args.other), args.row)
    cases = sorted(set(a) & set(b))
    if works != works_b:
        raise SystemExit("the two runs have different cases")
    groups = np.array([works[c] for c in cases])
    print(f"{len(cases)} paired cases from {len(set(groups))} works; row {args.row}")
    for k in KEYS:
        x = np.array([a[c][k] for c in cases]) * 100
        y = np.array([b[c][k] for c in cases]) * 100
        d = y - x
        lo, hi = bootstrap(d)
        wlo, whi = bootstrap(d, groups)
        print(f"{k}: base {x.mean():.1f} other {y.mean():.1f}  diff {d.mean():+.1f} [{lo:+.1f}, {hi:+.1f}] by case, "
              f"[{wlo:+.1f}, {whi:+.1f}] by work; better/worse/equal {int((d > 0.5).sum())}/{int((d < -0.5).sum())}/"
              f"{int((abs(d) <= 0.5).sum())}")


if __name__ == "__main__":
    main()
