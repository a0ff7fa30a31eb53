"""Render every published figure from its raw file under docs/results/ into the docs (DESIGN §12).

A figure is a span of README.md, docs/*.md or the default model's card between
``<!-- figure: NAME -->`` and ``<!-- /figure -->``; NAME is a key of ``FIGURES`` (figures_lib/registry.py),
whose function reads the raw JSON files it names and returns the span's text. So a number a user reads is never typed: edit
the raw file (or re-measure) and re-render.

    python scripts/figures.py            # rewrite every span from its raw files
    python scripts/figures.py --check    # rewrite nothing; exit 1 if a span differs from its rendering,
                                         # names no figure, or its raw file is missing
    python scripts/figures.py --root DIR # another checkout (the tests use a copy)
    python scripts/figures.py --provenance  # each figure's raw files and what they do not record

``--check`` also checks the card's generated size header against the bundle on disk
(``generation.models.shipped_size``), the one measured figure of the card that a raw JSON does not hold.

This file is the entry point; the renderers live beside it in figures_lib/, one module per topic (judges,
melody, gpu, cpu, paper), with raw.py (the raw files and their reader), formats.py (how numbers are written),
spans.py (the docs' spans) and provenance.py (what each raw file records).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # figures_lib/ beside this file, however it is loaded

from figures_lib.formats import CM, CTM, MEL_CHROMA, MEL_PITCH, UNOPT  # noqa: E402
from figures_lib.provenance import PROVENANCE, missing_provenance, provenance  # noqa: E402
from figures_lib.raw import GPU_SERVED, HOLDOUT_MELODY, MELODY, MELODY_NOW, Raw, RawMissing  # noqa: E402
from figures_lib.registry import FIGURES  # noqa: E402
from figures_lib.spans import (  # noqa: E402
    BUNDLE,
    DOC_GLOBS,
    OPEN,
    SIZE_HEADER,
    SPAN,
    STALE,
    Problem,
    card_size_problem,
    docs,
    render_doc,
    run,
)

ROOT = Path(__file__).resolve().parents[1]
__all__ = ["BUNDLE", "CM", "CTM", "DOC_GLOBS", "FIGURES", "GPU_SERVED", "HOLDOUT_MELODY", "MELODY", "MELODY_NOW", "MEL_CHROMA",
           "MEL_PITCH", "OPEN", "PROVENANCE", "ROOT", "SIZE_HEADER", "SPAN", "STALE", "UNOPT", "Problem", "Raw",
           "RawMissing", "card_size_problem", "docs", "main", "missing_provenance", "provenance", "render_doc", "run"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="rewrite nothing; exit 1 on any stale figure")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout (default: this one)")
    parser.add_argument("--provenance", action="store_true",
                        help="list each figure's raw files and the DESIGN §12 fields they lack; change nothing")
    args = parser.parse_args(argv)
    if args.provenance:
        print("\n".join(provenance(args.root.resolve())))
        return 0
    problems = run(args.root.resolve(), args.check)
    stale = problems if args.check else [p for p in problems if p.what != STALE]  # rewritten, so not stale
    for problem in stale:
        print(problem, file=sys.stderr)
    if stale and args.check:
        print(f"{len(stale)} figure(s) not rendered from their raw files: run python scripts/figures.py",
              file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
