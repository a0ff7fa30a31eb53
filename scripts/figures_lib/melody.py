"""The melody's own tables (docs/results.md, docs/bench.md): the audible-pitch term, decoding T, the register
term on two CPUs, and the start from the notes' sketch."""

from __future__ import annotations

from .formats import CM, CTM, MEL_CHROMA, MEL_PITCH, UNOPT, block, ci, cpu_name, num, pct, pct_ci
from .raw import MELODY, MELODY_NOW, SKETCH, XEON, Raw


def judged_cells(row: dict, bold: bool = False) -> str:
    """pYIN raw pitch, raw chroma and chroma argmax of one melody row, with intervals."""
    cells = []
    for i, name in enumerate((MEL_PITCH, MEL_CHROMA, "melody_accuracy")):
        mean = pct(row["metrics"][name])
        cells.append(f"{f'**{mean}**' if bold and i < 2 else mean} {pct_ci(row['intervals'][name])}")
    return " | ".join(cells)


def melody_cells(row: dict, bold: bool = False) -> str:
    """The judged cells of one melody row, then its FAD and KID."""
    return f"{judged_cells(row, bold)} | {row['fad']:.3f} | {row['kid']:.2f}"


def melody_rows_by_t(raw: Raw, rel: str) -> dict[int, dict]:
    return {row["T"]: row for row in raw.json(rel)["rows"]}


def melody_audible(raw: Raw) -> str:
    """The melody at the defaults with and without the audible-pitch term, test and val split (CTM)."""
    rows = [("test split, with the audible term", raw.row(f"{XEON}/melody_test.json", CTM), True),
            ("test split, without it (T = 1)", melody_rows_by_t(raw, f"{XEON}/test_T1_T2_T4.json")[1], False),
            ("val split, with the audible term", raw.row(f"{XEON}/melody_val.json", CTM), True),
            ("val split, without it (T = 1)", melody_rows_by_t(raw, f"{XEON}/val_T1_T2.json")[1], False)]
    lines = ["| DITTO-2 (CTM), default settings | pYIN raw pitch | pYIN raw chroma | chroma argmax (loss-shaped) "
             "| FAD | KID×10³ |", "|---|---|---|---|---|---|"]
    lines += [f"| {label} | {melody_cells(row, bold)} |" for label, row, bold in rows]
    return block(lines)


def melody_decode_t(raw: Raw) -> str:
    """Decoding one optimised x_T* with T = 1, 2, 4 (and γ = 0) on the test split (CTM, no audible term)."""
    by_t = melody_rows_by_t(raw, f"{XEON}/test_T1_T2_T4.json")
    g0 = melody_rows_by_t(raw, f"{XEON}/test_gamma0_T2_T3.json")
    lines = ["| decoding of one x_T* (test split) | pYIN raw pitch | pYIN raw chroma | chroma argmax (loss-shaped) "
             "| FAD | KID×10³ |", "|---|---|---|---|---|---|"]
    lines += [f"| T = 1 | {melody_cells(by_t[1], bold=True)} |",
              f"| T = 2 (the default until 6 Dec) | {melody_cells(by_t[2])} |",
              f"| T = 4 | {melody_cells(by_t[4])} |"]
    pair = [" / ".join(pct(g0[t]["metrics"][name]) for t in (2, 3)) for name in (MEL_PITCH, MEL_CHROMA,
                                                                                   "melody_accuracy")]
    pair += [" / ".join(f"{g0[t][key]:{fmt}}" for t in (2, 3)) for key, fmt in (("fad", ".3f"), ("kid", ".2f"))]
    lines.append(f"| T = 2, γ = 0 / T = 3, γ = 0 | {' | '.join(pair)} |")
    return block(lines)


def melody_register_epyc(raw: Raw) -> str:
    """The eval's melody cases after the register term, T = 2, EPYC fp32 (4 Dec)."""
    rel = "cpu_default/eval_register/melody.json"
    lines = ["| row | pYIN raw pitch | pYIN raw chroma | chroma argmax (loss-shaped) |", "|---|---|---|---|"]
    lines += [f"| {name} | {judged_cells(raw.row(rel, label), bold=label == CTM)} |"
              for name, label in ((CTM, CTM), (CM, CM), ("unoptimised (same noise)", UNOPT))]
    return block(lines)


def melody_register_xeon(raw: Raw) -> str:
    """The same cases on the Xeon in bf16 and in float32, with the time per clip (6 Dec)."""
    bf16, fp32 = "cpu_xeon/eval_register/melody.json", "cpu_xeon/eval_register/melody_fp32.json"

    def secs(row: dict, with_ci: bool) -> str:
        return f"{row['seconds']:.2f} s" + (f" {ci(row['intervals']['seconds'])}" if with_ci else "")

    rows = [("DITTO-2 (CTM), bf16 autocast (default here)", raw.row(bf16, CTM), True, True),
            ("DITTO-2 (CM), bf16 autocast", raw.row(bf16, CM), False, False),
            ("unoptimised (same noise)", raw.row(bf16, UNOPT), False, False),
            ("DITTO-2 (CTM), float32 (as on the EPYC)", raw.row(fp32, CTM), False, True)]
    lines = ["| row (16 test-split cases) | pYIN raw pitch | pYIN raw chroma | chroma argmax (loss-shaped) "
             "| time per clip (opt. + decode) |", "|---|---|---|---|---|"]
    lines += [f"| {name} | {judged_cells(row, bold)} | {secs(row, with_ci)} |" for name, row, bold, with_ci in rows]
    return block(lines)


def melody_sketch(raw: Raw) -> str:
    """Issue 27: melody from the notes' sketch, K and share chosen on val, then the defaults on test."""
    runs = [("val_k50_no_sketch", "val", "50", "none"), ("val_k50_share07", "val", "50", "0.7"),
            ("val_k30_share07", "val", "30", "0.7"), ("val_k20_share07", "val", "20", "0.7"),
            ("val_k30_share04", "val", "30", "**0.4** (chosen)"), ("test_k30_share07", "test", "30", "0.7"),
            ("test_k30_share04", "test", "**30**", "**0.4** (default)")]
    lines = ["| split | K | sketch share | pYIN raw pitch | pYIN raw chroma | CLAP | FAD (own embedding) |",
             "|---|---|---|---|---|---|---|"]
    for name, split, k, share in runs:
        rel = f"{SKETCH}/{name}.json"
        row = raw.row(rel, CTM, "melody")
        lines.append(f"| {split} | {k} | {share} | {pct(raw.metric(rel, CTM, MEL_PITCH))} "
                     f"{pct_ci(raw.interval(rel, CTM, MEL_PITCH))} | {pct(raw.metric(rel, CTM, MEL_CHROMA))} "
                     f"{pct_ci(raw.interval(rel, CTM, MEL_CHROMA))} | {num(row['clap'])} | {num(row['fad'], 3)} |")
    old = (f"{pct(raw.metric(MELODY, CTM, MEL_PITCH))} / {pct(raw.metric(MELODY, CTM, MEL_CHROMA))}")
    info = raw.json(MELODY_NOW)["info"]
    lines += ["", f"Before (K = 150 from plain noise, the same test cases): {old} (raw: `{MELODY}`). "
              f"{info['config']['cases']} cases per row, DITTO-2 (CTM), T = 1, "
              f"{cpu_name(info['machine']['processor'])}, {info['machine']['torch_threads']} torch thread, bf16 "
              f"autocast (raw: `docs/results/{SKETCH}/`)."]
    return block(lines)
