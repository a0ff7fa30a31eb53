"""Writing a suite's results: results.json, results.md in the paper's table layout, Figure 4/5-style PNGs."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ditto_live.controls import KINDS, EvalTask
from ditto_live.evaluation.external import EXTERNAL_COLUMNS, row_key
from ditto_live.evaluation.scoring import Row
from ditto_live.evaluation.suites import INTENSITY_FIGURES, SuiteResult

JUDGES_NOTE = ("- Judges (DESIGN §5, `ditto_live/judges/independent.py`), which no loss imitates: melody by librosa's pYIN f0 "
               "scored with mir_eval's raw pitch / raw chroma accuracy (50 cents) over the frames where the target "
               "sounds; intensity by ITU-R BS.1770 momentary loudness (pyloudnorm, 400 ms) against the target "
               "curve, mean absolute error after removing the mean offset and Pearson r; structure by the hit-rate "
               "F (0.5 s) of CQT-chroma novelty boundaries against the form's. Claims rest on the judges; the "
               "loss-shaped metric beside them is measured the way the loss is built. [a, b]: 95 % bootstrap "
               "interval of the mean, resampling the row's works with all their clips (results.json: "
               "metric_intervals_resample; clips where the cases carry no work id)")
# the paper's Table 1 (A100, 41M-parameter model, 2.5K generations): (time s, FAD, CLAP, metric)
PaperRow = tuple[float, float, float, float | None]  # seconds, FAD, CLAP, the control's metric (None: none)
PAPER_TABLE1: dict[str, dict[str, PaperRow]] = {
    "intensity": {"DITTO": (82.192, 0.682, 0.296, 4.758), "DITTO-2 (CM)": (5.206, 0.685, 0.320, 3.055),
                  "DITTO-2 (CTM)": (5.467, 0.640, 0.309, 3.311)},
    "melody": {"DITTO": (230.780, 0.699, 0.283, 82.625), "DITTO-2 (CM)": (21.867, 0.697, 0.303, 81.577),
               "DITTO-2 (CTM)": (22.501, 0.698, 0.273, 85.226)},
    "structure": {"DITTO": (245.295, 0.632, 0.281, 0.024), "DITTO-2 (CM)": (11.381, 0.669, 0.234, 0.020),
                  "DITTO-2 (CTM)": (11.749, 0.658, 0.226, 0.022)},
    "outpaint": {"DITTO": (144.437, 0.716, 0.343, None), "DITTO-2 (CM)": (6.658, 0.694, 0.319, None),
                 "DITTO-2 (CTM)": (7.098, 0.680, 0.347, None)},
    "inpaint": {"DITTO": (145.486, 0.690, 0.339, None), "DITTO-2 (CM)": (6.744, 0.689, 0.358, None),
                "DITTO-2 (CTM)": (6.814, 0.660, 0.337, None)},
}


def _f(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}"


def _with_interval(row: Row, key: str, scale: float = 1.0, digits: int = 3) -> str:
    """A row's mean of ``key`` and its 95 % interval, e.g. "91.5 [88.0, 94.1]"; "–" when not measured."""
    if key == "seconds":
        value = row.seconds
    elif key == "clap":
        value = row.clap
    elif key in row.metrics:
        value = row.metrics[key]
    else:
        return "–"
    if value is None or not math.isfinite(value):
        return "–"
    lo, hi = row.intervals.get(key, (math.nan, math.nan))
    text = _f(value * scale, digits)
    if lo is not None and hi is not None and math.isfinite(lo) and math.isfinite(hi):
        text += f" [{_f(lo * scale, digits)}, {_f(hi * scale, digits)}]"
    return text


def _evaluation(task: str) -> EvalTask:
    """The task's kind's evaluation row (its title, metric and judges' columns)."""
    ev = KINDS[task].evaluation
    if ev is None:
        raise KeyError(f"{task}: a control kind without an evaluation")
    return ev


def _metric(row: Row, task: str) -> str:
    metric = _evaluation(task).metric
    if metric is None:
        return ""
    key, _, scale = metric
    return _with_interval(row, key, scale, 1 if scale == 100.0 else 3)


def _judge_columns(res: SuiteResult, task: str) -> tuple[tuple[str, str, float], ...]:
    """The judges' columns of a task: its kind's ``EvalTask.judges``, then the external judges' (the note
    judge's on melody) where its rows carry them."""
    external = tuple(c for c in EXTERNAL_COLUMNS.get(task, ()) if any(c[0] in r.metrics for r in _rows_of(res, task)))
    return _evaluation(task).judges + external


