"""The installed package holds every subpackage of the source tree.

`pip install .` (not editable) copies only the packages pyproject lists; one left out installs cleanly and
then fails at import (the GPU machine's non-editable install lacked `ditto_live.controls`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _source_packages() -> set[str]:
    """Dotted names of every folder with an __init__.py under each mapped package root."""
    names = set()
    for package, folder in _setuptools()["package-dir"].items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base).parts
            names.add(".".join((package, *rel)))
    return names


def test_every_source_package_is_listed_for_installation():
    listed = set(_setuptools()["packages"])
    missing = _source_packages() - listed
    assert not missing, f"pyproject [tool.setuptools] packages lacks {sorted(missing)}"


def test_every_listed_package_exists_in_the_source_tree():
    assert set(_setuptools()["packages"]) <= _source_packages()
