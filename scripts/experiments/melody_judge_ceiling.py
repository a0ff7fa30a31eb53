"""What the judge can give through our audio path: the eval's melody cases written out as a clean harmonic
tone (six harmonics, 0.7 decay), judged by pYIN + mir_eval as they are and after the mel front end and the
default bundle's vocoder. If the vocoded tone scores near the raw tone, the mel + vocoder do not cap the
melody figures; the generation does.

An experiment kept in scripts/experiments/: it produced
docs/results/cpu_xeon/decode_T/ceiling_written_notes_vocoded.log (its printout).

Usage: python scripts/experiments/melody_judge_ceiling.py --data CORPUS [--split test] [--cases 16] [--seed 0]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from ditto_live.engine.audio import MelFrontEnd
from ditto_live.engine.controls.melody import melody_target
from ditto_live.evaluation.cases import load_test_split, make_cases
from ditto_live.generation.models import default_loader
from ditto_live.generation.pipeline import vocode
from ditto_live.judges import independent as judges


def harmonic_tone(pitch: np.ndarray, sample_rate: int, hop: int) -> np.ndarray:
    """MIDI pitch per frame (-1: silence) -> a six-harmonic tone with continuous phase. [frames * hop]"""
    f0 = np.repeat(np.where(pitch >= 0, 440.0 * 2.0 ** ((pitch - 69) / 12.0), 0.0), hop)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    gate = np.repeat((pitch >= 0).astype(float), hop)
    return (gate * sum(0.3 * 0.7 ** (h - 1) * np.sin(h * phase) for h in range(1, 7))).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--split", default="test")
    ap.add_argument("--cases", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    bundle = default_loader("default", "cpu")
    mel = bundle.mel_config
    front = MelFrontEnd(mel)
    split = load_test_split(args.data, "tiny", front, args.split)
    with tempfile.TemporaryDirectory() as refs:
        cases = make_cases("melody", split, args.cases, bundle.tags, mel.frame_rate, mel.sample_rate,
                           mel.window_seconds, Path(refs), args.seed)
    rows = []
    for c in cases:
        notes = c.job["controls"][0]["notes"]
        pitch = melody_target(notes, "seconds", 120.0, mel.frames, mel.frame_rate, keep_octave=True).numpy()
        tone = harmonic_tone(pitch, mel.sample_rate, mel.hop_length)
        with torch.no_grad():
            vocoded = vocode(bundle, front(torch.from_numpy(tone)[None])[0, :, :, :mel.frames])
        raw, voc = judges.judge_melody(tone, mel.sample_rate, pitch), judges.judge_melody(vocoded, mel.sample_rate, pitch)
        rows.append((raw["melody_raw_chroma_accuracy"], voc["melody_raw_chroma_accuracy"],
                     voc["melody_raw_pitch_accuracy"]))
        print(c.index, c.target["work"], *(f"{v:.3f}" for v in rows[-1]), flush=True)
    mean = np.mean(rows, axis=0)
    print(f"mean raw chroma: tone {mean[0]:.3f}, vocoded {mean[1]:.3f}; vocoded raw pitch {mean[2]:.3f}")


if __name__ == "__main__":
    main()
