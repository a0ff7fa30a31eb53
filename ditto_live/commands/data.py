"""`ditto-live data build`: render the embedded training corpus, or window your own audio folder."""

from __future__ import annotations

import argparse
import logging

from ditto_live.errors import UsageError

log = logging.getLogger(__name__)


def _csv(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")
    sub.required = True
    b = sub.add_parser("build", help="build a corpus folder (see docs/data.md)",
                       description="Render scores from the music21 corpus with FluidSynth into mel/audio shards, "
                                   "or, with --audio-dir and --tags, window your own audio the same way.")
    b.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    b.add_argument("--hours", type=float, default=10.0, help="hours of audio to keep (default 10)")
    b.add_argument("--sources", type=_csv, default=None,
                   help="comma list of bach,essen,oneill,palestrina,ryans (default: the first four)")
    b.add_argument("--soundfont", metavar="SF2", help="General MIDI SoundFont (default: pretty_midi's TimGM6mb)")
    b.add_argument("--seed", type=int, default=0, help="selects works and every arrangement choice")
    b.add_argument("--workers", type=int, default=0,
                   help="render processes (default 0: one per core; the corpus does not depend on it)")
    b.add_argument("--presets", type=_csv, default=("tiny", "paper"), help="mel presets to store (default tiny,paper)")
    b.add_argument("--max-minutes", type=float, default=0, metavar="MIN",
                   help="stop taking works after MIN minutes, keeping what is rendered (0 = no limit)")
    b.add_argument("--max-windows-per-work", type=int, default=8, help="cap per work (default 8)")
    b.add_argument("--audio-dir", metavar="DIR", help="build from your own audio files instead of scores")
    b.add_argument("--tags", metavar="CSV", help="with --audio-dir: file,genre,mood,tempo,instrument[,caption]")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    b.add_argument("--force", action="store_true", help="write into a non-empty --out")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ditto_live.engine.audio import PRESETS

    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.force:
        raise UsageError(f"{out} is not empty (pass --force to write into it)")
    for p in args.presets:
        if p not in PRESETS:
            raise UsageError(f"unknown mel preset {p!r}; known: {', '.join(PRESETS)}")
    if args.workers < 0:
        raise UsageError("--workers must be 0 (one per core) or more")
    if args.audio_dir or args.tags:
        if not (args.audio_dir and args.tags):
            raise UsageError("--audio-dir and --tags go together")
        from ditto_live.data.audio_dir import AudioDirConfig, build_from_audio

        stats = build_from_audio(AudioDirConfig(audio_dir=args.audio_dir, tags_csv=args.tags, out=str(out),
                                                presets=tuple(args.presets)), progress=not args.no_progress)
    else:
        require_render_packages()
        from ditto_live.data.build import BuildConfig, RenderWorkerError, build_corpus
        from ditto_live.data.sources import DEFAULT_SOURCES, SOURCES

        sources = args.sources or DEFAULT_SOURCES
        unknown = [s for s in sources if s not in SOURCES]
        if unknown:
            raise UsageError(f"unknown source(s) {', '.join(unknown)}; known: {', '.join(SOURCES)}")
        if args.hours <= 0:
            raise UsageError("--hours must be positive")
        cfg = BuildConfig(out=str(out), hours=args.hours, sources=tuple(sources), soundfont=args.soundfont,
                          seed=args.seed, workers=args.workers, presets=tuple(args.presets),
                          max_windows_per_work=args.max_windows_per_work, max_seconds=args.max_minutes * 60)
        try:
            stats = build_corpus(cfg, progress=not args.no_progress)
        except RenderWorkerError as exc:  # the renderer cannot run here: one line naming why, no traceback
            raise UsageError(f"data build stopped: {exc}") from exc
    log.info("wrote %s (%d windows, %.2f h); card: %s", out, stats.windows, stats.hours, out / "card.md")
    return 0 if stats.windows else 1


RENDER_PACKAGES = {"music21": "music21", "pretty_midi": "pretty_midi", "fluidsynth": "pyfluidsynth"}  # module: pip name


def require_render_packages() -> None:
    """A corpus rendered from the music21 corpus needs the ``data`` extra: say so in one line, not with an
    ImportError's traceback from deep inside the build."""
    import importlib.util

    missing = [pip for module, pip in RENDER_PACKAGES.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise UsageError(f"data build renders with {', '.join(missing)}, not installed here: "
                         "pip install -e \".[data]\" (from a clone; `make install-dev` installs it too)")

