"""The benchmark's report side: what ran it, one summary row per configuration, and issue 10's targets.

Split from ``ditto_live/bench/stages.py`` (which times the runs): everything here works on the run records
alone, so the summaries and target checks can be tested on hand-made runs.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
from pathlib import Path
from typing import Any, Protocol

import torch

from ditto_live.controls import KINDS


class TargetSetting(Protocol):
    """What the target check reads of a benchmark's configuration (``stages.BenchConfig`` has it)."""

    @property
    def preset(self) -> str:
        """The mel + UNet preset (the targets are for "paper")."""
        ...

    @property
    def device(self) -> str:
        """Where it ran (the targets are for CUDA)."""
        ...

    @property
    def steps(self) -> int:
        """K for every task (the targets are for each task's default K: 0 or that K)."""
        ...


STAGES = ("parse", "target", "optimise", "decode", "vocode", "write")  # timed stages, in order
TARGETS = {  # issue 10, on one H100/H200 with the paper preset
    "intensity_ms": 500.0, "melody_ms": 1000.0, "batch4_over_single": 1.5, "speedup_over_ditto": 15.0}


# ---------------------------------------------------------------------------------------------
# the machine

KERNEL_ENV = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA",
              "ATEN_CPU_CAPABILITY")  # environment that changes which CPU kernels run, or how they wait


def machine_info(device: str) -> dict[str, Any]:
    """What ran the benchmark: CPU model and cores, GPU name, torch and Python versions, load, and the
    environment that changes the CPU kernels (``KERNEL_ENV``, those set)."""
    cpu = platform.processor() or platform.machine()
    try:
        found = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        cpu = found.group(1).strip() if found else cpu
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": cpu, "cpu_cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__, "python": platform.python_version(), "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "kernel_env": {name: os.environ[name] for name in KERNEL_ENV if name in os.environ},
    }
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(device)
        info.update(gpu=torch.cuda.get_device_name(device), gpu_memory_gb=round(props.total_memory / 2**30, 1),
                    gpu_capability=f"{props.major}.{props.minor}", cuda=torch.version.cuda)
    return info


def cpu_record() -> dict[str, Any]:
    """The machine fields of an experiment's raw record (scripts/experiments/): the CPU model, whether it
    computes bf16 natively, torch, and the environment that changes the CPU kernels."""
    from ditto_live.engine.backends import cpu_has_native_bf16

    info = machine_info("cpu")
    return {"lscpu_model": info["cpu"], "native_bf16": cpu_has_native_bf16(), "torch": info["torch"],
            "kernel_env": info["kernel_env"]}


# ---------------------------------------------------------------------------------------------
# summaries


