#!/usr/bin/env bash
# The GPU latency benchmark of issue 10 (docs/bench.md), for one H100/H200 machine with no network.
#
#   scripts/gpu_bench.sh fetch              HERE, with network: wheels the device image lacks into .whl/
#                                           (git-ignored via .git/info/exclude), listed by scripts/device_kit.py:
#                                           pyproject.toml's dependencies closed over their wheels' requirements,
#                                           less scripts/device_image_packages.txt (`--check .whl` checks a kit)
#   scripts/gpu_bench.sh all OUT            ON THE DEVICE (carry .whl): check + server + core, about 8 minutes
#   scripts/gpu_bench.sh server OUT         ON THE DEVICE: submit-to-done through `ditto-live serve` (issue 19)
#   scripts/gpu_bench.sh compiled OUT       ON THE DEVICE: the torch.compile backend, about 3 minutes
#   scripts/gpu_bench.sh check|core OUT     one phase
#   scripts/gpu_bench.sh session OUT        ON THE DEVICE (carry .whl .evaldata): Table 1 on the default bundle, then core
#
# check:    environment, then the CUDA-only backend tests (CUDA-graph and compiled steppers vs eager).
# core:     paper preset, bf16 weights + channels-last, intensity (K=70) and melody (K=150), DITTO-2 CTM
#           M=1 T=2 at B=1 and B=4 with the eager and cudagraph backends, then the DITTO baseline (B=1,
#           cudagraph backend, one cold run) for the speed-up in the same run.
# compiled: DITTO-2 CTM with torch.compile + CUDA graph (the Inductor compile is the cold start).
# Smoke test without a GPU (the flow, not the numbers; a CPU refuses the CUDA graph, so eager only):
#   DEVICE=cpu PRESET=tiny BACKENDS=eager EXTRA="--frames 32 --steps 1 --threads 1" scripts/gpu_bench.sh core /tmp/out
#   MODEL=default SERVER_JOBS=1 scripts/gpu_bench.sh server /tmp/out
# Every phase runs under `timeout`; the bench rewrites its JSON after each configuration, so a phase cut
# short still leaves every configuration it finished. Nothing is installed from the network on the device.
set -uo pipefail

phase=${1:-all}
out=${2:-${OUT:-gpu_bench_out}}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [ "$phase" = fetch ]; then
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
    rm -rf .whl && mkdir -p .whl
    # the project's run-time requirements, closed, less what the device image has (scripts/device_kit.py)
    python3 scripts/device_kit.py .whl || exit 1
    ls -la .whl
    exit 0
fi

