#!/usr/bin/env bash
# Reproduce the embedded default model bundle from nothing:
#   1. build the corpus from the packaged scores (music21 + FluidSynth),
#   2. train base -> vocoder -> CTM + CM students -> text-audio model (`ditto-live train all`),
#   3. copy the bundle, with half-precision weights, into the package (ditto_live/assets/default).
#
# Every setting is an environment variable; the defaults are the recipe of the shipped bundle on a
# CPU machine. On a GPU, set DEVICE=cuda and raise the step counts; NPROC=N trains on N GPUs (or N
# CPU processes) under torchrun, BATCH being the batch over all of them. Re-running resumes each stage
# from its last checkpoint (RESUME=1, the default) and skips a corpus that is already built.
# scripts/train_gpu.sh is the recipe for a lent GPU machine with no network.
#
#   scripts/train_all.sh                     # the default tiny bundle
#   DATA=~/my_corpus SKIP_DATA=1 DEST=~/my_bundle scripts/train_all.sh   # retrain on your own corpus
#   DEVICE=cuda NPROC=8 BATCH=64 CROP=0 BASE_STEPS=20000 scripts/train_all.sh  # one machine of 8 GPUs
set -euo pipefail

DATA=${DATA:-data/corpus}              # corpus folder (built here unless SKIP_DATA=1)
HOURS=${HOURS:-2}                      # hours of rendered audio in the corpus
OUT=${OUT:-runs/default}               # bundle folder with every run's checkpoints under runs/
DEST=${DEST:-ditto_live/assets/default}  # where the half-precision bundle goes
PRESET=${PRESET:-tiny}                 # model size preset: tiny (CPU) or paper (GPU)
DEVICE=${DEVICE:-auto}                 # cpu, cuda or auto
NPROC=${NPROC:-1}                      # training processes (GPUs); > 1 runs `train all` under torchrun
THREADS=${THREADS:-1}                  # torch CPU threads (1 is fastest on a busy 2-core machine)
SEED=${SEED:-0}                        # one seed for every stage
BASE_STEPS=${BASE_STEPS:-4000}         # base diffusion model steps (~1 h on 2 busy CPU cores)
BATCH=${BATCH:-4}                      # base batch size (windows per step)
LR=${LR:-4e-4}                         # base peak learning rate
CROP=${CROP:-256}                      # base: train on crops of this many frames (0 = whole 512-frame windows)
VOCODER_STEPS=${VOCODER_STEPS:-1500}   # vocoder steps
DISTILL_STEPS=${DISTILL_STEPS:-1500}   # CTM and CM steps each
CLAP_STEPS=${CLAP_STEPS:-1500}         # text-audio model steps
RESUME=${RESUME:-1}                    # 1: continue each stage from its latest checkpoint
SKIP_DATA=${SKIP_DATA:-0}              # 1: use DATA as it is

cd "$(dirname "$0")/.."

if [[ "$SKIP_DATA" != 1 && ! -f "$DATA/windows.jsonl" ]]; then
  echo "== building the corpus in $DATA ($HOURS h)"
  ditto-live data build --out "$DATA" --hours "$HOURS" --seed "$SEED" --presets "$PRESET"
fi

resume=()
[[ "$RESUME" == 1 ]] && resume=(--resume)

export PYTHONSAFEPATH=1  # torchrun's `-m`: the installed package, not the repository's ditto_live/ folder
train=(ditto-live)
[[ "$NPROC" -gt 1 ]] && train=(torchrun --standalone --nproc_per_node "$NPROC" -m ditto_live.cli)

echo "== training the bundle in $OUT"
"${train[@]}" train all --data "$DATA" --out "$OUT" --preset "$PRESET" --device "$DEVICE" --threads "$THREADS" \
  --seed "$SEED" --steps "$BASE_STEPS" --batch "$BATCH" --lr "$LR" --crop-frames "$CROP" \
  --vocoder-steps "$VOCODER_STEPS" --distill-steps "$DISTILL_STEPS" --clap-steps "$CLAP_STEPS" \
  --no-progress "${resume[@]}"

echo "== exporting half-precision weights to $DEST"
ditto-live train export --out "$OUT" --to "$DEST"
ditto-live models "$DEST"
