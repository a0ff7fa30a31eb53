"""The dataset card (DIR/card.md, plus DIR/card.json for machines): what was built, from what, how fast."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path


def machine_description() -> str:
    """CPU model, core count, OS and library versions, for the card."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}, " \
           f"Python {platform.python_version()}, torch {torch.__version__}"


def _table(counter, total: int) -> list[str]:
    lines = ["| value | windows | share |", "|---|---|---|"]
    for name, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"| {name} | {n} | {100 * n / max(total, 1):.1f}% |")
    return lines


def write_card(out: Path, stats, cfg) -> None:
    """Write card.md and card.json from a BuildStats and the build's config."""
    source = getattr(cfg, "sources", None)
    lines = [
        "# Corpus card",
        "",
        f"Built {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `ditto-live data build`.",
        "",
        "| | |",
        "|---|---|",
        f"| hours of audio | {stats.hours:.2f} |",
        f"| windows (5.94 s, 22,050 Hz) | {stats.windows} |",
        f"| works used / tried | {stats.works} / {stats.attempted} |",
        f"| failed works (skipped) | {sum(stats.failures.values())} |",
        f"| near-silent windows dropped | {stats.silent} |",
        f"| audio rendered | {stats.rendered_s / 3600:.2f} h |",
        f"| build time | {stats.seconds:.0f} s ({stats.seconds / 60:.1f} min)"
        f"{' (cut short by --max-minutes)' if getattr(stats, 'cut_short', False) else ''} |",
        f"| workers | {getattr(cfg, 'workers', 1)} |",
        f"| seed | {getattr(cfg, 'seed', '-')} |",
        f"| sources | {', '.join(source) if source else getattr(cfg, 'audio_dir', '-')} |",
        f"| mel presets | {', '.join(cfg.presets)} |",
        f"| machine | {machine_description()} |",
        "",
        "## Splits (by work)",
        "",
        "| split | windows | works |",
        "|---|---|---|",
    ]
    for split in ("train", "val", "test"):
        lines.append(f"| {split} | {stats.per_split.get(split, 0)} | {stats.works_per_split.get(split, 0)} |")
    if stats.per_source:
        lines += ["", "## Windows per source", ""] + _table(stats.per_source, stats.windows)
    for field_name, counter in stats.tags.items():
        lines += ["", f"## Tag: {field_name}", ""] + _table(counter, stats.windows)
    if stats.failures:
        lines += ["", "## Failures", "", "| reason | works |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in stats.failures.most_common()]
        lines += ["", "First failed works:", ""]
        lines += [f"- `{w}`: {reason}" for w, reason in stats.failed_works[:10]]
    (out / "card.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = {
        "hours": stats.hours, "windows": stats.windows, "works": stats.works, "attempted": stats.attempted,
        "failures": dict(stats.failures), "failed_works": stats.failed_works, "silent": stats.silent,
        "per_split": dict(stats.per_split), "works_per_split": dict(stats.works_per_split),
        "per_source": dict(stats.per_source), "tags": {k: dict(v) for k, v in stats.tags.items()},
        "build_seconds": stats.seconds, "presets": list(cfg.presets),
    }
    (out / "card.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
