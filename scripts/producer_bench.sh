#!/bin/bash
# The producer's bench (issue 27): an idle server pinned to one thread (the baseline the co-loaded figure is
# compared with), then served submit->done at the server's defaults, a fresh server per task, idle and beside
# one busy core. The pinned pass runs first, next to the default's idle pass: a shared machine's speed drifts
# by 10-20 % over minutes (docs/bench.md), and the idle two-thread / one-thread ratio compares those two.
set -u
cd "$(dirname "$0")/.."
OUT=${1:-docs/results/cpu_xeon/producer}  # where the raw files go
mkdir -p $OUT
lscpu > $OUT/lscpu.txt
git rev-parse HEAD > $OUT/commit.txt
timeout 600 ditto-live bench --server --tasks intensity,melody,structure --jobs 5 --threads 1 \
  --out-dir ${TMPDIR:-/tmp}/producer_bench_1thread --json $OUT/served_1thread.json --markdown $OUT/served_1thread.md > $OUT/served_1thread.log 2>&1
echo "1thread exit $?" >> $OUT/served_1thread.log
timeout 1500 ditto-live bench --server --tasks intensity,melody,structure --jobs 5 --co-load 1 \
  --out-dir ${TMPDIR:-/tmp}/producer_bench --json $OUT/served_coload.json --markdown $OUT/served_coload.md > $OUT/served_coload.log 2>&1
echo "coload exit $?" >> $OUT/served_coload.log
