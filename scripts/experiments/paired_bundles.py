"""Issue 31: is one bundle nearer to real music than another by the quality judge, beyond its interval? A paired
test on two `ditto-live eval` runs of the same cases (the same hold-out, noise and defaults, other weights).

For every row both runs have, both runs' clips are embedded in musicnn and FD(after) - FD(before) is bootstrapped
over the cases' works, each resample scoring both runs on the same works against the same fixed reference
(``ditto_live.judges.quality.paired_difference``): an interval below 0 means the second run is nearer to real
music by more than the works' spread. The row intervals of each run alone (its results.json) resample each run's
works independently and so cannot tell two runs of the same works apart as finely.

Usage: python scripts/experiments/paired_bundles.py --before DIR --after DIR --data CORPUS
           [--exclude-works CORPUS] --out docs/results/bundle_longer/paired.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ditto_live.evaluation.cases import corpus_works, load_test_split
from ditto_live.evaluation.external import CLIPS, clip_path, find_judges, read_clip, row_key
from ditto_live.evaluation.runner import Generation
from ditto_live.judges.quality import Bootstrap, Reference, fit_length, paired_difference

SAMPLE_RATE = 22050  # the default model's rate, as the evaluation writes its clips


def generations(run: Path) -> list[Generation]:
    lines = [json.loads(line) for line in (run / "generations.jsonl").read_text().splitlines() if line.strip()]
    return [Generation.from_dict(d) for d in lines if "task" in d]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", type=Path, required=True)
    ap.add_argument("--after", type=Path, required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--exclude-works", default="")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()

    works = {(task, c["index"]): c["work"]
             for task, cases in json.loads((args.before / "results.json").read_text())["cases"].items() for c in cases}
    split = load_test_split(args.data, "tiny", None, "test",
                            corpus_works(args.exclude_works) if args.exclude_works else frozenset())
    assert split.audio is not None, "the corpus has no audio shards"
    reference = split.audio[split.reference_rows].numpy()
    before = {(g.task, g.case, g.setting, g.T): g for g in generations(args.before)}
    after = {(g.task, g.case, g.setting, g.T): g for g in generations(args.after)}
    rows: dict[str, list[tuple[Generation, Generation]]] = {}
    for key in sorted(before.keys() & after.keys()):
        rows.setdefault(row_key(key[0], key[2], key[3]), []).append((before[key], after[key]))

    judge = find_judges(quality=True, notes=False).quality
    assert judge is not None, "the musicnn judge is missing: scripts/setup_judges.sh"
    samples = reference.shape[1]
    sets = {f"{side}|{row}": np.concatenate([fit_length(read_clip(clip_path(run / CLIPS, pair[i]), SAMPLE_RATE)[None],
                                                        samples) for pair in pairs])
            for row, pairs in rows.items() for i, (side, run) in enumerate((("before", args.before),
                                                                             ("after", args.after)))}
    vectors = judge.embed({**sets, "reference": reference}, SAMPLE_RATE)
    ref = Reference.of(vectors.pop("reference"))
    out = {"judge": judge.name, "test": "FD(after) - FD(before), 95 % percentile bootstrap over the cases' works, "
                                        "both runs scored on each resample's works (paired)",
           "before": str(args.before), "after": str(args.after), "rows": {}}
    for row, pairs in rows.items():
        groups = [works[(g.task, g.case)] for g, _ in pairs]
        diff = paired_difference(vectors[f"before|{row}"], vectors[f"after|{row}"], groups, ref, Bootstrap())
        out["rows"][row] = {"difference": diff.fd, "interval": list(diff.fd_interval), "clips": len(pairs),
                            "works": len(set(groups))}
        print(f"{row}: {diff.fd:+.2f} [{diff.fd_interval[0]:+.2f}, {diff.fd_interval[1]:+.2f}]")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
