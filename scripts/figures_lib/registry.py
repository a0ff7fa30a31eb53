"""The one table of figures: a span's NAME -> the function that renders it from its raw files."""

from __future__ import annotations

from collections.abc import Callable

from .bundle import bundle_longer, bundle_longer_paired
from .cpu import (
    backend_reuse,
    cpu_engine_bench,
    measure_gil,
    omp_wait_policy,
    openmp_teams,
    producer_headline,
    producer_served,
    served_cpu,
    served_table,
)
from .gpu import (
    ditto_gpu_cold,
    gpu_bench_table,
    gpu_ditto_vs_ditto2,
    gpu_engine_latency,
    gpu_melody_and_others,
    gpu_served,
    gpu_served_table,
    gpu_table1_intensity,
    table2_gpu,
)
from .judges import ctm_vs_cm, fad_noise, judges_sentence, judges_table, note_judge, quality_sanity
from .melody import melody_audible, melody_decode_t, melody_register_epyc, melody_register_xeon, melody_sketch
from .paper import fig5_trend, table1_cpu, table1_cpu_fad, table3_text
from .raw import PRODUCER, PRODUCER_EPYC, PRODUCER_XEON_AMX, SERVED_EPYC, SERVED_XEON, Raw
from .sketch import (
    intensity_holdout_classes,
    intensity_sketch,
    loop_sketch,
    painting_sketch,
    painting_test,
    sketch_inversion,
)
from .steps import adherence_bf16, late_gradient, step_size, step_size_test
from .stream import stream_sentence, stream_served

FIGURES: dict[str, Callable[[Raw], str]] = {
    "judges-table": judges_table,
    "judges-sentence": judges_sentence,
    "ctm-vs-cm": ctm_vs_cm,
    "fad-noise": fad_noise,
    "gpu-ditto-vs-ditto2": gpu_ditto_vs_ditto2,
    "gpu-table1-intensity": gpu_table1_intensity,
    "gpu-engine-latency": gpu_engine_latency,
    "gpu-served": gpu_served,
    "gpu-served-table": gpu_served_table,
    "served-cpu": served_cpu,
    "cpu-engine-bench": cpu_engine_bench,
    "table1-cpu": table1_cpu,
    "table1-cpu-fad": table1_cpu_fad,
    "ditto-gpu-cold": ditto_gpu_cold,
    "melody-audible": melody_audible,
    "melody-decode-t": melody_decode_t,
    "table2-gpu": table2_gpu,
    "gpu-bench-table": gpu_bench_table,
    "melody-register-epyc": melody_register_epyc,
    "melody-register-xeon": melody_register_xeon,
    "gpu-melody-and-others": gpu_melody_and_others,
    "fig5-trend": fig5_trend,
    "table3-text": table3_text,
    "served-table-xeon": served_table(SERVED_XEON),
    "served-table-epyc": served_table(SERVED_EPYC),
    "backend-reuse": backend_reuse,
    "quality-sanity": quality_sanity,
    "note-judge": note_judge,
    "melody-sketch": melody_sketch,
    "producer-served": producer_served(PRODUCER),
    "producer-served-xeon-amx": producer_served(PRODUCER_XEON_AMX),
    "producer-served-xeon-amx-before-quiet": producer_served("cpu_xeon_amx/producer_before_quiet"),
    "producer-served-epyc": producer_served(PRODUCER_EPYC),
    "producer-served-xeon-avx512": producer_served("cpu_xeon_avx512/producer"),
    "producer-served-epyc-two-threads": producer_served("cpu_epyc/producer_two_threads"),
    "producer-served-epyc-before-step-size": producer_served("cpu_epyc/producer_before_step_size"),
    "intensity-sketch": intensity_sketch,
    "sketch-inversion": sketch_inversion,
    "painting-sketch": painting_sketch,
    "painting-test": painting_test,
    "loop-sketch": loop_sketch,
    "stream-served": stream_served,
    "stream-sentence": stream_sentence,
    "intensity-holdout-classes": intensity_holdout_classes,
    "step-size": step_size,
    "step-size-test": step_size_test,
    "late-gradient": late_gradient,
    "adherence-bf16": adherence_bf16,
    "bundle-longer": bundle_longer,
    "bundle-longer-paired": bundle_longer_paired,
    "omp-wait-policy": omp_wait_policy,
    "openmp-teams": openmp_teams,
    "measure-gil": measure_gil,
    "producer-headline": producer_headline,
}
