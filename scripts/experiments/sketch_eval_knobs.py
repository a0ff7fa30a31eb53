"""`ditto-live eval` with the warm start from the controls' sketches changed for one run (issue 27's choice of K
and share, an experiment, not a product setting). Its output: docs/results/<machine>/sketch_start/.

  --share S       share of the start's variance from the inverted sketch, for every control (default: each
                  control's own: controls/melody.py SKETCH_SHARE, controls/intensity.py OBJECTIVE.sketch_share)
  --no-sketch     start from the job's plain noise, as before the sketches
  --invert-steps N  student calls that invert the sketch to x_T (default: pipeline.SKETCH_INVERSION_STEPS)
  --ctm-only T    run only a "DITTO-2 (CTM)" row decoding with T (0: each control's own; no CM row)

Usage: python scripts/experiments/sketch_eval_knobs.py --share 0.4 --ctm-only 0 -- eval --suite table1
       --tasks intensity --skip-ditto --split val --steps 30 ...   (choose on val; confirm on test)
"""

from __future__ import annotations

import argparse
import sys


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--share", type=float)
    ap.add_argument("--no-sketch", action="store_true")
    ap.add_argument("--invert-steps", type=int)
    ap.add_argument("--ctm-only", type=int)
    args, rest = ap.parse_known_args()
    rest = rest[1:] if rest and rest[0] == "--" else rest

    import ditto_live.evaluation.runner as runner
    import ditto_live.evaluation.suites as suites
    from ditto_live.generation import pipeline

    if args.share is not None:
        real, share = pipeline.sketch_of, args.share

        def sketch_of(controls, x0):
            sketched = real(controls, x0)
            return None if sketched is None else (sketched[0], share)

        pipeline.sketch_of = sketch_of
    if args.invert_steps is not None:
        pipeline.SKETCH_INVERSION_STEPS = args.invert_steps
    if args.no_sketch:
        pipeline.start_near_sketch = lambda plan, engine, x_T, cond, controls: x_T
    if args.ctm_only is not None:
        row = runner.Setting("DITTO-2 (CTM)", "ditto2", "ctm", "1", (args.ctm_only,))
        suites.suite_settings = lambda suite, decode_steps=0: [row]
    print(f"sketch knobs: {vars(args)}", file=sys.stderr)
    from ditto_live.cli import main as cli

    return cli(rest)


if __name__ == "__main__":
    sys.exit(main())
