"""Quality check of a trained base model (issue 4): is its vocoded output pitched music, not noise?

Samples N clips with the 20-step DDIM teacher (CFG w, tags drawn from the test split), vocodes them
with the bundle's vocoder, and measures them with librosa (pYIN voiced fraction, spectral flatness)
beside N held-out test windows and white noise at the same level. Prints a markdown table and JSON.

    python scripts/quality_check.py --base RUN/base --vocoder RUN/vocoder --data CORPUS [--n 8]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from ditto_live.engine.checkpoint import load_checkpoint
from ditto_live.engine.conditioning import Cond
from ditto_live.engine.sampling import ddim_sample, sample_noise
from ditto_live.engine.schedule import teacher_grid
from ditto_live.engine.student_sampling import ctm_gamma_sample, student_grid
from ditto_live.engine.tags import TagVocab
from ditto_live.engine.train.dataset import AudioWindows, encode_tags, read_windows
from ditto_live.engine.vocoder import mel_to_wav
from ditto_live.judges import metrics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True)
    ap.add_argument("--vocoder", default="")
    ap.add_argument("--ctm", default="", help="also sample this CTM student with 2-step gamma-sampling")
    ap.add_argument("--data", required=True)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--cfg", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    torch.set_num_threads(2)
    g = torch.Generator().manual_seed(args.seed)
    base, meta = load_checkpoint(args.base)
    base.eval()
    vocoder = load_checkpoint(args.vocoder)[0].eval() if args.vocoder else None
    mel_cfg = meta["mel_config"]
    sr = int(mel_cfg["sample_rate"])
    vocab = TagVocab.from_dict(meta["tags"])  # the model's own tag tables
    test_rows = [m for m in read_windows(args.data) if m["split"] == "test"]
    test_audio = AudioWindows(args.data, "tiny", ["test"])
    pick = torch.randperm(len(test_rows), generator=g)[: args.n].tolist()
    tags = torch.tensor([encode_tags(test_rows[i].get("tags", {}), vocab) for i in pick])
    start = time.time()
    x = sample_noise((args.n, 1, int(mel_cfg["n_mels"]), 512), g, "cpu")
    with torch.no_grad():
        mel = ddim_sample(base, x, teacher_grid(20), Cond(tags, args.cfg), generator=g)
        gen = mel_to_wav(mel.clamp(-1, 1), vocoder, None).numpy()
    sample_s = time.time() - start
    real = [np.asarray(test_audio[i][0], dtype=np.float32) for i in pick]
    rng = np.random.default_rng(args.seed)
    noise = [rng.standard_normal(len(r)).astype(np.float32) * float(np.sqrt(np.mean(r ** 2)) + 1e-4) for r in real]

    def measure(clips):
        return {"voiced_fraction": float(np.mean([metrics.voiced_fraction(c, sr) for c in clips])),
                "spectral_flatness": float(np.mean([metrics.spectral_flatness(c) for c in clips]))}

    rows = {"generated (base, DDIM 20, vocoder)": measure(list(gen))}
    if args.ctm:
        student = load_checkpoint(args.ctm)[0].eval().float()
        with torch.no_grad():
            few = ctm_gamma_sample(student, x, student_grid(2), Cond(tags, args.cfg), generator=g, gamma=0.2)
            rows["generated (CTM, 2 steps, gamma 0.2, vocoder)"] = measure(list(mel_to_wav(few.clamp(-1, 1), vocoder, None).numpy()))
    rows.update({"held-out test windows": measure(real), "white noise (same RMS)": measure(noise)})
    print("| clips | pYIN voiced fraction | spectral flatness |\n|---|---|---|")
    for name, m in rows.items():
        print(f"| {name} | {m['voiced_fraction']:.3f} | {m['spectral_flatness']:.4f} |")
    out = {"rows": rows, "n": args.n, "cfg": args.cfg, "sampling_seconds": round(sample_s, 1),
           "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}, CPU",
           "base": args.base, "vocoder": args.vocoder}
    print(json.dumps(out, indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
