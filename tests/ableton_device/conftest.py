"""Shared helpers for the Max for Live device's Python tests: load build_amxd.py, run node."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

DEVICE = Path(__file__).resolve().parents[2] / "ableton_device"


def in_ci() -> bool:
    """CI sets CI=true: there a check that cannot run fails instead of skipping."""
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


@pytest.fixture(scope="session")
def build_amxd():
    """The build script as a module (ableton_device/ is not a package)."""
    spec = importlib.util.spec_from_file_location("build_amxd", DEVICE / "build_amxd.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def node_eval():
    """Run a JS snippet in ableton_device/ and return the JSON it writes to stdout."""
    node = shutil.which("node")
    if node is None:
        why = "node is not installed (the device's JS needs it for this check)"
        if in_ci():
            pytest.fail(f"CI: {why}; the device-server contract must run there, not be skipped")
        pytest.skip(why)

    def run(code: str):
        out = subprocess.run([node, "-e", code], cwd=DEVICE, check=True, capture_output=True, text=True)
        return json.loads(out.stdout)

    return run
