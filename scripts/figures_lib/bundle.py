"""Issue 31: the shipped bundle against the same bundle trained longer, on the untouched hold-out: the quality
judge (musicnn FD) and the adherence judges, each row with its interval."""

from __future__ import annotations

from .formats import CTM, JUDGES, UNOPT, block, ci, cpu_name, judge_reading, num, pct
from .raw import Raw

BUNDLE_LONGER = "bundle_longer"  # before/ (the shipped bundle) and after/ (trained longer): eval runs with the judges
NOTE_F = "melody_note_f"


def _quality(run: dict, task: str, label: str) -> dict:
    return next(v for k, v in run["quality"]["rows"].items() if k.startswith(f"{task}: {label}, T="))


def _fd(q: dict) -> str:
    return f"{num(q['fd'], 1)} {ci(q['fd_interval'], 1)}"


def _judge(raw: Raw, rel: str, task: str, label: str) -> str:
    row = raw.row(rel, label, task)
    note = f"; note F {pct(row['metrics'][NOTE_F])}" if task == "melody" else ""
    return judge_reading(row, task) + note


def separated(before: dict, after: dict) -> str:
    """Whether the quality judge tells the two apart: their FD intervals do not overlap (and which is lower)."""
    if after["fd_interval"][1] < before["fd_interval"][0]:
        return "after lower"
    if before["fd_interval"][1] < after["fd_interval"][0]:
        return "before lower"
    return "no (intervals overlap)"


def bundle_longer(raw: Raw) -> str:
    """Per task and row (CTM, unoptimised): FD in musicnn, before and after, whether they separate, and the task's
    adherence judge before and after."""
    rels = {side: f"{BUNDLE_LONGER}/{side}/results.json" for side in ("before", "after")}
    runs = {side: raw.json(rel) for side, rel in rels.items()}
    lines = ["| task | row | FD before | FD after | told apart | judge | before | after |",
             "|---|---|---|---|---|---|---|---|"]
    for task, (_, name) in JUDGES.items():
        for label in (CTM, UNOPT):
            q = {side: _quality(run, task, label) for side, run in runs.items()}
            lines.append(f"| {task} | {label} | {_fd(q['before'])} | {_fd(q['after'])} | "
                         f"{separated(q['before'], q['after'])} | {name} | {_judge(raw, rels['before'], task, label)} "
                         f"| {_judge(raw, rels['after'], task, label)} |")
    info = runs["after"]["info"]
    lines += ["", f"{info['config']['cases']} cases per task from the untouched hold-out (the same cases, noise and "
              f"defaults for both bundles); FD in {runs['after']['quality']['judge']} against "
              f"{runs['after']['quality']['reference']}; intervals resample works. "
              f"{cpu_name(info['machine']['processor'])}, {info['machine']['torch_threads']} torch thread, float32 "
              f"(raw: `docs/results/{BUNDLE_LONGER}/`, the recipe in its provenance.json)."]
    return block(lines)


def bundle_longer_paired(raw: Raw) -> str:
    """The paired test of the same two runs: FD(after) - FD(before) per row, resampling the works jointly."""
    paired = raw.json(f"{BUNDLE_LONGER}/paired.json")
    lines = ["| row | FD after − before | 95 % interval (works resampled jointly) | beyond the interval |",
             "|---|---|---|---|"]
    for row, d in paired["rows"].items():
        lo, hi = d["interval"]
        verdict = "after nearer to real music" if hi < 0 else "before nearer" if lo > 0 else "no"
        lines.append(f"| {row} | {d['difference']:+.2f} | [{lo:+.2f}, {hi:+.2f}] | {verdict} |")
    lines += ["", f"{paired['judge']}; {paired['test']} (`scripts/experiments/paired_bundles.py`; raw: "
              f"`docs/results/{BUNDLE_LONGER}/paired.json`)."]
    return block(lines)
