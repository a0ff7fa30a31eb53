#!/bin/bash
# Issue 27's open bar, on a 2-core CPU with native bf16 (AVX512-BF16 or AMX), in one run of ~20 minutes on a
# quiet machine: idle two threads <= 0.75x of one thread for intensity, at the server's defaults.
#   1. the producer's bench at this commit (scripts/producer_bench.sh): the figure of record;
#   2. the student's pass per variant under bf16 autocast (GroupNorm in bf16, channels-last), 1 and 2 threads;
#   3. one served job's engine work per operator at 1 and 2 threads (intensity);
#   4. with AMX only: 2 and 3 again with oneDNN held to AVX512-BF16 (ONEDNN_MAX_CPU_ISA), and the served
#      intensity job idle at two threads and pinned to one. At this model's size AMX's convolutions gained about
#      a sixth from the second thread (docs/results/cpu_xeon_amx/thread_scaling.json), while on the Xeon with
#      AVX512-BF16 but no AMX two threads took a served intensity job to 0.58x of one (K = 70, before the
#      sketch: docs/results/cpu_xeon/producer/). Whether they are also faster at two threads is what this shows.
# Usage: bash scripts/bf16_cpu_kit.sh cpu_<machine>   (raw files under docs/results/cpu_<machine>/)
set -u
cd "$(dirname "$0")/.."
NAME=${1:?usage: bash scripts/bf16_cpu_kit.sh cpu_<machine>}
OUT=docs/results/$NAME
if ! grep -qE 'avx512_bf16|amx_bf16' /proc/cpuinfo; then
  echo "this CPU has no native bf16 (neither avx512_bf16 nor amx_bf16 in /proc/cpuinfo): the kit measures nothing here" >&2
  exit 2
fi
mkdir -p $OUT
bash scripts/producer_bench.sh $OUT/producer
python scripts/experiments/step_variants.py --autocast --out $OUT/step_variants.json
python scripts/experiments/thread_scaling.py --task intensity --out $OUT/thread_scaling.json
if grep -q amx_bf16 /proc/cpuinfo; then
  export ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16  # oneDNN without AMX, for every process below
  mkdir -p $OUT/no_amx
  python scripts/experiments/step_variants.py --autocast --out $OUT/no_amx/step_variants.json
  python scripts/experiments/thread_scaling.py --task intensity --out $OUT/no_amx/thread_scaling.json
  for threads in 1 default; do
    flag=$([ $threads = 1 ] && echo "--threads 1")
    timeout 600 ditto-live bench --server --tasks intensity --jobs 5 $flag \
      --out-dir ${TMPDIR:-/tmp}/bf16_kit_$threads --json $OUT/no_amx/served_$threads.json \
      --markdown $OUT/no_amx/served_$threads.md > $OUT/no_amx/served_$threads.log 2>&1
  done
fi
git rev-parse HEAD > $OUT/kit_commit.txt
echo "raw files under $OUT; figures: python scripts/figures.py (add the tables to docs/bench.md)"