mkdir -p "$out"
export PYTHONUNBUFFERED=1
# Python runs with -P (the repository root is not put on sys.path: its ditto_live/ folder is not the installed
# package, whose engine/ lives beside it) and imports the project installed into /tmp/site.
if ! python3 -P -c 'import ditto_live.bench.stages' 2>/dev/null; then
    deps=$(ls .whl/*.whl 2>/dev/null | grep -v '/ditto_live-')
    [ -n "$deps" ] && { python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site $deps || exit 1; }
    python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --no-cache-dir --upgrade \
        --target /tmp/site . 2>"$out/install.txt" \
        || python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site .whl/ditto_live-*.whl \
        || exit 1
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export NUMBA_CACHE_DIR=/tmp/numba_cache
# shellcheck disable=SC2206  # EXTRA is split on purpose
bench=(python3 -P -m ditto_live.cli bench --preset "${PRESET:-paper}" --device "${DEVICE:-cuda}" ${EXTRA:-})

environment() {  # the card, driver, torch and machine, into OUT/env.txt
    {
        nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
        python3 -P -c 'import torch, ditto_live.bench.stages as b; print("torch", torch.__version__, torch.version.cuda,
torch.cuda.get_device_name(0)); print(b.machine_info("cuda"))'
    } 2>&1 | tee "$out/env.txt"
}

# versus_ditto NAME SECONDS BACKENDS BASELINE_BACKENDS [PRECISION]: DITTO-2 CTM (M=1, T=2) on intensity (K=70)
# and melody (K=150) at B = 1 and 4 with each backend, then the DITTO baseline (cold run only) for the speed-up;
# OUT/gpu_NAME.json and .md, the log in OUT/NAME.txt. PRECISION: --bf16 (the default) or "" for fp32.
versus_ditto() {
    local name=$1 seconds=$2 backends=$3 baseline=$4 precision=${5---bf16}
    # shellcheck disable=SC2086  # an empty PRECISION adds no argument
    timeout "$seconds" "${bench[@]}" $precision --tasks intensity,melody --methods ditto2-ctm,ditto \
        --settings M1T2 --backend "$backends" --baseline-backend "$baseline" --seeds 1,4 --repeats 2 \
        --baseline-repeats "${BASELINE_REPEATS:-1}" --out-dir /tmp/bench_wav --json "$out/gpu_$name.json" --markdown "$out/gpu_$name.md" \
        > "$out/$name.txt" 2>&1
    tail -n 30 "$out/$name.txt"
}

check() {
    environment
    timeout 120 python3 -P -m pytest -q -p no:cacheprovider --import-mode=importlib -m 'not slow' \
        tests/engine/test_backends.py \
        -k 'cuda or exported or accumulate' 2>&1 | tee "$out/check.txt"
}

core() { versus_ditto core 330 "${BACKENDS:-eager,cudagraph}" "${BACKENDS:-cudagraph,eager}"; }  # BACKENDS: both lists

compiled() {
    timeout 200 "${bench[@]}" --bf16 --tasks intensity,melody --methods ditto2-ctm --settings M1T2 --backend compiled \
        --seeds 1 --repeats 3 --out-dir /tmp/bench_wav \
        --json "$out/gpu_compiled.json" --markdown "$out/gpu_compiled.md" 2>&1 | tee "$out/compiled.txt"
}

# server: what users wait for on the GPU (issue 19): a fresh `ditto-live serve` (paper preset with random weights,
# [engine] backend auto = the CUDA graph; numba cache emptied), jobs over OSC on the device's loopback, the first
# job and warm p50/p95/max per task (OUT/gpu_server.json, .md); then a second start, caches kept, for its ready time.
server() {
    rm -rf /tmp/numba_server  # the first start compiles the measurement code into it, the second finds it there
    local srv=(env NUMBA_CACHE_DIR=/tmp/numba_server python3 -P -m ditto_live.cli bench --server --keep-numba-cache
               --model "${MODEL:-paper-untrained}" --backend auto --out-dir /tmp/bench_server)
    timeout "${SERVER_TIMEOUT:-240}" "${srv[@]}" --tasks intensity,melody --jobs "${SERVER_JOBS:-5}" \
        --json "$out/gpu_server.json" --markdown "$out/gpu_server.md" > "$out/server.txt" 2>&1
    timeout 120 "${srv[@]}" --tasks intensity --jobs 1 --json "$out/gpu_server_second.json" \
        --markdown "$out/gpu_server_second.md" > "$out/server_second.txt" 2>&1
    tail -n 20 "$out/server.txt" "$out/server_second.txt"
}

# eval: the paper's Table 1 on the shipped default bundle at the default K, on the GPU, from a carried subset of
# the corpus's test split (.evaldata: 80 windows, made by scripts/make_evaldata.py, with its caption embeddings,
# since the sentence encoder's 88 MB package does not travel). Three processes share the GPU (the tiny model is
# launch-bound), all under one deadline: DITTO vs DITTO-2 on intensity (8 cases); DITTO-2 on the other tasks
# (8 cases), then the other suites without DITTO's optimisation; DITTO on the other tasks (2 cases each).
# Each process compares its methods under the same sharing.
evalsuite() {
    local data=${EVAL_DATA:-.evaldata} end=$((SECONDS + ${EVAL_TIMEOUT:-240}))
    [ -d "$data" ] || { echo "eval: no $data (scripts/make_evaldata.py)"; return 1; }
    export DITTO_LIVE_TEXT_EMBEDDINGS=$data/captions.npz
    local ev=(python3 -P -m ditto_live.cli eval --suite table1 --model default --data "$data" --device "${DEVICE:-cuda}"
              --threads 2 --save-audio 0 ${EVAL_EXTRA:-})
    before_deadline() { local left=$((end - SECONDS)); [ "$left" -gt 5 ] && timeout "$left" "$@"; }
    before_deadline "${ev[@]}" --tasks intensity --cases 8 --out "$out/eval/intensity" > "$out/eval_intensity.txt" 2>&1 &
    { before_deadline "${ev[@]}" --tasks melody,structure,outpaint,inpaint --cases 8 --skip-ditto --out "$out/eval/ditto2"
      local suite; for suite in table2 fig5 text; do
          before_deadline "${ev[@]/table1/$suite}" --cases 8 --skip-ditto --out "$out/eval/$suite"; done
    } > "$out/eval_ditto2.txt" 2>&1 &
    { local task; for task in melody structure outpaint inpaint; do
          before_deadline "${ev[@]}" --tasks "$task" --cases 2 --out "$out/eval/ditto_$task"; done
    } > "$out/eval_ditto.txt" 2>&1 &
    wait
    tail -n 2 "$out"/eval_*.txt
}

# session: what one lent GPU session runs (issue 6/11's Table 1 on the GPU, then issue 10's core benchmark
# without the pytest phase); everything lands in OUT/session.tgz after each phase (the device returns 8 files).
session() {
    local final=$out; out=/tmp/gpu_session; mkdir -p "$out"
    pack() { tar -C "$out" --exclude=references -czf "$final/session.tgz" . 2>/dev/null; }
    environment; pack
    evalsuite; pack
    versus_ditto core "${CORE_TIMEOUT:-170}" cudagraph,eager cudagraph; pack
}

# diag: where an eager ITO step spends its time (scripts/gpu_profile.py), then the core bench in fp32 (whose
# parity tolerance is 1 %) with the CUDA-graph backend.
diag() {
    timeout 100 python3 -P scripts/gpu_profile.py > "$out/profile.txt" 2>&1; tail -n 60 "$out/profile.txt"
    versus_ditto fp32 150 cudagraph cudagraph ""
}

# graph: the CUDA-graph backend alone (bf16), DITTO-2 and the DITTO baseline, for a lease with little time left.
graph() { versus_ditto graph "${CORE_TIMEOUT:-170}" cudagraph cudagraph; }

case "$phase" in
    graph) graph ;;
    server) server ;;
    diag) diag ;;
    check) check ;;
    core) core ;;
    compiled) compiled ;;
    eval) evalsuite ;;
    session) session ;;
    all) check; server; core ;;
    *) echo "usage: $0 fetch | check|server|core|compiled|eval|session|all OUT" >&2; exit 2 ;;
esac
