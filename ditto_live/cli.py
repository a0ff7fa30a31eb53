"""The ``ditto-live`` command line. Each subcommand lives in ``ditto_live/commands/<name>.py``
with ``add_arguments(parser)`` and ``run(args) -> int``; heavy imports stay inside ``run`` so that
``--help`` answers at once."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from ditto_live import __version__
from ditto_live.config import Config, ConfigError, load_config
from ditto_live.errors import UsageError
from ditto_live.log import setup_logging

# name -> one-line help; the order is the order `--help` shows.
SUBCOMMANDS: dict[str, str] = {
    "serve": "run the OSC/MIDI server that Ableton Live and live rigs drive",
    "demo": "start a server, send it one real OSC job over loopback, write WAV + PNG",
    "generate": "generate one clip under controls (melody, intensity, structure, inpaint, text)",
    "bench": "time every stage of DITTO and DITTO-2 and report real-time factors",
    "eval": "reproduce the paper's tables on this project's models",
    "data": "build the training corpus (from packaged scores, or your own audio)",
    "train": "train the base diffusion model, the vocoder, the text-audio model, or all of them",
    "distill": "distil a base model into a CM or CTM student",
    "models": "list the bundled and local models with their card metrics",
}

log = logging.getLogger("ditto_live")


class _Parser(argparse.ArgumentParser):
    """argparse that says which subcommand to ask for help on when an option is unknown."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n(see `{self.prog} --help`)\n")


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """Options every subcommand takes: the config file, overrides and verbosity."""
    parser.add_argument("--config", metavar="TOML", help="settings file (see docs/config.md)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
        help="override one setting, e.g. --set server.port=9100 (repeatable)",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output: -v this program's debug records, -vv the libraries' too")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ditto-live", description="Real-time controllable music generation (DITTO-2).")
    parser.add_argument("--version", action="version", version=f"ditto-live {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, help_text in SUBCOMMANDS.items():
        module = importlib.import_module(f"ditto_live.commands.{name}")
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_common_options(p)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def read_config(path: str | None, overrides: list[str]) -> Config:
    """``load_config`` with every way a settings file can be unusable as a ConfigError naming the file."""
    try:
        return load_config(path, overrides)
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder, not a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start})") from None
    except (TypeError, AttributeError) as exc:  # a section given as a value (`server = 5`) breaks the merge
        raise ConfigError(f"{path or '--set'}: every section ([server], [generate], ...) must be a table "
                          f"({type(exc).__name__}: {exc})") from None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(-1 if args.quiet else args.verbose)
    try:
        args.cfg = read_config(args.config, args.overrides)
        return int(args._module.run(args) or 0)
    except ConfigError as exc:
        log.error("config: %s", exc)
        return 2
    except UsageError as exc:
        log.error("%s", exc)
        return 2
    except KeyboardInterrupt:
        log.warning("interrupted")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
