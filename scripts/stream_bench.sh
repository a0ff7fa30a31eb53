#!/usr/bin/env bash
# The live stream on this machine, idle and beside a busy core (issue 27: a performer's machine runs Live):
# `ditto-live bench --stream --co-load 1` into JACK's dummy driver (no sound card needed), started here
# under a private name and stopped after. Usage: scripts/stream_bench.sh OUT_DIR [WINDOWS]
# (a machine with a sound card can run `ditto-live bench --stream` on its own output instead).
set -euo pipefail
out=${1:?usage: scripts/stream_bench.sh OUT_DIR [WINDOWS]}
windows=${2:-8}
mkdir -p "$out"
command -v jackd >/dev/null || { echo "jackd is missing: bash scripts/install_system_deps.sh" >&2; exit 2; }
name="ditto-bench-$$"
export JACK_DEFAULT_SERVER=$name JACK_NO_AUDIO_RESERVATION=1
jackd -n "$name" --no-realtime -d dummy -r 48000 -p 1024 >"$out/jackd.log" 2>&1 &
jack=$!
trap 'kill $jack 2>/dev/null; wait $jack 2>/dev/null || true' EXIT
jack_wait -s "$name" -w -t 15 >/dev/null
git rev-parse HEAD >"$out/commit.txt"
lscpu >"$out/lscpu.txt"
ditto-live bench --stream --windows "$windows" --co-load 1 --out-dir "${TMPDIR:-/tmp}/stream_bench" \
    --json "$out/stream.json" --markdown "$out/stream.md" 2>&1 | tee "$out/stream.log"
echo "jackd logged $(grep -c XRun "$out/jackd.log" || true) xrun lines" | tee -a "$out/stream.log"