def _judges(row: Row, columns: tuple[tuple[str, str, float], ...]) -> list[str]:
    """The judges' cells of a row, in ``columns`` order."""
    return [_with_interval(row, key, scale, 1 if scale == 100.0 else 2) for key, _, scale in columns]


def _judge_titles(columns: tuple[tuple[str, str, float], ...]) -> list[str]:
    return [title for _, title, _ in columns]


def _header(res: SuiteResult) -> list[str]:
    info, cfg = res.info, res.config
    m = info["machine"]
    lines = [f"# ditto-live eval: {cfg.suite}", ""]
    if info.get("untrained"):
        lines += ["**Model `tiny-untrained`: random, untrained weights. These numbers only show that the "
                  "pipeline runs; they say nothing about the method.**", ""]
    if info.get("undistilled_students"):
        lines += [f"**The bundle has no distilled {' / '.join(info['undistilled_students']).upper()} student: those "
                  "DITTO-2 rows use the undistilled base model as the student (its one-step x0 prediction as the "
                  "surrogate, its x0/eps for the decoding jumps). They measure DITTO-2's machinery, not a "
                  "distilled model.**", ""]
    if not info.get("embedding_trained", True):
        lines += ["**The bundle has no text-audio model: FAD and CLAP use a random-weight stand-in encoder "
                  "(not meaningful).**", ""]
    lines += [f"- model: `{info['model']}` ({info['model_path']}), vocoder: {info['vocoder']}",
              f"- machine: {m.get('gpu') or m['processor']}, {m['cpu_count']} CPUs, {m['torch_threads']} torch threads, "
              f"torch {m['torch']}, device `{m['device']}`; optimisation in "
              f"{'bf16 autocast' if cfg.autocast else 'float32'}, decoding in float32",
              f"- cases per task: {cfg.cases}; K = {cfg.steps or 'each control’s default'}; lr {cfg.lr or 'each control’s default'}; "
              f"seed {cfg.seed}; " + (f"report rebuilt in {info['wall_s']:.0f} s" if cfg.report_only else
                                      f"wall time {info['wall_s']:.0f} s; 1-min load average before/after "
                                      f"{' / '.join(_f(v, 1) for v in info.get('load_avg_1m', []))}"),
              f"- FAD: Fréchet distance in the project's text-audio embedding between the clips of a row and "
              f"{info['reference_clips']} {cfg.split} windows (the reference half of the {cfg.split} split, by "
              f"work); KID: the unbiased kernel distance to the same windows (×1000; unlike FAD it does not grow with a row's "
              f"diversity at small N, so rank rows of a few clips by KID); "
              f"CLAP: mean cosine between a clip and its window's caption",
              "- Time: optimisation + decoding per clip (vocoding excluded; it is the same for every method)",
              JUDGES_NOTE]
    if cfg.suite == "table1":
        lines += ["- ÷ unoptimised: a row's control metric over that of the CTM student decoding each case's initial "
                  "noise without optimisation (the same noise every method starts from)"]
    if info.get("clips_from_journal"):
        made = "reported without running" if cfg.report_only else "resumed"
        lines += [f"- {info['clips_from_journal']} clips come from the folder's generations.jsonl ({made}); their "
                  f"times were measured where they were generated: "
                  f"{_machine(info.get('journal_machine') or {'processor': 'not recorded'})}"]
    return lines + [""]


def _machine(m: dict[str, Any]) -> str:
    return m.get("gpu") or m.get("processor", "?")


def _reference_table(res: SuiteResult) -> list[str]:
    lines = [f"### Reference rows ({res.config.cases} clips each, scored like the generations)", "",
             "| Reference | FAD | KID×10³ | CLAP |", "|---|---|---|---|"]
    lines += [f"| {r.label} | {_f(r.fad)} | {_f(r.kid, 2)} | {_f(r.clap)} |" for r in res.references]
    return lines + [""]


def _rows_of(res: SuiteResult, task: str) -> list[Row]:
    return [r for r in res.rows if r.task == task]


def _vs_unoptimised(row: Row, base: Row | None, task: str) -> str:
    """The row's control metric over the unoptimised output's (MSE: lower is better; accuracy: higher)."""
    key = (_evaluation(task).metric or ("",))[0]
    if base is None or row is base or key not in row.metrics or not base.metrics.get(key):
        return "–"
    return f"{row.metrics[key] / base.metrics[key]:.2f}×"


