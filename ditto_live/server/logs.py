"""Warnings about hostile or careless traffic, at most one a while per kind (with how many were folded in),
so a flood of withheld or refused datagrams cannot fill the log (issue 28: 383 KB in 20 s)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

LOG_INTERVAL_S = 10.0  # one warning per kind in this many seconds


class LogLimiter:
    """``warn(kind, message, *args)``: the first warning of a kind now, then one per ``interval_s`` saying how
    many were folded in since."""

    def __init__(self, log: logging.Logger, interval_s: float = LOG_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log = log  # where the warnings go
        self.interval_s = interval_s  # seconds between two warnings of one kind
        self._clock = clock
        self._last: dict[str, float] = {}  # kind -> when it was last logged
        self._folded: dict[str, int] = {}  # kind -> warnings not logged since
        self._lock = threading.Lock()

    def warn(self, kind: str, message: str, *args: object) -> bool:
        """Log ``message % args`` unless a warning of ``kind`` was logged within the interval; whether it was."""
        now = self._clock()
        with self._lock:
            if now - self._last.get(kind, -self.interval_s) < self.interval_s:
                self._folded[kind] = self._folded.get(kind, 0) + 1
                return False
            self._last[kind] = now
            folded = self._folded.pop(kind, 0)
        self.log.warning(message + (f" (+{folded} more in the last {self.interval_s:g} s)" if folded else ""), *args)
        return True
