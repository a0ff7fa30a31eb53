"""The figures' spans in the docs: find them, re-render or check each, and check the card's size header."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .raw import Raw, RawMissing
from .registry import FIGURES

DOC_GLOBS = ("README.md", "docs/*.md", "ditto_live/assets/default/card.md")
BUNDLE = Path("ditto_live/assets/default")
SPAN = re.compile(r"<!-- figure: (?P<name>[a-z][\w.-]*) -->(?P<body>(?:(?!<!-- figure:).)*?)<!-- /figure -->", re.S)
OPEN = re.compile(r"<!-- figure: (?P<name>[a-z][\w.-]*) -->")  # every opening marker, closed or not
STALE = "differs from its raw file"
SIZE_HEADER = re.compile(r"; (?P<mb>[\d.]+) MB on disk;")


@dataclass(frozen=True)
class Problem:
    """One figure that does not match its raw file (or has none)."""

    doc: str
    name: str
    what: str

    def __str__(self) -> str:
        return f"{self.doc}: figure {self.name!r}: {self.what}"


def docs(root: Path) -> Iterator[Path]:
    for pattern in DOC_GLOBS:
        yield from sorted(root.glob(pattern))


def render_doc(text: str, raw: Raw, doc: str) -> tuple[str, list[Problem]]:
    """The doc with every span re-rendered, and the spans that differed or could not be rendered."""
    problems: list[Problem] = []

    def replace(match: re.Match) -> str:
        name, body = match["name"], match["body"]
        if name not in FIGURES:
            problems.append(Problem(doc, name, "no such figure (so no raw file)"))
            return match[0]
        try:
            new = FIGURES[name](raw)
        except (RawMissing, KeyError, StopIteration) as err:  # a file, row or field the figure needs
            problems.append(Problem(doc, name, f"raw file missing: {err}"))
            return match[0]
        if new != body:
            problems.append(Problem(doc, name, STALE))
        return f"<!-- figure: {name} -->{new}<!-- /figure -->"

    new = SPAN.sub(replace, text)
    unclosed = Counter(OPEN.findall(text)) - Counter(m["name"] for m in SPAN.finditer(text))
    problems += [Problem(doc, name, "opening marker without its closing <!-- /figure -->") for name in unclosed]
    return new, problems


def card_size_problem(root: Path) -> Problem | None:
    """The card's generated header must give the bundle's size on disk (``shipped_size``) to 0.1 MB."""
    from ditto_live.generation.models import CARD_FILE, shipped_size

    card = root / BUNDLE / CARD_FILE
    found = SIZE_HEADER.search(card.read_text())
    real = f"{shipped_size(root / BUNDLE) / 1e6:.1f}"
    if found is None or found["mb"] != real:
        said = found["mb"] if found else "nothing"
        return Problem(str(card.relative_to(root)), "size header", f"says {said} MB, the bundle is {real} MB")
    return None


def run(root: Path, check: bool) -> list[Problem]:
    """Render (or check) every span of every doc under ``root``; the problems found."""
    raw = Raw(root)
    problems: list[Problem] = []
    for path in docs(root):
        text = path.read_text()
        new, found = render_doc(text, raw, str(path.relative_to(root)))
        problems += found
        if not check and new != text:
            path.write_text(new)
    size = card_size_problem(root)
    if size:
        problems.append(size)
    return problems
