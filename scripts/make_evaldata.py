#!/usr/bin/env python3
"""A carryable subset of a corpus's test split for the GPU evaluation (scripts/gpu_bench.sh session).

The lent GPU machine takes at most 64 MiB with the repository, so the 317-window test split (107 MB of
audio and mels) cannot travel whole: this keeps ``--per-half`` windows of each half of the split (the
FAD reference half and the case half, as ditto_live/evaluation/cases.py divides it by work), renumbered
into one shard, and embeds their captions with the shipped sentence encoder (its 88 MB package does not
travel either; DITTO_LIVE_TEXT_EMBEDDINGS points the evaluation at the table).

    python3 scripts/make_evaldata.py --corpus /work/data/corpus --out .evaldata
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from ditto_live.engine.train.dataset import load_truth
from ditto_live.evaluation.cases import read_split_rows, work_half
from ditto_live.generation.text_encoder import SentenceEncoder, save_embeddings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="/work/data/corpus")
    ap.add_argument("--out", default=".evaldata")
    ap.add_argument("--per-half", type=int, default=40, help="windows kept from each half of the test split")
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    src, dst = Path(args.corpus), Path(args.out)
    shutil.rmtree(dst, ignore_errors=True)
    meta = [json.loads(line) for line in open(src / "windows.jsonl") if line.strip()]
    test = sorted((m for m in meta if m["split"] == "test"), key=lambda m: int(m["row"]))
    rng = np.random.default_rng(args.seed)
    picked: list[int] = []
    for half in (0, 1):
        rows = [i for i, m in enumerate(test) if work_half(m["work"]) == half]
        picked += rng.permutation(rows)[:args.per_half].tolist()
    picked.sort()
    index = torch.tensor(picked)
    for sub, key in (("audio", "audio"), (f"mels/{args.preset}", "mel")):
        (dst / sub).mkdir(parents=True, exist_ok=True)
        save_file({"row": torch.arange(len(picked)), key: read_split_rows(src / sub, "test", key, len(test))[index].contiguous()},
                  str(dst / sub / "test-0.safetensors"))
    (dst / "truth").mkdir(parents=True)
    melody = load_truth(src, "test")[index].contiguous()
    save_file({"melody": melody}, str(dst / "truth" / "test.safetensors"))
    with open(dst / "windows.jsonl", "w", encoding="utf-8") as fh:
        for new, old in enumerate(picked):
            fh.write(json.dumps({**test[old], "row": new, "shard": 0, "source_row": int(test[old]["row"])}) + "\n")
    n_captions = save_embeddings(SentenceEncoder(), [test[i]["caption"] for i in picked], dst / "captions.npz")
    print(f"{dst}: {len(picked)} test windows from {len({test[i]['work'] for i in picked})} works, "
          f"{n_captions} captions embedded")


if __name__ == "__main__":
    main()
