"""The live stream as a performer hears it (docs/midi_audio.md, README): ``ditto-live bench --stream``."""

from __future__ import annotations

from .formats import block, cpu_name
from .raw import STREAM, Raw


def _row_cells(r: dict) -> str:
    kept = "–" if r["co_load_keeps"] is None else f"{100 * r['co_load_keeps']:.1f} %"
    steps = "/".join(str(k) for k in r["steps"])
    return (f"{'/'.join(str(n) for n in r['threads'])} | {r['window_audio_s']:.2f} s | {r['generate_p50_s']:.2f} / "
            f"{r['generate_max_s']:.2f} s | {r['rtf_p50']:.2f} | {r['steps_run_min']} / {r['steps_run_mean']:.1f} of "
            f"{steps} | {r['late_windows']} | {r['ring_underruns']} | {r['device_underflows']} | {kept}")


def _setting(report: dict) -> str:
    m, cfg = report["machine"], report["config"]
    budget = report["phases"][0]["stats"]["budget_fraction"]
    return (f"the shipped default model, an intensity swell, the server's default [audio] settings (each window's "
            f"deadline {budget} of the audio it must cover), into JACK's dummy driver; {cpu_name(m['cpu'])} "
            f"({m['cpu_cores']} cores, {'bf16 autocast' if m.get('native_bf16') else 'float32: no native bf16'}), "
            f"torch {m['torch']}, {report['created'][:10]}, {cfg['windows']} windows a phase after the first")


def stream_served(raw: Raw) -> str:
    """Per phase (idle, one busy core beside): the windows' generation against their audio, the steps, underruns."""
    report = raw.json(f"{STREAM}/stream.json")
    lines = ["| phase | threads | new audio a window | generation p50 / max | RTF p50 | ITO steps min / mean of K "
             "| late windows | ring underruns | device underflows | the busy core kept |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        lines.append(f"| {r['phase']} | {_row_cells(r)} |")
    lines += ["", f"`scripts/stream_bench.sh` (`ditto-live bench --stream --co-load 1`): {_setting(report)} "
              f"(raw: `docs/results/{STREAM}/`)."]
    return block(lines)


def stream_sentence(raw: Raw) -> str:
    """The README's line: what a stream does on two cores, idle and beside a busy core."""
    report = raw.json(f"{STREAM}/stream.json")
    idle, loaded = report["rows"][0], report["rows"][-1]
    under = sum(r["ring_underruns"] + r["device_underflows"] for r in report["rows"])
    k, least = max(idle["steps"]), min(r["steps_run_min"] for r in report["rows"])
    steps = f"all K = {k} of its ITO steps" if least == k else f"at least {least} of its K = {k} ITO steps"
    return (f"a stream of the default model into JACK's dummy driver made each {idle['window_audio_s']:.1f} s window "
            f"in {idle['generate_p50_s']:.1f} s (p50, idle) and {loaded['generate_p50_s']:.1f} s beside a busy core, "
            f"with {steps}, {under} underruns, the "
            f"busy core keeping {100 * loaded['co_load_keeps']:.0f} % of its speed ({cpu_name(report['machine']['cpu'])}, "
            f"{report['machine']['cpu_cores']} cores, {report['created'][:10]})")
