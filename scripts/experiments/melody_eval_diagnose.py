"""Where the eval's melody clips miss, frame by frame: pYIN's f0 against the written pitch.

An experiment kept in scripts/experiments/: it produced docs/results/cpu_xeon/eval_register/melody_diagnosis.md
(the test-split eval of melody.json) and melody_val_base_diagnosis.md (the val-split eval of
melody_val_base.json), each from that eval's folder run with ``--save-audio``.

Reads an eval folder run with ``--save-audio N`` (``ditto-live eval --suite table1 --tasks melody``): its
results.json (cases, per-clip judges and losses) and audio/*.wav, and the corpus split the cases came
from. For each clip of one row, every frame where the target sounds is put in one class:

- hit: pYIN within 50 cents of the written pitch (mir_eval's raw pitch hit);
- octave: within 50 cents of the written pitch class, in another octave (raw chroma hit only);
- detuned: the nearest pitch class is the written one but 50-100 cents off (a semitone's near miss);
- wrong: another pitch class;
- and, across classes, how many of the frames pYIN calls unvoiced and how many lie within 116 ms of a
  note change (the written melody's onsets and offsets).

Usage: python scripts/experiments/melody_eval_diagnose.py EVAL_DIR --data CORPUS [--split test] [--row "DITTO-2 (CTM)"]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import soundfile as sf

from ditto_live.controls.melody import EVAL_BASE_PITCH as MELODY_BASE_PITCH
from ditto_live.engine.train.dataset import load_truth, read_windows
from ditto_live.judges import independent as judges

NEAR_CHANGE_FRAMES = 10  # 116 ms at 86.13 frames / s


def wav_name(task: str, case: int, setting: str, T: int) -> str:
    name = f"{task}-{case:03d}-{setting}-T{T}".replace(" ", "_").replace("(", "").replace(")", "")
    return "".join(ch for ch in name if ch.isalnum() or ch in "-_=.,") + ".wav"


def classify(audio: np.ndarray, sr: int, target: np.ndarray) -> dict[str, float]:
    times, f0, voiced = judges.pyin_track(audio, sr)
    n = min(len(target), len(f0))
    tgt, f0, voiced = target[:n], f0[:n], voiced[:n]
    on = tgt >= 0
    est = np.where(np.isfinite(f0) & (f0 > 0), 69 + 12 * np.log2(np.maximum(f0, 1e-6) / 440.0), np.nan)
    err = est - tgt
    wrapped = (err + 6) % 12 - 6  # nearest-octave error in semitones
    hit = on & (np.abs(err) < 0.5)
    octave = on & ~hit & (np.abs(wrapped) < 0.5)
    detuned = on & (np.abs(wrapped) >= 0.5) & (np.abs(wrapped) < 1.0)
    wrong = on & ~hit & ~octave & ~detuned
    change = np.zeros(n, bool)
    edges = np.flatnonzero(np.diff(tgt) != 0) + 1
    for e in edges:
        change[max(0, e - NEAR_CHANGE_FRAMES):e + NEAR_CHANGE_FRAMES] = True
    miss = on & ~hit
    # the pitch class of the note before / after each frame's note (smearing across a note change)
    prev_pc, next_pc = np.full(n, -1), np.full(n, -1)
    bounds = np.concatenate([[0], edges, [n]])
    for a, b, c in zip(bounds[:-2], bounds[1:-1], bounds[2:]):
        next_pc[a:b] = tgt[b]
        prev_pc[b:c] = tgt[a]
    est_pc = np.where(np.isfinite(est), np.round(est) % 12, -2)
    neighbour = miss & (((est_pc == prev_pc % 12) & (prev_pc >= 0)) | ((est_pc == next_pc % 12) & (next_pc >= 0)))
    v = max(int(on.sum()), 1)
    octs = np.round((err[octave]) / 12) if octave.any() else np.array([])
    notes = int(((np.diff(tgt) != 0) & (tgt[1:] >= 0)).sum() + (tgt[0] >= 0))
    return {"hit": hit.sum() / v, "octave": octave.sum() / v, "detuned": detuned.sum() / v, "wrong": wrong.sum() / v,
            "miss_unvoiced": (miss & ~voiced).sum() / max(int(miss.sum()), 1),
            "miss_near_change": (miss & change).sum() / max(int(miss.sum()), 1),
            "miss_is_neighbour_note": neighbour.sum() / max(int(miss.sum()), 1),
            "hit_near_change": (hit & change).sum() / max(int((on & change).sum()), 1),
            "hit_away_from_change": (hit & ~change).sum() / max(int((on & ~change).sum()), 1),
            "median_detune_st": float(np.nanmedian(wrapped[on])) if on.any() else float("nan"),
            "octave_shift_mode": float(np.median(octs)) if len(octs) else 0.0,
            "notes_per_s": notes / (n / 86.13), "range_st": float(tgt[on].max() - tgt[on].min()) if on.any() else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("eval_dir")
    ap.add_argument("--data", required=True)
    ap.add_argument("--split", default="test")
    ap.add_argument("--row", default="DITTO-2 (CTM)")
    ap.add_argument("--json", help="write the per-clip table here too")
    ap.add_argument("--reference-audio", action="store_true",
                    help="also judge each case's own recording (raw chroma; its octave differs from the target's)")
    args = ap.parse_args()
    out = Path(args.eval_dir)
    res = json.loads((out / "results.json").read_text())
    meta = sorted((m for m in read_windows(Path(args.data)) if m["split"] == args.split), key=lambda m: int(m["row"]))
    truth = load_truth(Path(args.data), args.split).numpy()
    gens = {g["case"]: g for g in res["generations"] if g["task"] == "melody" and g["setting"] == args.row}
    rows = []
    for case in res["cases"]["melody"]:
        i, row = int(case["index"]), int(case["row"])
        wav = out / "audio" / wav_name("melody", i, args.row, int(gens[i]["T"]))
        if not wav.is_file():
            continue
        audio, sr = sf.read(str(wav), dtype="float32")
        pc = truth[row]
        target = np.where(pc >= 0, MELODY_BASE_PITCH + pc, -1)
        c = classify(audio, sr, target)
        g = gens[i]
        ref = {}
        if args.reference_audio:  # the judge on the window's own recording (its octave is its own: chroma only)
            from ditto_live.evaluation.cases import load_test_split

            if not hasattr(main, "split"):
                main.split = load_test_split(args.data, "tiny", None, args.split)
            real = main.split.audio[row].numpy()
            ref = {"real_raw_chroma": judges.judge_melody(real, sr, target)["melody_raw_chroma_accuracy"]}
        rows.append({"case": i, "row": row, "work": meta[row]["work"], "bpm": meta[row].get("bpm"),
                     "raw_pitch": g["metrics"]["melody_raw_pitch_accuracy"],
                     "raw_chroma": g["metrics"]["melody_raw_chroma_accuracy"],
                     "loss_after": g["loss_after"].get("melody"), **c, **ref})
    keys = ["case", "work", "bpm", "raw_pitch", "raw_chroma", "hit", "octave", "detuned", "wrong", "miss_unvoiced",
            "miss_near_change", "miss_is_neighbour_note", "hit_near_change", "hit_away_from_change", "median_detune_st", "notes_per_s",
            "range_st", "loss_after"] + (["real_raw_chroma"] if args.reference_audio else [])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in sorted(rows, key=lambda r: r["raw_chroma"]):
        print("| " + " | ".join(f"{r[k]:.3g}" if isinstance(r[k], float) else str(r[k]) for k in keys) + " |")
    if rows:
        mean = {k: float(np.mean([r[k] for r in rows])) for k in keys[3:] if all(r[k] is not None for r in rows)}
        print("mean:", {k: round(v, 3) for k, v in mean.items()})
        x, y = np.array([r["notes_per_s"] for r in rows]), np.array([r["raw_chroma"] for r in rows])
        print(f"corr(notes/s, raw chroma) = {np.corrcoef(x, y)[0, 1]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
