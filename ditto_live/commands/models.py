"""`ditto-live models`: list the bundled and local models with size, preset and card metrics."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH", help="extra bundle or checkpoint folders to list")
    parser.add_argument("--json", action="store_true", help="print the listing as JSON")


def _fmt_metric(metrics: dict, key: str, fmt: str = "{:.4f}") -> str:
    value = metrics.get(key)
    if value is None:
        return "-"
    return fmt.format(value) if isinstance(value, (int, float)) else str(value)


def format_table(infos) -> str:
    """A fixed-width table: one row per bundle, then one indented line per component."""
    header = f"{'NAME':<18} {'PRESET':<7} {'SIZE':>9}  COMPONENTS"
    lines = [header]
    for info in infos:
        lines.append(f"{info.name:<18} {info.preset:<7} {info.size_bytes / 1e6:>7.1f}MB  {', '.join(info.components)}")
        for comp, m in info.metrics.items():
            parts = [f"steps {_fmt_metric(m, 'steps', '{}')}", f"loss {_fmt_metric(m, 'final_loss')}"]
            if "val_loss" in m:
                parts.append(f"val {_fmt_metric(m, 'val_loss')}")
            if "wall_time_s" in m:
                parts.append(f"{_fmt_metric(m, 'wall_time_s', '{:.0f}')} s")
            lines.append(f"  {comp:<8} " + ", ".join(parts))
        if info.machine:
            lines.append(f"  trained on {info.machine}")
        lines.append(f"  {info.path}")
    if not infos:
        lines.append("(no models found; run scripts/train_all.sh to build the default bundle)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ditto_live.generation.models import list_models

    infos = list_models(args.paths)
    if args.json:
        rows = [{"name": i.name, "path": str(i.path), "size_bytes": i.size_bytes, "preset": i.preset,
                 "components": i.components, "metrics": i.metrics, "machine": i.machine} for i in infos]
        print(json.dumps(rows, indent=2))
    else:
        print(format_table(infos))
    return 0
