"""setup_logging: what each verbosity shows on stderr."""

from __future__ import annotations

import logging

import pytest

from ditto_live.log import setup_logging


def _emitted(capsys: pytest.CaptureFixture[str], verbosity: int) -> set[str]:
    setup_logging(verbosity)
    for name in ("ditto_live.runner.jobs", "numba.core.byteflow"):
        logging.getLogger(name).debug("%s debug", name)
        logging.getLogger(name).info("%s info", name)
    return {line.split(": ", 1)[1] for line in capsys.readouterr().err.splitlines()}


@pytest.mark.parametrize(("verbosity", "shown"), [
    (-1, set()),
    (0, {"ditto_live.runner.jobs info", "numba.core.byteflow info"}),
    (1, {"ditto_live.runner.jobs debug", "ditto_live.runner.jobs info", "numba.core.byteflow info"}),
    (2, {"ditto_live.runner.jobs debug", "ditto_live.runner.jobs info", "numba.core.byteflow debug",
         "numba.core.byteflow info"}),
])
def test_each_verbosity_shows_its_records(capsys, verbosity, shown):
    """-q: warnings only; default: INFO; -v: this package's DEBUG too, not the libraries' (numba printed its
    bytecode dumps, thousands of lines a compile); -vv: every DEBUG record."""
    assert _emitted(capsys, verbosity) == shown
