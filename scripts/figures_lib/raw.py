"""The raw files the figures are rendered from (paths relative to docs/results/), and their reader."""

from __future__ import annotations

import json
from pathlib import Path

# raw files (relative to docs/results/)
XEON = "cpu_xeon/decode_T"
MELODY = f"{XEON}/melody_table1.json"  # melody at today's defaults, test split, CTM + CM + unoptimised
INTENSITY = f"{XEON}/intensity.json"  # intensity CTM at today's defaults (bf16, Xeon)
STRUCTURE = f"{XEON}/structure.json"  # structure CTM at today's defaults (bf16, Xeon)
EPYC_IS = "cpu_default/eval_register/intensity_structure.json"  # same cases, fp32 EPYC: CM + unoptimised
TABLE1_CPU = "cpu_default/table1.json"  # 26 Nov, T = 2, loss-shaped metrics, before register/audible terms
FIG5 = "cpu_default/fig5.json"  # intensity MSE against T, CTM and CM, 4 cases (26 Nov)
TEXT = "cpu_default/text.json"  # Table 3, text control (26 Nov)
GPU_T1 = "gpu_h200/intensity/results.json"
GPU_MELODY = "gpu_h200/ditto_melody/results.json"
GPU_TABLE2 = "gpu_h200/table2/results.json"
GPU_DITTO2 = "gpu_h200/ditto2/results.json"  # DITTO-2 alone, 8 cases per task (26 Nov)
GPU_BENCH = "gpu_h200/bench_bf16_cudagraph.json"
GPU_EAGER = "gpu_h200/bench_bf16_eager.json"
GPU_SERVED = "gpu_h200/server_2026-12-04.json"
SERVED_XEON = "cpu_xeon/server_bench_intensity.json"
SERVED_EPYC = "cpu_default/server_bench_intensity.json"
SKETCH = "cpu_xeon/melody_warm_start"  # issue 27: melody from the notes' sketch, K and share chosen on val
MELODY_NOW = f"{SKETCH}/test_k30_share04.json"  # melody at K = 30, share 0.4 (the default until the step size), test
STRUCTURE_NOW = f"{SKETCH}/test_structure_k60.json"  # structure at K = 60 (the default until the step size), test
INTENSITY_NOW = "intensity_objective/test_default.json"  # issue 33: the audible objective, T = 1, test: CTM, CM
HOLDOUT = "holdout"  # issue 29: 32 cases per control from works no setting was chosen on nor trained on
SHIPPED = "bundle_longer/after"  # issue 31: the shipped bundle (trained longer) on the same hold-out, all three controls
HOLDOUT_MELODY = HOLDOUT_INTENSITY = HOLDOUT_STRUCTURE = f"{SHIPPED}/results.json"  # the judges' figures of record
PRODUCER = "cpu_xeon/producer"  # issue 27: served jobs idle and beside one busy core, and pinned to one thread
PRODUCER_XEON_AMX = "cpu_xeon_amx/producer"  # the same on a Xeon with AMX and AVX512-BF16 (bf16 autocast): today's defaults
ADHERENCE_BF16 = "cpu_xeon_amx/adherence"  # issue 27: the test split's judges, float32 against bf16 autocast
PRODUCER_EPYC = "cpu_epyc/producer"  # the same on a CPU without native bf16 (float32), intensity K = 20 from its sketch
SKETCH_EPYC = "cpu_epyc/sketch_start"  # issue 27: intensity's and structure's sketches, K and share chosen on val
SKETCH_INVERSION = "cpu_xeon_avx512/sketch_inversion"  # issue 27: student calls inverting the sketch, on val
STREAM = "cpu_xeon_avx512/stream"  # the live stream idle and beside a busy core (ditto-live bench --stream)
LOOP = "cpu_xeon_avx512/loop_sketch"  # the loop: K, lr and the start from its output with the start copied on the end
PAINTING = "cpu_xeon_avx512/painting_sketch"  # inpaint / outpaint (and the chain): K, lr and the pasted sketch
LATE = "cpu_xeon_avx512/late_gradient"  # issue 27: two gradients at once, each step's one iterate late (rejected)
STEP_SIZE_EPYC = "cpu_epyc/step_size"  # issue 27: each control's K and Adam learning rate on x_T, chosen on val
BACKEND_REUSE = "cpu_xeon_amx/backend_reuse.json"  # two intensity jobs on --backend exported in one process (issue 27.4)
QUALITY = "quality_judge/sanity.json"  # the quality judge's sanity table (issue 31): FD / KID in musicnn
QUALITY_SETS = {  # set key of the raw file -> what the row is
    "real": "real audio (val split: other works than the reference's)",
    "vocoded": "the same windows, mel -> the bundle's vocoder",
    "shuffled": "the same mels, frames shuffled in time, vocoded",
    "white_noise": "white noise (the real clips' median RMS)",
    "pink_noise": "pink noise (the same RMS)",
    "default_model": "default model, unoptimised (each window's tags and tempo)",
    "controlled": "default model, intensity control (DITTO-2 CTM, same noise)",
}
ENGINE_BENCH = {  # (threads, precision) -> in-process engine bench of the default model, 26 Nov
    (2, "bf16 autocast"): "cpu_default/bench_intensity_t2.json",
    (2, "fp32"): "cpu_default/bench_intensity_t2_fp32.json",
    (1, "bf16 autocast"): "cpu_default/bench_intensity_t1.json",
    (1, "fp32"): "cpu_default/bench_intensity_t1_fp32.json",
}


class RawMissing(Exception):
    """A figure names a raw file that is not there."""


class Raw:
    """The raw files under ``docs/results/`` of one checkout, read once each."""

    def __init__(self, root: Path):
        self.results = root / "docs" / "results"
        self._cache: dict[str, dict] = {}
        self.read: set[str] = set()  # the raw files read since this was made (the provenance report)

    def exists(self, rel: str) -> bool:
        """Whether a raw file is there (a table's cell for a run that was not made shows a dash)."""
        return (self.results / rel).is_file()

    def json(self, rel: str) -> dict:
        self.read.add(rel)
        if rel not in self._cache:
            path = self.results / rel
            if not path.is_file():
                raise RawMissing(f"docs/results/{rel}")
            self._cache[rel] = json.loads(path.read_text())
        return self._cache[rel]

    def row(self, rel: str, label: str, task: str | None = None) -> dict:
        """The evaluation row with this label (and task) of an ``ditto-live eval`` report."""
        for row in self.json(rel)["rows"]:
            if row["label"] == label and (task is None or row["task"] == task):
                return row
        raise RawMissing(f"docs/results/{rel}: no row {label!r}" + (f" of task {task!r}" if task else ""))

    def metric(self, rel: str, label: str, name: str) -> float:
        """A row's mean of a metric; the row is the one of the task the metric's name begins with."""
        return float(self.row(rel, label, name.split("_")[0])["metrics"][name])

    def interval(self, rel: str, label: str, name: str) -> list[float]:
        return list(self.row(rel, label, name.split("_")[0])["intervals"][name])

    def reference(self, rel: str, label: str) -> dict:
        """A reference row (real audio, noise, ...) of an evaluation report."""
        for row in self.json(rel)["references"]:
            if row["label"] == label:
                return row
        raise RawMissing(f"docs/results/{rel}: no reference row {label!r}")
