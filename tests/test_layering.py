"""The package layers stay apart (DESIGN.md §1): the engine imports no I/O, no server and no bridge;
the bridges never import torch or the engine."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

ENGINE_FORBIDDEN = ("ditto_live", "bridges", "socket", "socketserver", "mido", "pythonosc", "sounddevice",
                    "rtmidi", "soundfile", "http", "urllib", "requests")
ENGINE_ALLOWED_PREFIX = "ditto_live.engine"
BRIDGES_FORBIDDEN = ("torch", "ditto_live.engine", "engine")


def imported_modules(path: Path) -> list[str]:
    """Every absolute module name a file imports (relative imports resolved to their package)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import stays inside its own package
                continue
            names.append(node.module or "")
    return names


def violations(folder: Path, forbidden: tuple[str, ...], allowed_prefix: str | None = None) -> list[str]:
    bad = []
    for path in sorted(folder.rglob("*.py")):
        for name in imported_modules(path):
            if allowed_prefix and (name == allowed_prefix or name.startswith(allowed_prefix + ".")):
                continue
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    return bad


def test_engine_imports_no_io_server_or_bridge():
    assert violations(ROOT / "engine", ENGINE_FORBIDDEN, ENGINE_ALLOWED_PREFIX) == []


def test_bridges_import_neither_torch_nor_engine():
    assert violations(ROOT / "bridges", BRIDGES_FORBIDDEN) == []


@pytest.mark.parametrize(
    ("folder", "source", "forbidden", "allowed"),
    [
        ("engine", "import mido\n", ENGINE_FORBIDDEN, ENGINE_ALLOWED_PREFIX),
        ("engine", "from ditto_live.server.server import Server\n", ENGINE_FORBIDDEN, ENGINE_ALLOWED_PREFIX),
        ("engine", "from ditto_live.bridges import osc\n", ENGINE_FORBIDDEN, ENGINE_ALLOWED_PREFIX),
        ("engine", "import socket\n", ENGINE_FORBIDDEN, ENGINE_ALLOWED_PREFIX),
        ("bridges", "import torch\n", BRIDGES_FORBIDDEN, None),
        ("bridges", "from ditto_live.engine.schedule import q_sample\n", BRIDGES_FORBIDDEN, None),
    ],
)
def test_a_breaking_import_is_caught(tmp_path, folder, source, forbidden, allowed):
    pkg = tmp_path / folder
    pkg.mkdir()
    (pkg / "bad.py").write_text(source)
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert violations(pkg, forbidden, allowed)
    finally:
        ROOT = saved
