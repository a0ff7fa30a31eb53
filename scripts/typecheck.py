"""`make typecheck`: mypy over ditto_live, its engine and its bridges, configured in pyproject.toml ([tool.mypy]).

The source tree maps ``ditto_live.engine`` to ``engine/`` and ``ditto_live.bridges`` to ``bridges/``
(``[tool.setuptools.package-dir]``); the editable install does that with an import hook, which mypy cannot
follow. So this lays the installed layout out as links under ``build/typecheck/`` (ditto_live's entries,
``engine`` and ``bridges`` beside them), runs mypy on the package ``ditto_live`` there, and prints the
source paths again. Exit status: mypy's.

    python scripts/typecheck.py [extra mypy arguments]
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREE = ROOT / "build" / "typecheck"
MAPPED = {"engine": ROOT / "engine", "bridges": ROOT / "bridges"}  # [tool.setuptools.package-dir]


def lay_out() -> Path:
    """build/typecheck/ditto_live: a link per entry of ditto_live/, and the mapped subpackages."""
    package = TREE / "ditto_live"
    shutil.rmtree(TREE, ignore_errors=True)
    package.mkdir(parents=True)
    for entry in (ROOT / "ditto_live").iterdir():
        if entry.name != "__pycache__":
            os.symlink(entry, package / entry.name)
    for name, source in MAPPED.items():
        os.symlink(source, package / name)
    return package


def main(argv: list[str]) -> int:
    from mypy import api

    package = lay_out()
    os.environ["MYPYPATH"] = str(TREE)
    out, err, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), "-p", "ditto_live", *argv])
    prefix = f"{package.relative_to(ROOT)}/"
    for name in MAPPED:  # back to the source paths an editor opens
        out = out.replace(f"{prefix}{name}/", f"{name}/")
    sys.stdout.write(out.replace(prefix, "ditto_live/"))
    sys.stderr.write(err)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
