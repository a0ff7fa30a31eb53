"""The figures measured on the H200 (README, docs/results.md, docs/bench.md, the card): DITTO against DITTO-2,
Table 1's and Table 2's GPU blocks, the engine bench and the served jobs."""

from __future__ import annotations

from .formats import CM, CTM, block, pct, ratio, seconds
from .raw import GPU_BENCH, GPU_DITTO2, GPU_EAGER, GPU_MELODY, GPU_SERVED, GPU_T1, GPU_TABLE2, Raw


def gpu_ditto_vs_ditto2(raw: Raw) -> str:
    """DITTO against DITTO-2 on the H200, the same cases and noise, per clip."""
    d, cm, ctm = (raw.row(GPU_T1, label) for label in ("DITTO", CM, CTM))
    md, mctm = raw.row(GPU_MELODY, "DITTO"), raw.row(GPU_MELODY, CTM)
    mse = "intensity_mse_db2"
    return (f"on one NVIDIA H200, {ctm['n']} intensity cases at K = 70, the same cases and noise: intensity MSE "
            f"DITTO {d['metrics'][mse]:.1f} dB², DITTO-2 CTM {ctm['metrics'][mse]:.1f}, CM {cm['metrics'][mse]:.1f}; "
            f"{d['seconds']:.1f} s against {ctm['seconds']:.2f} s a clip: {ratio(d['seconds'], ctm['seconds'])} "
            f"faster (eval time per clip; three evaluation processes shared the GPU). Melody ({mctm['n']} case): DITTO "
            f"{pct(md['metrics']['melody_accuracy'])} (chroma argmax) in {md['seconds']:.1f} s, DITTO-2 CTM "
            f"{pct(mctm['metrics']['melody_accuracy'])} in {mctm['seconds']:.2f} s "
            f"({ratio(md['seconds'], mctm['seconds'])}); 26 Nov, before the register and audible-pitch terms")


