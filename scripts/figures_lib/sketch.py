"""Issue 27's warm starts for intensity, structure and the paintings (docs/bench.md): K, lr and the sketch's share
chosen on val."""

from __future__ import annotations

from .formats import CTM, MEL_CHROMA, MEL_PITCH, block, ci, cpu_name, num, pct, pct_ci
from .raw import LOOP, PAINTING, SHIPPED, SKETCH_EPYC, SKETCH_INVERSION, Raw

MAE, R, BOUNDARY_F = "intensity_loudness_mae_db", "intensity_loudness_corr", "structure_boundary_f"
INTENSITY_RUNS = (("int_k70_nosk", "70", "plain noise (before)"), ("int_k30_nosk", "30", "plain noise"),
                  ("int_k30_s04", "30", "sketch, 0.4"), ("int_k30_s07", "30", "sketch, 0.7"),
                  ("int_k20_s04", "20", "sketch, 0.4"), ("int_k20_s07", "**20**", "**sketch, 0.7** (chosen)"))
PAINT_MSE = "{task}_mse_db2"
PAINT_RUNS = (("K70_lr0.005_nosketch", "70", "5e-3", "plain noise (before)"),
              ("K20_lr0.01_nosketch", "20", "1e-2", "plain noise"), ("K20_lr0.02_nosketch", "20", "2e-2", "plain noise"),
              ("K20_lr0.01_share0.4", "20", "1e-2", "sketch, 0.4"), ("K20_lr0.01_share0.7", "20", "1e-2", "sketch, 0.7"),
              ("K20_lr0.02_share0.7", "20", "2e-2", "sketch, 0.7"),
              ("K20_lr0.01_share1.0", "**20**", "**1e-2**", "**sketch, 1.0** (chosen)"),
              ("K10_lr0.01_share1.0", "10", "1e-2", "sketch, 1.0"), ("K30_lr0.01_share1.0", "30", "1e-2", "sketch, 1.0"))
STRUCTURE_RUNS = (("str_k60_nosk", "**60**", "**plain noise** (kept)"), ("str_k30_nosk", "30", "plain noise"),
                  ("str_k30_s04", "30", "form sketch, 0.4"), ("str_k20_s04", "20", "form sketch, 0.4"))


def intensity_sketch(raw: Raw) -> str:
    """Intensity (BS.1770) and structure (boundary F) on val against K and the start, DITTO-2 CTM."""
    classes = raw.json(f"{SKETCH_EPYC}/val_intensity_classes.json")["runs"]
    lines = ["| control | K | start (share) | judge | largest class gap to the judge's ceiling r | CLAP |",
             "|---|---|---|---|---|---|"]
    for name, k, start in INTENSITY_RUNS:
        rel = f"{SKETCH_EPYC}/val_{name}.json"
        row = raw.row(rel, CTM, "intensity")
        summary = classes[name][f"{CTM} T=1"]
        gap = num(max(summary[c]["gap_r"]["mean"] for c in ("ramp", "swell", "step")), 3)
        lines.append(f"| intensity | {k} | {start} | BS.1770 MAE {num(row['metrics'][MAE])} dB "
                     f"{ci(row['intervals'][MAE])}, r {num(row['metrics'][R], 3)} | {gap} | {num(row['clap'])} |")
    for name, k, start in STRUCTURE_RUNS:
        row = raw.row(f"{SKETCH_EPYC}/val_{name}.json", CTM, "structure")
        lines.append(f"| structure | {k} | {start} | boundary F {num(row['metrics'][BOUNDARY_F])} "
                     f"{ci(row['intervals'][BOUNDARY_F])} | – | {num(row['clap'])} |")
    info = raw.json(f"{SKETCH_EPYC}/val_int_k20_s07.json")["info"]
    lines += ["", f"{info['config']['cases']} val-split cases per row, DITTO-2 (CTM), each control's T, "
              f"{cpu_name(info['machine']['processor'])}, {info['machine']['torch_threads']} torch thread, float32 "
              f"(raw: `docs/results/{SKETCH_EPYC}/`, commands in its provenance.json)."]
    return block(lines)