def config_key(r: dict[str, Any]) -> tuple:
    """What identifies a run's configuration: (task, method, setting, B, K, backend)."""
    return (r["task"], r["method"], r["setting"], r["seeds"], r["K"], r["backend"])


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per configuration: the cold run, the median of the warm runs, speed-ups and batch cost. The
    speed-up over DITTO compares warm with warm when both have warm runs, else cold with cold."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault(config_key(r), []).append(r)
    rows = []
    for key, rs in groups.items():
        cold = next((r for r in rs if r["cold"]), None)
        warm = [r for r in rs if not r["cold"]]
        basis = warm or ([cold] if cold is not None else [])
        if cold is None:  # only warm runs were kept
            cold = {**rs[0], "total_ms": None, "backend_prepare_ms": None, "decode_prepare_ms": None}
        stages = {s: round(statistics.median(r["stages_ms"][s] for r in basis), 2) for s in STAGES}
        total = round(statistics.median(r["total_ms"] for r in basis), 2)
        rows.append({"task": key[0], "method": key[1], "setting": key[2], "M": cold["M"], "T": cold["T"],
                     "seeds": key[3], "K": key[4], "backend": key[5],
                     "basis": f"median of {len(warm)} warm runs" if warm else "cold run only",
                     "stages_ms": stages, "total_ms": total, "cold_total_ms": cold["total_ms"],
                     "cold_backend_prepare_ms": cold["backend_prepare_ms"],
                     "cold_decode_prepare_ms": cold["decode_prepare_ms"],
                     "rtf": round(statistics.median(r["rtf"] for r in basis), 4),
                     "peak_memory_mb": max(r["peak_memory_mb"] for r in rs)})
    for row in rows:
        bases = [r for r in rows if r["method"] == "ditto" and r["task"] == row["task"] and r["K"] == row["K"]
                 and r["seeds"] == row["seeds"]]
        base = next((r for r in bases if r["backend"] == row["backend"]), bases[0] if bases else None)
        row["speedup_baseline_backend"] = base["backend"] if base is not None and row["method"] != "ditto" else None
        single = next((r for r in rows if config_key(r)[:3] == config_key(row)[:3] and r["seeds"] == 1
                       and r["K"] == row["K"] and r["backend"] == row["backend"]), None)
        row.update(speedup_vs_ditto=None, speedup_basis=None, optimise_speedup_vs_ditto=None)
        if base is not None and row["method"] != "ditto":  # like with like: warm against warm, else cold/cold
            warm = base["basis"] != "cold run only" and row["basis"] != "cold run only"
            mine, theirs = (row["total_ms"], base["total_ms"]) if warm else (row["cold_total_ms"], base["cold_total_ms"])
            row["speedup_vs_ditto"] = round(theirs / mine, 2) if mine and theirs else None
            row["speedup_basis"] = "warm vs warm" if warm else "cold vs cold"
            if warm:
                row["optimise_speedup_vs_ditto"] = round(base["stages_ms"]["optimise"] / row["stages_ms"]["optimise"], 2)
        row["batch_over_single"] = (round(row["total_ms"] / single["total_ms"], 3)
                                    if single is not None and row["seeds"] > 1 else None)
    return rows


def check_targets(rows: list[dict[str, Any]], cfg: TargetSetting, full_window: bool) -> dict[str, Any]:
    """Issue 10's targets, checked on the rows that measure them (DITTO-2 CTM, M1T2, default K)."""
    default_k = (0, KINDS["intensity"].steps, KINDS["melody"].steps)  # 0: each task's own
    applies = cfg.preset == "paper" and cfg.device.startswith("cuda") and full_window and cfg.steps in default_k
    out: dict[str, Any] = {"applies": applies, "note": "the targets are for the paper preset on one H100/H200"}

    def pick(task: str, seeds: int, backend: str | None = None) -> dict[str, Any] | None:
        """The fastest DITTO-2 CTM M1T2 row at the task's default K (of ``backend`` when given)."""
        found = [r for r in rows if r["task"] == task and r["method"] == "ditto2-ctm" and r["setting"] == "M1T2"
                 and r["seeds"] == seeds and r["K"] == KINDS[task].steps and backend in (None, r["backend"])]
        return min(found, key=lambda r: r["total_ms"], default=None)

    for task, limit in (("intensity", TARGETS["intensity_ms"]), ("melody", TARGETS["melody_ms"])):
        r = pick(task, 1)
        if r is not None:
            out[f"{task}_end_to_end_ms"] = {"value": r["total_ms"], "limit": limit, "backend": r["backend"],
                                            "pass": r["total_ms"] <= limit}
        r4 = pick(task, 4, r["backend"]) if r is not None else None
        if r4 is not None and r4["batch_over_single"] is not None:
            out[f"{task}_batch4_over_single"] = {"value": r4["batch_over_single"], "backend": r4["backend"],
                                                 "limit": TARGETS["batch4_over_single"],
                                                 "pass": r4["batch_over_single"] <= TARGETS["batch4_over_single"]}
        if r is not None and r["speedup_vs_ditto"] is not None:
            out[f"{task}_speedup_vs_ditto"] = {"value": r["speedup_vs_ditto"], "backend": r["backend"],
                                               "baseline_backend": r["speedup_baseline_backend"],
                                               "limit": TARGETS["speedup_over_ditto"],
                                               "pass": r["speedup_vs_ditto"] >= TARGETS["speedup_over_ditto"]}
    return out
