"""The paper's tables as first measured on the CPU (26 Nov, docs/results.md): Table 1 with loss-shaped metrics,
Figure 5's trend in T and Table 3's text control."""

from __future__ import annotations

from .formats import CM, CTM, UNOPT, block
from .raw import FIG5, TABLE1_CPU, TEXT, Raw


def table1_cpu(raw: Raw) -> str:
    """Table 1 on the CPU with loss-shaped metrics (26 Nov), less the melody, measured octave-free."""
    spec = [("intensity", "MSE (dB²)", "intensity_mse_db2", "{:.1f}"),  # the melody row is withdrawn (docs)
            ("structure", "SSM MSE", "structure_mse", "{:.3f}"),
            ("outpaint", "overlap MSE (dB²)", "outpaint_mse_db2", "{:.1f}"),
            ("inpaint", "overlap MSE (dB²)", "inpaint_mse_db2", "{:.1f}")]
    lines = ["| task | metric | unoptimised | DITTO-2 (CTM) | ÷ unoptimised | DITTO-2 (CM) |",
             "|---|---|---|---|---|---|"]
    for task, metric, key, fmt in spec:
        vals = [raw.row(TABLE1_CPU, label, task)["metrics"][key] for label in (UNOPT, CTM, CM)]
        cells = [fmt.format(v) for v in vals]
        lines.append(f"| {task} | {metric} | {cells[0]} | {cells[1]} | {vals[1] / vals[0]:.2f}× | {cells[2]} |")
    return block(lines)


def table1_cpu_fad(raw: Raw) -> str:
    """The FAD range of Table 1's CPU rows against its reference rows (what it cannot show)."""
    fads = [r["fad"] for r in raw.json(TABLE1_CPU)["rows"] if r["label"] == CTM]
    refs = {r["label"]: r["fad"] for r in raw.json(TABLE1_CPU)["references"]}
    return (f"FAD of the DITTO-2 (CTM) rows {min(fads):.2f}–{max(fads):.2f} against the reference rows' "
            + " / ".join(f"{label} {fad:.2f}" for label, fad in refs.items())
            + " (no quality claim: the embedding barely tells real audio from frame-shuffled audio)")


def fig5_trend(raw: Raw) -> str:
    """Figure 5's intensity MSE at each decoding T for CTM and CM."""
    by = {(r["label"], r["T"]): r["metrics"]["intensity_mse_db2"] for r in raw.json(FIG5)["rows"]}

    def series(label: str) -> str:
        return ", ".join(f"{by[(label, T)]:.1f}" for T in sorted(t for lab, t in by if lab == label))

    return f"CTM MSE (T = 1, 2, … 8) {series('CTM')} dB²; CM {series('CM')}"


def table3_text(raw: Raw) -> str:
    """Table 3: CLAP score and FAD with and without the text control, and the reference rows."""
    conds = {"Base model (DDIM 20)": ("Base model (DDIM 20)", "tags"),
             "DITTO-2 (CTM), unoptimised": ("DITTO-2 (CTM), unoptimised", "tags"),
             "DITTO-2 (CTM) + text control": ("DITTO-2 (CTM) + text control", "tags"),
             "DITTO-2 (CTM) + text control, null tags": ("DITTO-2 (CTM) + text control", "null tags")}
    lines = ["| Method | Condition | CLAP | FAD | text loss before → after |", "|---|---|---|---|---|"]
    for label, (method, cond) in conds.items():
        r = raw.row(TEXT, label)
        loss = (f"{r['loss_text_before']:.3f} → {r['loss_text_after']:.3f}" if "loss_text_before" in r else "–")
        lines.append(f"| {method} | {cond} | {r['clap']:.3f} | {r['fad']:.3f} | {loss} |")
    refs = {r["label"]: r["clap"] for r in raw.json(TEXT)["references"]}
    lines += ["", "Reference rows' CLAP: " + ", ".join(f"{k} {v:.3f}" for k, v in refs.items()) + "."]
    return block(lines)
