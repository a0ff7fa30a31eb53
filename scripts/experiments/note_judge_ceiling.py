"""What the note-level melody judge (basic-pitch + mir_eval, ditto_live/judges/notes.py) gives audio whose
notes are known, beside the eval's generated clips: for each of the eval's melody cases of a split,

- real: the corpus window the case's notes were read from (a polyphonic rendering; its truth is the top
  voice's pitch classes, written in the octave above middle C, so its note F is low where the voice sits in
  another octave and its chroma note F is the fair ceiling);
- tone: the written notes as a clean six-harmonic tone (what a perfect follower could give);
- tone, vocoded: that tone through the mel front end and the default bundle's vocoder (what our audio path
  lets through).

An experiment kept in scripts/experiments/; prints one line per case and the means, and writes --out JSON.

Usage: python scripts/experiments/note_judge_ceiling.py --data CORPUS [--split val] [--cases 8] [--out F.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from melody_judge_ceiling import harmonic_tone  # the same tone as the pYIN ceiling (this script's folder)

from ditto_live.engine.audio import MelFrontEnd
from ditto_live.engine.controls.melody import melody_target
from ditto_live.evaluation.cases import load_test_split, make_cases
from ditto_live.evaluation.external import written_notes
from ditto_live.generation.models import default_loader
from ditto_live.generation.pipeline import vocode
from ditto_live.judges.notes import NOTE_KEYS, BasicPitch, basic_pitch_missing, note_scores
from ditto_live.judges.quality import judges_python


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--split", default="val")
    ap.add_argument("--cases", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    python = judges_python()
    if missing := basic_pitch_missing(python):
        raise SystemExit(missing)
    torch.set_num_threads(1)
    bundle = default_loader("default", "cpu")
    mel = bundle.mel_config
    front = MelFrontEnd(mel)
    split = load_test_split(args.data, "tiny", front, args.split)
    if split.audio is None:
        raise SystemExit(f"{args.data}: the {args.split} split has no audio shards")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases = make_cases("melody", split, args.cases, bundle.tags, mel.frame_rate, mel.sample_rate,
                           mel.window_seconds, folder, args.seed)
        paths: dict[str, list[Path]] = {"real": [], "tone": [], "tone, vocoded": []}
        for c in cases:
            pitch = melody_target(c.job["controls"][0]["notes"], "seconds", 120.0, mel.frames, mel.frame_rate,
                                  keep_octave=True).numpy()
            tone = harmonic_tone(pitch, mel.sample_rate, mel.hop_length)
            with torch.no_grad():
                vocoded = vocode(bundle, front(torch.from_numpy(tone)[None])[0, :, :, :mel.frames])
            for name, audio in (("real", split.audio[c.row].numpy()), ("tone", tone), ("tone, vocoded", vocoded)):
                path = folder / f"{c.index:03d}-{name.replace(', ', '-')}.wav"
                sf.write(str(path), np.asarray(audio, dtype=np.float32), mel.sample_rate)
                paths[name].append(path)
        transcriber = BasicPitch(python)
        heard = transcriber.transcribe([p for v in paths.values() for p in v])
    per_case: dict[str, list[dict[str, float]]] = {}
    for name, files in paths.items():
        for c, path in zip(cases, files):
            target = written_notes(c)
            assert target is not None
            per_case.setdefault(name, []).append(note_scores(target, heard[path]))
            print(name, c.index, c.target["work"], {k: round(v, 3) for k, v in per_case[name][-1].items()}, flush=True)
    means = {name: {k: float(np.mean([s[k] for s in v])) for k in NOTE_KEYS} for name, v in per_case.items()}
    for name, m in means.items():
        print(f"{name}: " + ", ".join(f"{k} {v:.3f}" for k, v in m.items()))
    if args.out:
        args.out.write_text(json.dumps({"transcriber": transcriber.name, "split": args.split, "cases": args.cases,
                                        "rows": [c.row for c in cases], "means": means, "per_case": per_case},
                                       indent=1) + "\n")


if __name__ == "__main__":
    main()
