"""`ditto-live eval` with the melody loss's constants changed for one run (an experiment, not a product setting).

Patches ``ditto_live.engine.controls.melody`` (the module the melody kind builds its control from) before
handing the rest of the command line to ``ditto-live eval``:

  --register-weight W   weight of the register NLLs beside the chroma NLL (default: the engine's 0.5)
  --chroma-temperature T  temperature of the chroma log-softmax (default 1)

Usage: python scripts/melody_eval_knobs.py --register-weight 0.25 -- eval --suite table1 --tasks melody ...
Choose on ``--split val``; confirm on the test split.
"""

from __future__ import annotations

import argparse
import functools
import sys


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--register-weight", type=float)
    ap.add_argument("--chroma-temperature", type=float)
    args, rest = ap.parse_known_args()
    rest = rest[1:] if rest and rest[0] == "--" else rest

    import ditto_live.engine.controls.melody as mel

    if args.register_weight is not None:
        mel.melody_control = functools.partial(mel.melody_control, register_weight=args.register_weight)
    if args.chroma_temperature is not None:
        mel.chroma_log_probs = functools.partial(mel.chroma_log_probs, temperature=args.chroma_temperature)
    print(f"melody knobs: register_weight={args.register_weight}, chroma_temperature={args.chroma_temperature}",
          file=sys.stderr)
    from ditto_live.cli import main as cli

    return cli(rest)


if __name__ == "__main__":
    sys.exit(main())