def gpu_table1_intensity(raw: Raw) -> str:
    """Table 1's intensity block on the H200 (4 cases, DITTO and both students)."""
    d = raw.row(GPU_T1, "DITTO")
    lines = ["| Method | M | T | Time (s) | speed-up | FAD | KID×10³ | CLAP | MSE (dB²) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for label in ("DITTO", CM, CTM):
        r = raw.row(GPU_T1, label)
        speed = "–" if label == "DITTO" else ratio(d["seconds"], r["seconds"])
        mse = f"{r['metrics']['intensity_mse_db2']:.1f}"
        mse = f"**{mse}**" if label == CTM else mse
        lines.append(f"| {label} | {r['M']} | {r['T']} | {r['seconds']:.2f} | {speed} | {r['fad']:.3f} "
                     f"| {r['kid']:.2f} | {r['clap']:.3f} | {mse} |")
    return block(lines)


def gpu_engine_latency(raw: Raw) -> str:
    """The engine bench's warm CUDA-graph latency on the H200, with what it is not."""
    bench = raw.json(GPU_BENCH)
    one = {r["task"]: r for r in bench["rows"] if r["method"] == "ditto2-ctm" and r["seeds"] == 1}
    ditto = next(r for r in bench["rows"] if r["method"] == "ditto")
    return (f"intensity (K = {one['intensity']['K']}) {seconds(one['intensity']['total_ms'])}, melody "
            f"(K = {one['melody']['K']}) {seconds(one['melody']['total_ms'])} (engine bench, warm, "
            f"{bench['model']['preset']} preset with **{bench['model']['weights']} weights**, bf16 weights + "
            f"channels-last, {bench['created'][:10]}: before the melody's audible-pitch term, which makes a melody "
            f"job slower); against DITTO in the same run "
            f"{ratio(ditto['cold_total_ms'], one['intensity']['cold_total_ms'])} cold against cold (DITTO's warm "
            "run was not measured)")


def gpu_served(raw: Raw) -> str:
    """Submit-to-done through `ditto-live serve` on the H200 (a log cut short)."""
    jobs = raw.json(GPU_SERVED)["jobs"]
    span = {t: [j["submit_to_done_s"] for j in jobs if j["task"] == t] for t in ("intensity", "melody")}
    return (f"served through `ditto-live serve` (paper preset, random weights, 4 Dec, the same GPU type) a job "
            f"took {min(span['intensity']):.1f}-{max(span['intensity']):.1f} s (intensity) and "
            f"{min(span['melody']):.1f}-{max(span['melody']):.1f} s (melody) submit to done")


def ditto_gpu_cold(raw: Raw) -> str:
    """DITTO against DITTO-2 on the paper preset's CUDA graph, cold against cold."""
    rows = raw.json(GPU_BENCH)["rows"]
    ctm = next(r for r in rows if r["method"] == "ditto2-ctm" and r["task"] == "intensity" and r["seeds"] == 1)
    ditto = next(r for r in rows if r["method"] == "ditto")
    return (f"{ratio(ditto['cold_total_ms'], ctm['cold_total_ms'])} cold against cold "
            f"({ditto['cold_total_ms'] / 1000:.1f} s / {ctm['cold_total_ms'] / 1000:.2f} s; DITTO's warm run was "
            "not measured)")


def table2_gpu(raw: Raw) -> str:
    """Table 2's intensity MSE by (M, T) on the H200 (before the shared-noise fix)."""
    rows = raw.json(GPU_TABLE2)["rows"]

    def mse(label: str, T: int) -> str:
        row = next(r for r in rows if r["label"] == label and r["T"] == T)
        return f"{row['metrics']['intensity_mse_db2']:.1f}"

    def cases(label: str) -> int:
        return next(r["n"] for r in rows if r["label"] == label)

    return (f"CTM M=1 T=1/2/4: {mse('CTM M=1', 1)} / **{mse('CTM M=1', 2)}** / {mse('CTM M=1', 4)} dB² "
            f"({cases('CTM M=1')} cases); M=2 T=2/4: {mse('CTM M=2', 2)} / {mse('CTM M=2', 4)}; adaptive T=4: "
            f"{mse('CTM adaptive', 4)} ({cases('CTM adaptive')} cases); CM M=1 T=1/2/4: {mse('CM M=1', 1)} / "
            f"{mse('CM M=1', 2)} / {mse('CM M=1', 4)} ({cases('CM M=1')} cases)")


def gpu_melody_and_others(raw: Raw) -> str:
    """Table 1's melody with DITTO (1 case) and DITTO-2 alone on the other tasks (8 cases), H200."""
    d, cm, ctm = (raw.row(GPU_MELODY, label) for label in ("DITTO", CM, CTM))
    acc = "melody_accuracy"

    def pair(task: str, name: str, fmt: str) -> str:
        return " / CM ".join(fmt.format(raw.row(GPU_DITTO2, label, task)["metrics"][name]) for label in (CTM, CM))

    refs = {r["label"]: r["fad"] for r in raw.json(GPU_DITTO2)["references"]}
    return (f"DITTO {pct(d['metrics'][acc])} in {d['seconds']:.1f} s; DITTO-2 CM {pct(cm['metrics'][acc])} in "
            f"{cm['seconds']:.2f} s ({ratio(d['seconds'], cm['seconds'])}), CTM {pct(ctm['metrics'][acc])} in "
            f"{ctm['seconds']:.2f} s ({ratio(d['seconds'], ctm['seconds'])}); chroma argmax, octave-free, before "
            f"the register term. Over {raw.row(GPU_DITTO2, CTM, 'melody')['n']} cases DITTO-2 alone "
            f"([report](results/gpu_h200/ditto2/results.md)): melody (chroma argmax) CTM "
            f"{pair('melody', acc, '{:.1%}').replace('%', ' %')}; structure SSM MSE CTM "
            f"{pair('structure', 'structure_mse', '{:.3f}')}; outpainting overlap MSE CTM "
            f"{pair('outpaint', 'outpaint_mse_db2', '{:.1f}')} dB²; inpainting CTM "
            f"{pair('inpaint', 'inpaint_mse_db2', '{:.1f}')} dB². Reference rows' FAD: "
            + ", ".join(f"{k} {v:.3f}" for k, v in refs.items()))


def gpu_bench_row(r: dict) -> str:
    """One row of the GPU engine bench: warm medians (bold at B = 1), or DITTO's cold run."""
    warm = r["basis"] != "cold run only"
    total = f"{r['total_ms']:.0f}"
    total = f"**{total}**" if warm and r["seeds"] == 1 else total
    cold = f"{r['cold_total_ms']:.0f}" if warm else "(cold only)"
    method = {"ditto2-ctm": "DITTO-2 CTM", "ditto": "DITTO"}[r["method"]]
    return (f"| {r['task']} | {method} | {r['seeds']} | {r['K']} | {r['stages_ms']['optimise']:.0f} | "
            f"{r['stages_ms']['decode']:.0f} | {total} | {cold} | {r['rtf']:.2f} | {r['peak_memory_mb']:.0f} | "
            f"{'–' if r['batch_over_single'] is None else format(r['batch_over_single'], '.2f')} |")


def gpu_bench_table(raw: Raw) -> str:
    """The CUDA-graph engine bench on the H200 (paper preset, random weights), and eager beside it."""
    rows = raw.json(GPU_BENCH)["rows"]
    lines = ["| task | method | B | K | optimise (ms) | decode | total (ms) | cold total | RTF | peak MB | ÷ B=1 |",
             "|---|---|---|---|---|---|---|---|---|---|---|", *map(gpu_bench_row, rows)]
    eager = {(r["task"], r["seeds"]): r["total_ms"] for r in raw.json(GPU_EAGER)["rows"]}
    graph = {(r["task"], r["seeds"]): r["total_ms"] for r in rows if r["method"] != "ditto"}
    runs = ", ".join(f"{task} B = {b} {ms:.0f} ms" for (task, b), ms in eager.items())
    gain = " and ".join(f"{ratio(eager[(t, 1)], graph[(t, 1)])} ({t})" for t in ("intensity", "melody"))
    lines += ["", "**Eager** in the same configuration ([bench_bf16_eager.md](results/gpu_h200/bench_bf16_eager.md)): "
              f"{runs} — the CUDA graph is {gain} faster at B = 1."]
    return block(lines)


def gpu_served_table(raw: Raw) -> str:
    """Each served job on the H200 (the log's lines), first job and warm jobs per task."""
    jobs = raw.json(GPU_SERVED)["jobs"]
    lines = ["| task | first job, submit → done | warm jobs, submit → done |", "|---|---|---|"]
    for task, label in (("intensity", "intensity (K = 70, T = 2)"), ("melody", "melody (K = 150, T = 2)")):
        first = [f"{j['submit_to_done_s']:.2f} s" for j in jobs if j["task"] == task and j["first"]]
        warm = [f"{j['submit_to_done_s']:.2f}" for j in jobs if j["task"] == task and not j["first"]]
        lines.append(f"| {label} | {first[0] if first else '(not first)'} | {', '.join(warm)} s |")
    return block(lines)
