"""`ditto-live eval`: not implemented yet (see the issue that fills it)."""

from __future__ import annotations

import argparse

from ditto_live.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise UsageError("`ditto-live eval` is not implemented yet")