def sketch_inversion(raw: Raw) -> str:
    """Intensity and melody on val against the student calls that invert the sketch to x_T (DITTO-2 CTM)."""
    lines = ["| inversion calls | intensity: BS.1770 MAE (dB) | intensity: s per clip | melody: pYIN raw pitch "
             "| melody: pYIN raw chroma | melody: s per clip |", "|---|---|---|---|---|---|"]
    for n in (2, 4, 8, 16):
        i_rel, m_rel = f"{SKETCH_INVERSION}/val_intensity_inv{n}.json", f"{SKETCH_INVERSION}/val_melody_inv{n}.json"
        i, m = raw.row(i_rel, CTM, "intensity"), raw.row(m_rel, CTM, "melody")
        calls = f"**{n}** (kept)" if n == 8 else str(n)
        lines.append(f"| {calls} | {num(i['metrics'][MAE])} {ci(i['intervals'][MAE])} "
                     f"| {num(i['seconds'])} | {pct(m['metrics'][MEL_PITCH])} {pct_ci(m['intervals'][MEL_PITCH])} "
                     f"| {pct(m['metrics'][MEL_CHROMA])} | {num(m['seconds'])} |")
    info = raw.json(f"{SKETCH_INVERSION}/val_intensity_inv8.json")["info"]
    lines += ["", f"{info['config']['cases']} val-split cases per cell, the shipped bundle, DITTO-2 (CTM) at each control's "
              "K, lr and T, "
              f"{cpu_name(info['machine']['processor'])} (AVX512, no native bf16), "
              f"{info['machine']['torch_threads']} torch thread, float32; s per clip: optimisation + decoding, two "
              f"evaluations side by side (raw: `docs/results/{SKETCH_INVERSION}/`, commands in its provenance.json)."]
    return block(lines)


def intensity_holdout_classes(raw: Raw) -> str:
    """Issue 33 on the untouched hold-out at today's defaults: per curve class, r against the judge's ceiling."""
    summary = raw.json(f"{SHIPPED}/classes.json")["runs"]["holdout"]
    lines = ["| row | class | cases | BS.1770 r | the judge's ceiling r | gap | MAE (dB) |", "|---|---|---|---|---|---|---|"]
    for row in (f"{CTM} T=1", "DITTO-2 (CM) T=1"):
        for cls in ("ramp", "swell", "step", "all"):
            c = summary[row][cls]
            lines.append(f"| {row.split(' T=')[0]} | {cls} | {c['r']['n']} | {num(c['r']['mean'], 3)} "
                         f"{ci(c['r']['ci'], 3)} | {num(c['ceiling_r']['mean'], 3)} | {num(c['gap_r']['mean'], 3)} "
                         f"{ci(c['gap_r']['ci'], 3)} | {num(c['mae_db']['mean'])} {ci(c['mae_db']['ci'])} |")
    lines += ["", f"K = 20 from the output gained to the curve, T = 1; intervals here resample clips "
              f"(`scripts/experiments/intensity_classes.py`; raw: `docs/results/{SHIPPED}/classes.json` "
              "from its results.json, whose own intervals resample works)."]
    return block(lines)


def _paint_cells(raw: Raw, rel: str, task: str, fad: bool = False) -> str:
    """A painting row's overlap MSE [interval], CLAP (and FAD) and seconds per clip; dashes for a run not made."""
    if not raw.exists(rel):
        return " | ".join(["–"] * (4 if fad else 3))
    row, name = raw.row(rel, CTM, task), PAINT_MSE.format(task=task)
    return " | ".join([f"{num(row['metrics'][name], 1)} {ci(row['intervals'][name], 1)}", num(row["clap"]),
                       *([num(row["fad"])] if fad else []), num(row["seconds"])])


