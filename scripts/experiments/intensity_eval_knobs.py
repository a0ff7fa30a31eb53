"""`ditto-live eval` with the intensity objective changed for one run (an experiment, not a product setting).

An experiment kept in scripts/experiments/ (issue 33): the val runs that chose the intensity objective and
its decode steps T, docs/results/intensity_objective/val_*.{md,json} (``--ctm-only 1,2`` with the
objective named in the file), are its output.

Patches the intensity kind's ``OBJECTIVE`` (ditto_live/controls/intensity.py), then hands the rest of the
command line to ``ditto-live eval``:

  --mel-weight W       weight of the mel term (frame energy of the mel, 1 s average)
  --audible-weight W   weight of the audible term (BS.1770 loudness of the vocoder's audio); 0: off
  --block-s S          seconds of the audible term's power average
  --straight-through   the audible term's value with the mel power's gradient (no vocoder backward)
  --flat               the audible term reads RMS dB of the rendered audio, not K-weighted loudness
  --ctm-only T1,T2,... run only a "DITTO-2 (CTM)" row (no CM, no unoptimised row), decoding the one
                       optimised x_T* with each T listed

Usage: python scripts/experiments/intensity_eval_knobs.py --audible-weight 0 --ctm-only 1,2 -- \
           eval --suite table1 --tasks intensity --skip-ditto --split val --cases 8 --threads 1 --out DIR
Choose on ``--split val``; confirm on the test split.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mel-weight", type=float)
    ap.add_argument("--audible-weight", type=float)
    ap.add_argument("--block-s", type=float)
    ap.add_argument("--straight-through", action="store_true")
    ap.add_argument("--flat", action="store_true")
    ap.add_argument("--ctm-only", metavar="T_LIST")
    args, rest = ap.parse_known_args()
    rest = rest[1:] if rest and rest[0] == "--" else rest

    import ditto_live.controls.intensity as kind
    import ditto_live.evaluation.runner as runner
    import ditto_live.evaluation.suites as suites

    changes = {k: v for k, v in (("mel_weight", args.mel_weight), ("audible_weight", args.audible_weight),
                                 ("block_s", args.block_s)) if v is not None}
    if args.straight_through:
        changes["straight_through"] = True
    if args.flat:
        changes["k_weighted"] = False
    kind.OBJECTIVE = dataclasses.replace(kind.OBJECTIVE, **changes)
    if args.ctm_only:
        decodes = tuple(int(t) for t in args.ctm_only.split(","))
        row = runner.Setting("DITTO-2 (CTM)", "ditto2", "ctm", "1", decodes)
        suites.suite_settings = lambda suite, decode_steps=0: [row]
    print(f"intensity knobs: {vars(args)} -> {kind.OBJECTIVE}", file=sys.stderr)
    from ditto_live.cli import main as cli

    return cli(rest)


if __name__ == "__main__":
    sys.exit(main())