def markdown(res: SuiteResult) -> str:
    """results.md: the suite's tables in the paper's layout, then the reference rows."""
    lines = _header(res)
    suite = res.config.suite
    tasks = list(dict.fromkeys(r.task for r in res.rows))
    if suite == "table1":
        lines += ["## Table 1: controllable generation benchmark", ""]
        for task in tasks:
            ev = _evaluation(task)
            mcol = ev.metric[1] if ev.metric is not None else "metric"
            columns = _judge_columns(res, task)
            jcols = _judge_titles(columns)
            lines += [f"### {ev.title}", "", f"| Method | M | T | Time (s) | speed-up | FAD | KID×10³ | CLAP | {mcol} "
                      f"| ÷ unoptimised |{''.join(f' {j} |' for j in jcols)}",
                      "|---|---|---|---|---|---|---|---|---|---|" + "---|" * len(jcols)]
            ditto = next((r.seconds for r in _rows_of(res, task) if r.label == "DITTO"), None)
            base = next((r for r in _rows_of(res, task) if r.label.endswith("unoptimised")), None)
            lines += [f"| {r.label} | {r.M} | {r.T} | {_with_interval(r, 'seconds', 1.0, 2)} | "
                      f"{f'{ditto / r.seconds:.1f}×' if ditto and r.label != 'DITTO' and r is not base else '–'} | "
                      f"{_f(r.fad)} | {_f(r.kid, 2)} | {_with_interval(r, 'clap')} | {_metric(r, task)} | "
                      f"{_vs_unoptimised(r, base, task)} |{''.join(f' {c} |' for c in _judges(r, columns))}"
                      for r in _rows_of(res, task)]
            paper = PAPER_TABLE1.get(task, {})
            if paper:
                lines += ["", "Paper (A100, 41M model, 2.5K clips, CLAP-music FAD vs MusicCaps): " + "; ".join(
                    f"{name} {t:.1f} s, FAD {fd:.3f}, CLAP {c:.3f}" + (f", {mt}" if mt is not None else "")
                    for name, (t, fd, c, mt) in paper.items())]
            lines.append("")
    elif suite in ("table2", "fig5"):
        title = "Table 2: intensity control, (M, T) settings" if suite == "table2" else \
            "Figure 5: intensity control vs decoding steps T (M = 1)"
        columns = _judge_columns(res, INTENSITY_FIGURES[0])
        jcols = _judge_titles(columns)
        lines += [f"## {title}", "", "| Method | M | T | Runtime (s) | FAD | KID×10³ | CLAP | MSE (dB²) |"
                  + "".join(f" {j} |" for j in jcols), "|---|---|---|---|---|---|---|---|" + "---|" * len(jcols)]
        lines += [f"| {r.label} | {r.M} | {r.T} | {_with_interval(r, 'seconds', 1.0, 2)} | {_f(r.fad)} | {_f(r.kid, 2)} | "
                  f"{_with_interval(r, 'clap')} | {_metric(r, r.task)} |{''.join(f' {c} |' for c in _judges(r, columns))}"
                  for r in res.rows]
        lines += ["", "![Figure 4 style](fig4.png)" if suite == "table2" else "![Figure 5 style](fig5.png)", ""]
    elif suite == "text":
        lines += ["## Table 3: text control (CLAP score before / after)", "",
                  "| Method | Condition | T | Time (s) | FAD | KID×10³ | CLAP | text loss before | text loss after |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in res.rows:
            cond = "null tags" if "null tags" in r.label else "tags"
            lines.append(f"| {r.label} | {cond} | {r.T} | {_with_interval(r, 'seconds', 1.0, 2)} | {_f(r.fad)} | "
                         f"{_f(r.kid, 2)} | {_with_interval(r, 'clap')} | "
                         f"{_f(r.extra.get('loss_text_before'))} | {_f(r.extra.get('loss_text_after'))} |")
        lines.append("")
    lines += _quality_table(res) + _reference_table(res)
    return "\n".join(lines)


def _quality_table(res: SuiteResult) -> list[str]:
    """The sound-quality judge's rows (FD / KID with intervals), or the line saying why there are none;
    and the note judge's line."""
    judged = res.judged
    lines = []
    if judged.note_judge is not None:
        lines += [f"- Note judge: {judged.note_judge} transcriptions of {judged.note_clips} melody clips, scored "
                  "with mir_eval against the written notes: note F on pitch (50 cents) and onset (50 ms), offsets "
                  "ignored; chroma note F the same on pitch classes", ""]
    elif judged.notes_skipped and not judged.notes_skipped.startswith("not asked"):
        lines += [f"- Note judge (basic-pitch) not run: {judged.notes_skipped}", ""]
    q = judged.quality
    if q is None:
        if judged.quality_skipped and not judged.quality_skipped.startswith("not asked"):
            lines += [f"- Sound-quality judge (musicnn) not run: {judged.quality_skipped}", ""]
        return lines
    lines += [f"### Sound quality: {q.judge}", "",
              f"Fréchet distance and KID×10³ of each row's clips to {q.reference}, in an embedding trained on real "
              "music; [a, b]: 95 % interval resampling the row's works. FD grows as n shrinks: compare rows of "
              "equal n (KID does not).", "", "| Task | Method | T | n | FD | KID×10³ |", "|---|---|---|---|---|---|"]
    for r in res.rows:
        s = q.rows.get(row_key(r.task, r.label, r.T))
        if s is not None:
            lines.append(f"| {r.task} | {r.label} | {r.T} | {s.clips} | {_f(s.fd, 2)} [{_f(s.fd_interval[0], 2)}, "
                         f"{_f(s.fd_interval[1], 2)}] | {_f(s.kid, 2)} [{_f(s.kid_interval[0], 2)}, "
                         f"{_f(s.kid_interval[1], 2)}] |")
    return lines + [""]


def _clean(value: Any) -> Any:
    """JSON-safe: non-finite floats become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def to_json(res: SuiteResult) -> dict[str, Any]:
    return _clean({"suite": res.config.suite, "info": res.info, "rows": [r.to_dict() for r in res.rows],
            "references": [r.to_dict() for r in res.references],
            "cases": {t: [{"index": c.index, "row": c.row, "work": c.work, "caption": c.caption, "target": c.target}
                          for c in cs]
                      for t, cs in res.cases.items()},
            **res.judged.to_dict(), "generations": [g.to_dict() for g in res.generations]})


def plot_fig4(rows: list[Row], path: Path, window_s: float) -> Path:
    """Runtime (x, log) vs intensity MSE (y) with FAD as point size, one label per (method, M, T)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    task = INTENSITY_FIGURES[0]
    key = (_evaluation(task).metric or ("",))[0]
    pts = [r for r in rows if r.task == task and key in r.metrics]
    fads = [r.fad for r in pts if math.isfinite(r.fad)]
    lo, hi = (min(fads), max(fads)) if fads else (0.0, 1.0)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours: dict[str, str] = {}  # method family -> matplotlib colour
    for r in pts:
        family = r.label.split(" M=")[0].split(" adaptive")[0]
        colour = colours.setdefault(family, f"C{len(colours)}")
        size = 60 + 440 * ((r.fad - lo) / (hi - lo) if math.isfinite(r.fad) and hi > lo else 0.5)
        ax.scatter(r.seconds, r.metrics[key], s=size, color=colour, alpha=0.6,
                   label=family if family not in ax.get_legend_handles_labels()[1] else None)
        ax.annotate(f"{r.M}/{r.T}", (r.seconds, r.metrics[key]), fontsize=8, ha="center", va="center")
    ax.axvline(window_s, color="k", ls="--", lw=1, label="real time")
    ax.set(xscale="log", xlabel="runtime per clip (s)", ylabel="intensity MSE (dB²)",
           title="runtime vs control MSE (point size: FAD, larger is worse; label M/T)")
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    legend = ax.legend(fontsize=8)
    for handle in legend.legend_handles:
        if handle is not None and hasattr(handle, "set_sizes"):
            handle.set_sizes([60])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_fig5(rows: list[Row], path: Path) -> Path:
    """FAD, MSE and CLAP vs decoding steps T per student; DITTO (M = T = 20) as a horizontal line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(6, 8), sharex=True)
    panels = [("FAD", lambda r: r.fad), ("MSE (dB²)", lambda r: r.metrics.get("intensity_mse_db2", math.nan)),
              ("CLAP", lambda r: r.clap)]
    families = list(dict.fromkeys(r.label for r in rows if r.M != "20"))
    for ax, (name, get) in zip(axes, panels):
        for i, fam in enumerate(families):
            pts = sorted((r.T, get(r)) for r in rows if r.label == fam)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=f"C{i}", label=fam)
        for r in rows:
            if r.M == "20":
                ax.axhline(get(r), color="orange", ls="--", label="DITTO (20/20)")
        ax.set_ylabel(name)
    axes[0].legend(fontsize=8)
    axes[-1].set_xlabel("decoding steps T")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(res: SuiteResult, window_s: float) -> dict[str, Path]:
    """Write results.json, results.md and the suite's plots under the output folder."""
    out = Path(res.config.out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "results.json", "md": out / "results.md"}
    paths["json"].write_text(json.dumps(to_json(res), indent=1, allow_nan=False))
    paths["md"].write_text(markdown(res))
    if any(r.task in INTENSITY_FIGURES for r in res.rows):
        paths["fig4"] = plot_fig4(res.rows, out / "fig4.png", window_s)
    if res.config.suite == "fig5":
        paths["fig5"] = plot_fig5(res.rows, out / "fig5.png")
    return paths