def painting_sketch(raw: Raw) -> str:
    """Outpaint and inpaint on val against K, Adam's step and the start: plain noise, or the model's own output with
    the reference pasted in, inverted (DITTO-2 CTM); and the stream window's lot before (K = 24 of 70 at 5e-3)."""
    lines = ["| K | lr | start | outpaint: overlap MSE (dB²) | CLAP | s per clip | inpaint: overlap MSE (dB²) | CLAP "
             "| s per clip |", "|---|---|---|---|---|---|---|---|---|"]
    for label, k, lr, start in PAINT_RUNS:
        lines.append(f"| {k} | {lr} | {start} | {_paint_cells(raw, f'{PAINTING}/val_outpaint_{label}.json', 'outpaint')} "
                     f"| {_paint_cells(raw, f'{PAINTING}/val_inpaint_{label}.json', 'inpaint')} |")
    before = raw.row(f"{PAINTING}/val_outpaint_K24_lr0.005_nosketch.json", CTM, "outpaint")
    stream = (f"overlap MSE {num(before['metrics']['outpaint_mse_db2'], 1)} "
              f"{ci(before['intervals']['outpaint_mse_db2'], 1)} dB², CLAP {num(before['clap'])}")
    info = raw.json(f"{PAINTING}/val_outpaint_K20_lr0.01_share1.0.json")["info"]
    lines += ["", f"A stream window before (its deadline stopped K = 70 at 5e-3 after about 24 steps): outpaint, K = 24, "
              f"plain noise: {stream}. {info['config']['cases']} val-split cases per cell, the shipped bundle, DITTO-2 "
              f"(CTM), T = 2, {cpu_name(info['machine']['processor'])} (AVX512, no native bf16), "
              f"{info['machine']['torch_threads']} torch thread, float32; s per clip: optimisation + decoding "
              f"(raw: `docs/results/{PAINTING}/`, commands in its provenance.json)."]
    return block(lines)


def painting_test(raw: Raw) -> str:
    """The paintings on the test split, before (K = 70 at 5e-3 from plain noise) and at the chosen defaults."""
    lines = ["| control | before: overlap MSE (dB²) | CLAP | FAD | s per clip | now: overlap MSE (dB²) | CLAP | FAD "
             "| s per clip |", "|---|---|---|---|---|---|---|---|---|"]
    for task in ("outpaint", "inpaint"):
        lines.append(f"| {task} | {_paint_cells(raw, f'{PAINTING}/test_{task}_before.json', task, fad=True)} "
                     f"| {_paint_cells(raw, f'{PAINTING}/test_{task}_after.json', task, fad=True)} |")
    info = raw.json(f"{PAINTING}/test_outpaint_after.json")["info"]
    lines += ["", f"{info['config']['cases']} test-split cases per cell, the shipped bundle, DITTO-2 (CTM), T = 2; before: "
              "K = 70, lr 5e-3, plain noise; now: K = 20, lr 1e-2, from the pasted sketch (share 1.0); "
              f"{cpu_name(info['machine']['processor'])}, 1 torch thread, float32 (raw: `docs/results/{PAINTING}/`)."]
    return block(lines)


LOOP_RUNS = (("val_K70_lr0.005_nosketch", "val", "70", "5e-3", "plain noise (before)"),
             ("val_K20_lr0.01_nosketch", "val", "20", "1e-2", "plain noise"),
             ("val_K20_lr0.01_share1.0", "val", "20", "1e-2", "sketch, 1.0"),
             ("val_K20_lr0.01_share0.7", "val", "**20**", "**1e-2**", "**sketch, 0.7** (chosen)"),
             ("test_before", "test", "70", "5e-3", "plain noise (before)"),
             ("test_after", "test", "**20**", "**1e-2**", "**sketch, 0.7**"))


def loop_sketch(raw: Raw) -> str:
    """The loop on val against K, step and start, and before / after on test (DITTO-2 CTM)."""
    lines = ["| split | K | lr | start | seam jump ÷ median frame step | CLAP | FAD | s per clip |",
             "|---|---|---|---|---|---|---|---|"]
    for name, split, k, lr, start in LOOP_RUNS:
        row = raw.row(f"{LOOP}/{name}.json", CTM, "loop")
        lines.append(f"| {split} | {k} | {lr} | {start} | {num(row['metrics']['loop_seam_ratio'])} "
                     f"{ci(row['intervals']['loop_seam_ratio'])} | {num(row['clap'])} | {num(row['fad'])} "
                     f"| {num(row['seconds'])} |")
    info = raw.json(f"{LOOP}/test_after.json")["info"]
    lines += ["", f"{info['config']['cases']} cases per row, the shipped bundle, DITTO-2 (CTM), T = 2, a 0.5 s seam; the "
              "seam jump: the mean absolute dB step between the clip's last and first frame of its re-analysed mel, "
              "over its median frame-to-frame step (1: as smooth as the clip itself). "
              f"{cpu_name(info['machine']['processor'])}, 1 torch thread, float32; the val runs beside other work "
              f"(s per clip compares rows within a split) (raw: `docs/results/{LOOP}/`, commands in its "
              "provenance.json)."]
    return block(lines)
