"""What each figure's raw files record of DESIGN §12's provenance (``figures.py --provenance``)."""

from __future__ import annotations

from pathlib import Path

from .raw import Raw
from .registry import FIGURES

# DESIGN §12: what a raw file records; each field is found under one of these keys (top level or "info")
PROVENANCE = {"command": ("command", "config"), "commit": ("commit",), "machine": ("machine",),
              "precision": ("precision", "autocast", "bf16"), "threads": ("threads", "torch_threads"),
              "weights": ("weights", "untrained", "model"), "date": ("created", "date")}


def _keys(doc: dict) -> set[str]:
    """The keys of a raw file's top level, its info, machine and config."""
    found = set(doc)
    for part in ("info", "machine", "config"):
        for holder in (doc, doc.get("info") or {}):
            if isinstance(holder.get(part), dict):
                found |= set(holder[part])
    return found


def missing_provenance(doc: dict) -> list[str]:
    """The DESIGN §12 fields a raw file does not record."""
    keys = _keys(doc)
    return [field for field, names in PROVENANCE.items() if not keys & set(names)]


def provenance(root: Path) -> list[str]:
    """One line per figure: its raw files and the provenance fields each lacks."""
    lines = []
    for name, render in FIGURES.items():
        raw = Raw(root)
        render(raw)
        for rel in sorted(raw.read):
            lack = missing_provenance(raw.json(rel))
            lines.append(f"{name}: docs/results/{rel}: " + (f"lacks {', '.join(lack)}" if lack else "complete"))
    return lines
