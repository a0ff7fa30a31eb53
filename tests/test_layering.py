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


# -- no import cycles ------------------------------------------------------------------------------------------
PACKAGES = {"ditto_live": "ditto_live", "ditto_live.engine": "engine", "ditto_live.bridges": "bridges"}  # name: folder


def module_files(root: Path) -> dict[str, Path]:
    """Every module of the installed packages under ``root``: {dotted name: file} (a package: its __init__)."""
    found: dict[str, Path] = {}
    for package, folder in PACKAGES.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = list(path.relative_to(root / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def module_level_imports(path: Path, package: str) -> list[str]:
    """The modules a file imports when it is imported: top-level statements (inside if/try/with too), not
    function bodies and not ``if TYPE_CHECKING:`` blocks. ``from a import b`` names ``a`` and ``a.b``."""
    names: list[str] = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                names.extend(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: resolved against the importing module's package
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parent + ([base] if base else []))
                names.append(base)
                names.extend(f"{base}.{a.name}" for a in node.names)
            elif isinstance(node, ast.If):
                if not _is_type_checking(node):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                    visit(block)
            elif isinstance(node, ast.With):
                visit(node.body)

    visit(ast.parse(path.read_text(), filename=str(path)).body)
    return names


def import_graph(root: Path) -> dict[str, set[str]]:
    """{module: the project modules it imports at import time}. Importing ``a.b.c`` also runs the packages
    ``a`` and ``a.b``: those count too, except the importer's own packages (already being imported)."""
    files = module_files(root)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        own = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 2)}
        edges: set[str] = set()
        for name in module_level_imports(path, package):
            parts = name.split(".")
            edges |= {m for i in range(1, len(parts) + 1) if (m := ".".join(parts[:i])) in files and m not in own}
        graph[module] = edges
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return cycles


def test_ditto_live_has_no_import_cycle():
    assert import_cycles(import_graph(ROOT)) == []


def test_an_import_cycle_is_caught(tmp_path):
    """Two modules of a tmp package that import each other at module level form a cycle; the same import
    inside a function or under TYPE_CHECKING does not."""
    for folder in PACKAGES.values():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "ditto_live" / "a.py").write_text("from ditto_live.b import y\nx = 1\n")
    (tmp_path / "ditto_live" / "b.py").write_text("from __future__ import annotations\nimport ditto_live.a\ny = 2\n")
    assert import_cycles(import_graph(tmp_path)) == [["ditto_live.a", "ditto_live.b"]]
    (tmp_path / "ditto_live" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import ditto_live.a\n"
        "def f():\n    from ditto_live.a import x\n    return x\n")
    assert import_cycles(import_graph(tmp_path)) == []
