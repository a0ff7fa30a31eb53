"""`ditto-live eval` with one knob of the melody job changed for one run (an experiment, not a product setting).

An experiment kept in scripts/experiments/: the exploratory eval runs of docs/results.md ("Closing the gap")
are its output: docs/results/cpu_xeon/decode_T/test_*.{md,json} and val_T1_T2.{md,json} (``--ctm-only`` with
the T list of the name, plus ``--surrogate``, ``--gamma``, ``--seeds``, ``--register-weight`` as named), and
the knob run eval_register/melody_val_T05.{md,json} (``--chroma-temperature 0.5``; on the test split,
melody_chroma_T0.5.{md,json}).

Patches the modules the eval builds its jobs and controls from, then hands the rest of the command line
to ``ditto-live eval``:

  --register-weight W     weight of the register NLLs beside the chroma NLL (default: the engine's 0.5)
  --chroma-temperature T  temperature of the chroma log-softmax (default 1)
  --no-audible            leave out the audible-pitch term (the vocoder's spectrum), as before it existed
  --ctm-only T1,T2,...    run only a "DITTO-2 (CTM)" row (no CM, no unoptimised row), decoding the one
                          optimised x_T* with each T listed (0: the job's default)
  --surrogate M           M of that row's optimisation (default 1; with --ctm-only)
  --gamma G               the jobs' CTM gamma (decoding with T >= 2)
  --seeds B               B initial noises optimised together, the lowest loss decoded (a job's "seeds";
                          row 0 is the single-seed run's noise)

Usage: python scripts/experiments/melody_eval_knobs.py --ctm-only 1,2 -- eval --suite table1 --tasks melody ...
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
    ap.add_argument("--no-audible", action="store_true")
    ap.add_argument("--ctm-only", metavar="T_LIST")
    ap.add_argument("--surrogate", default="1")
    ap.add_argument("--gamma", type=float)
    ap.add_argument("--seeds", type=int, default=1)
    args, rest = ap.parse_known_args()
    rest = rest[1:] if rest and rest[0] == "--" else rest

    import ditto_live.controls.melody as kind
    import ditto_live.engine.controls.melody as mel
    import ditto_live.evaluation.runner as runner
    import ditto_live.evaluation.suites as suites

    if args.register_weight is not None:
        mel.melody_control = functools.partial(mel.melody_control, register_weight=args.register_weight)
    if args.chroma_temperature is not None:
        mel.chroma_log_probs = functools.partial(mel.chroma_log_probs, temperature=args.chroma_temperature)
    if args.no_audible:
        kind._audible = lambda vocoder, sample_rate, device: None
    if args.ctm_only:
        decodes = tuple(int(t) for t in args.ctm_only.split(","))
        row = runner.Setting("DITTO-2 (CTM)", "ditto2", "ctm", args.surrogate, decodes)
        suites.suite_settings = lambda suite, decode_steps=0: [row]
    if args.gamma is not None:
        parse = runner.parse_job
        runner.parse_job = lambda job: parse({**job, "gamma": args.gamma})
    if args.seeds > 1:
        _batch_seeds(runner, args.seeds)
    print(f"melody knobs: {vars(args)}", file=sys.stderr)
    from ditto_live.cli import main as cli

    return cli(rest)


def _batch_seeds(runner, seeds: int) -> None:
    """The eval's optimisation on ``seeds`` rows of initial noise; ITO returns the best row's x_T*."""
    from ditto_live.engine.conditioning import Cond

    optimise = runner.optimise

    def batched(plan, engine, x_T, cond, controls, noise_seed, **hooks):
        rows, _ = runner.window_noise(plan.spec.seed, 0, seeds, plan.mel, str(x_T.device))
        assert bool((rows[:1] == x_T).all()), "row 0 is the single-seed noise"
        return optimise(plan, engine, rows, Cond(cond.tags.expand(seeds, -1), w=cond.w), controls, noise_seed,
                        **hooks)

    runner.optimise = batched


if __name__ == "__main__":
    sys.exit(main())
