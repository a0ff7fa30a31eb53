"""Suite-wide settings. Tests run torch on one thread: the small tensors here gain nothing from a
second thread, and one thread keeps timings steady when other work shares the two cores."""

from __future__ import annotations

import logging
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may download at test time
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

try:
    import torch
except ImportError:  # the bridge-only environments have no torch
    torch = None

if torch is not None:
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _root_logging_restored():
    """A CLI test's ``setup_logging`` points the root logger at that test's captured stderr, which pytest closes
    after it; later records (a server's warm-up thread) then failed with "I/O operation on closed file"."""
    root, own = logging.getLogger(), logging.getLogger("ditto_live")
    handlers, level, own_level = root.handlers[:], root.level, own.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    own.setLevel(own_level)
