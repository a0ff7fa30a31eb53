"""The one place logging is configured. Library code only calls ``logging.getLogger(__name__)``."""

from __future__ import annotations

import logging
import sys

OWN = "ditto_live"  # the loggers of this package: -v shows their debug records, not the libraries' (numba's are
# thousands of lines of bytecode a compile)


def setup_logging(verbosity: int = 0) -> None:
    """Route log records to stderr. ``verbosity`` < 0: warnings and errors; 0: INFO; 1 (``-v``): this package's
    DEBUG records, the libraries' INFO; >= 2 (``-vv``): every DEBUG record."""
    level = logging.DEBUG if verbosity > 1 else logging.WARNING if verbosity < 0 else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger(OWN).setLevel(logging.DEBUG if verbosity > 0 else logging.NOTSET)
