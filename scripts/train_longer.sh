#!/usr/bin/env bash
# Issue 31: train the shipped default bundle longer on a CPU, resumable across sessions, checkpoints outside the
# package until a stage is done:
#   1. the base model continues from the shipped base's weights (--init) for BASE_STEPS more steps on whole windows,
#   2. the CTM and CM students are distilled anew from that base, for DISTILL_STEPS each,
#   3. the candidate bundle (new base and students, the shipped vocoder and text-audio model) is written to
#      OUT/bundle with its card, and exported in half precision to OUT/export.
# Nothing touches ditto_live/assets: adopt the candidate only if the quality judge says it is better on the
# untouched hold-out (docs/results.md), then `ditto-live train export --out OUT/bundle --to ditto_live/assets/default`.
# Run it again to resume: a finished stage is skipped, an unfinished one continues from its latest checkpoint.
# Every stage stops after BUDGET minutes with a resumable checkpoint (0 = no limit), so one session's share of the
# machine can be given at a time.
#
#   DATA=/root/ditto_live_data/corpus10 OUT=/root/ditto_live_data/longer BUDGET=60 nice -n 19 scripts/train_longer.sh
set -euo pipefail

DATA=${DATA:?the corpus folder (ditto-live data build --hours 10 --seed 0 --presets tiny)}
OUT=${OUT:?where the runs and the candidate bundle go (outside the package)}
SHIPPED=${SHIPPED:-ditto_live/assets/default}  # the bundle it continues from
BASE_STEPS=${BASE_STEPS:-3000}     # more base steps, on top of the shipped base's 4,000 + 2,142
BASE_LR=${BASE_LR:-1e-4}           # peak learning rate of the continuation (the shipped second phase ran 2e-4)
DISTILL_STEPS=${DISTILL_STEPS:-2000}  # CTM and CM steps each (the shipped students ran ~1,180)
THREADS=${THREADS:-1}              # torch CPU threads (1 leaves the other core to whatever else runs)
BUDGET=${BUDGET:-0}                # minutes per stage before a resumable stop (0 = no limit)
SEED=${SEED:-2}                    # seed of the continuation (the shipped stages ran 0 and 1)
PARALLEL=${PARALLEL:-0}            # 1: distil CTM and CM at once, one process each (logs in OUT/runs/KIND.log)

cd "$(dirname "$0")/.."
runs=$OUT/runs
mkdir -p "$runs"

finished() { [[ -f "$1/final/model.json" ]]; }
resume_of() { [[ -d "$1/latest" ]] && echo --resume; return 0; }

if ! finished "$runs/base"; then
  echo "== base: $BASE_STEPS steps from $SHIPPED/base"
  ditto-live train base --data "$DATA" --out "$runs/base" --init "$SHIPPED/base" --steps "$BASE_STEPS" \
    --batch 4 --lr "$BASE_LR" --crop-frames 0 --seed "$SEED" --threads "$THREADS" --ckpt-every 100 \
    --time-budget "$BUDGET" --no-progress $(resume_of "$runs/base")
  finished "$runs/base" || { echo "base stopped at its budget: run again to continue"; exit 3; }
fi

distill() {  # one student from the new base
  echo "== $1: $DISTILL_STEPS steps from the new base"
  ditto-live distill "$1" --teacher "$runs/base/final" --data "$DATA" --out "$runs/$1" \
    --steps "$DISTILL_STEPS" --batch 8 --lr 1e-4 --ema 0.99 --crop-frames 128 --seed "$SEED" \
    --threads "$THREADS" --ckpt-every 100 --time-budget "$BUDGET" --no-progress $(resume_of "$runs/$1")
}
pending=()
for kind in ctm cm; do finished "$runs/$kind" || pending+=("$kind"); done
if [[ "$PARALLEL" == 1 ]]; then  # one process per student, THREADS each
  for kind in "${pending[@]}"; do distill "$kind" > "$runs/$kind.log" 2>&1 & done
  wait
else
  for kind in "${pending[@]}"; do distill "$kind"; done
fi
for kind in ctm cm; do
  finished "$runs/$kind" || { echo "$kind stopped at its budget: run again to continue"; exit 3; }
done

echo "== the candidate bundle in $OUT/bundle"
mkdir -p "$OUT/bundle"
for part in vocoder clap; do
  [[ -d "$OUT/bundle/$part" ]] || cp -r "$SHIPPED/$part" "$OUT/bundle/$part"
done
for part in base ctm cm; do
  rm -rf "${OUT:?}/bundle/$part" && cp -r "$runs/$part/final" "$OUT/bundle/$part"
  rm -f "$OUT/bundle/$part/train_state.pt"
done
# every stage skipped: `train all` keeps the bundle's parts as they are and writes its card
ditto-live train all --data "$DATA" --out "$OUT/bundle" --skip base --skip vocoder --skip ctm --skip cm --skip clap
ditto-live train export --out "$OUT/bundle" --to "$OUT/export"
ditto-live models "$OUT/export"
