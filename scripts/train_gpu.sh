#!/usr/bin/env bash
# Retrain the default bundle on one GPU machine with no network (issue 20): render the corpus there from
# what the carried packages ship, train base -> vocoder -> CTM + CM with the time the machine is lent,
# and return the half-precision bundle (split into parts of at most 15 MiB) with the training log.
#
#   scripts/train_gpu.sh fetch              HERE, with network: what the device image lacks, into .gpu_train/
#                                           (git-ignored via .git/info/exclude; about 25 MB, see below)
#   scripts/train_gpu.sh all OUT            ON THE DEVICE (carry .gpu_train): install, corpus, train, export,
#                                           pack into OUT; about TOTAL_S seconds (default 540) in all
#   scripts/train_gpu.sh unpack FILES DEST  HERE: reassemble the returned parts into the bundle folder DEST
#
# The device tool's run (one command, timeout_s 600), e.g.:
#   run(command="scripts/train_gpu.sh all $OUT", carry=[".gpu_train"], timeout_s=600)
#   then: scripts/train_gpu.sh unpack <files_at> runs/gpu_bundle
#
# What travels: the working tree (~27 MB, the shipped bundle included) + .gpu_train: the wheels the image
# lacks, listed by scripts/device_kit.py (pyproject.toml's dependencies and the data extra, closed over
# their wheels' requirements, less scripts/device_image_packages.txt; `--check .gpu_train` checks a kit),
# music21 installed with only the corpus folders the build reads (bach, essen, o'neill, palestrina,
# ryans: 8 MB instead of a 20 MB wheel), and libfluidsynth.so.3 with every library it loads from this
# machine's Debian packages; on the device only those its system lacks are kept. Under 64 MiB in all.
#
# Timeline of `all` (TOTAL_S from the start; each stage lays its LR schedule out over the steps that
# fit its share, `--fit-minutes`, with `--time-budget` as a hard stop):
#   install ~20 s | corpus: HOURS of audio, one render process per core, at most CORPUS_MINUTES |
#   base 50 % (from INIT, the shipped base, unless INIT=none) | vocoder 14 % | ctm 18 % | cm 18 % |
#   bundle + card + fp16 export. A stage in KEEP is not trained and its share goes to the others: by
#   default the shipped text model (the embedding the Frechet distance is measured in, so old and new
#   bundles are judged alike) and the shipped vocoder (it already keeps the pitch about as well as
#   Griffin-Lim, docs/training.md, and ~30 s of GPU would not beat its 30 CPU minutes).
# NPROC > 1 runs every stage under torchrun (one process per GPU).
#
# Smoke test without a GPU (the flow, not the numbers):
#   DEVICE=cpu HOURS=0.02 TOTAL_S=150 BASE_BATCH=2 VOCODER_BATCH=4 DISTILL_BATCH=2 CROP=64 INIT=none \
#     scripts/train_gpu.sh all /tmp/gpu_smoke
set -uo pipefail

phase=${1:-all}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

DEVICE=${DEVICE:-cuda}              # cuda or cpu (smoke test)
NPROC=${NPROC:-1}                   # processes (GPUs) per stage; > 1 runs under torchrun
TOTAL_S=${TOTAL_S:-540}             # seconds from the start to the packed result
HOURS=${HOURS:-10}                  # hours of corpus to render (the reference corpus: 10, seed 0)
CORPUS_MINUTES=${CORPUS_MINUTES:-2.5}  # the corpus build stops taking works after this
SEED=${SEED:-0}                     # corpus and training seed
INIT=${INIT:-ditto_live/assets/default/base}  # base checkpoint to continue from, or none (from scratch)
BASE_BATCH=${BASE_BATCH:-64}        # windows per base step (whole 512-frame windows unless CROP)
BASE_LR=${BASE_LR:-3e-4}            # base peak learning rate
CROP=${CROP:-0}                     # base and students: crops of this many frames (0 = whole windows)
VOCODER_BATCH=${VOCODER_BATCH:-64}  # 64-frame crops per vocoder step
DISTILL_BATCH=${DISTILL_BATCH:-32}  # windows per CTM / CM step
SHIPPED=${SHIPPED:-ditto_live/assets/default}  # the shipped bundle (INIT's default, and what KEEP takes)
KEEP=${KEEP:-clap vocoder}          # components taken from SHIPPED as they are, not trained ("clap": train the vocoder too)
PART_MB=${PART_MB:-15}              # size of the returned parts
KIT=.gpu_train                      # what `fetch` prepares and the device run carries

export PYTHONUNBUFFERED=1 PYTHONSAFEPATH=1  # -P everywhere: the repository's ditto_live/ is not the package
export NUMBA_CACHE_DIR=/tmp/numba_cache

# ---------------------------------------------------------------------------------------------
fetch() {
    grep -qx "/$KIT/" .git/info/exclude 2>/dev/null || { mkdir -p .git/info; echo "/$KIT/" >> .git/info/exclude; }
    rm -rf "$KIT" && mkdir -p "$KIT/wheels"
    # the project's run-time requirements with the data extra, closed, less what the image has
    python3 scripts/device_kit.py "$KIT/wheels" --extra data || exit 1
    # music21 with the corpus folders the build reads (ditto_live/data/sources.py), pure Python
    local m21=/tmp/train_gpu_music21
    rm -rf "$m21" && python3 -m pip install -q --no-deps --no-compile --target "$m21" "$KIT"/wheels/music21-*.whl \
        || exit 1
    rm "$KIT"/wheels/music21-*.whl
    for d in "$m21"/music21/corpus/*/; do
        case $(basename "$d") in bach|essenFolksong|oneills1850|palestrina|ryansMammoth) ;; *) rm -rf "$d" ;; esac
    done
    tar -cJf "$KIT/music21-site.tar.xz" -C "$m21" music21 $(cd "$m21" && ls -d music21-*.dist-info)
    # libfluidsynth.so.3 and what it loads, less the C/C++ runtime the device brings
    ldconfig -p | grep -q libfluidsynth.so.3 || { apt-get install -y -q libfluidsynth3 >/dev/null || exit 1; }
    local lib libs=/tmp/train_gpu_fluidsynth/fluidsynth
    lib=$(ldconfig -p | awk '/libfluidsynth.so.3 .*x86-64/ {print $NF; exit}')
    rm -rf "$libs" && mkdir -p "$libs"
    for f in "$lib" $(ldd "$lib" | awk '$3 ~ /^\// {print $3}'); do
        case $(basename "$f") in libc.so*|libm.so*|libpthread*|libdl.so*|librt.so*|ld-linux*|libgcc_s*|libstdc++*) ;;
            *) cp -L "$f" "$libs/$(basename "$f")" ;;
        esac
    done
    tar -cJf "$KIT/fluidsynth-libs.tar.xz" -C "$(dirname "$libs")" fluidsynth
    python3 scripts/device_kit.py --check "$KIT" --extra data || exit 1  # music21 now in its tar
    du -sh "$KIT" "$KIT"/* && git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | sed 's/total/bytes tracked/'
}

# ---------------------------------------------------------------------------------------------
install() {  # on the device: the carried kit into /tmp/site, the project itself, libfluidsynth
    if ! python3 -c 'import ditto_live.data.build, music21, pretty_midi, librosa' 2>/dev/null; then
        [ -d "$KIT/wheels" ] || { echo "no $KIT: run 'scripts/train_gpu.sh fetch' here and carry $KIT"; exit 1; }
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
            "$KIT"/wheels/*.whl || exit 1
        tar -xJf "$KIT/music21-site.tar.xz" -C /tmp/site || exit 1
        python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --no-cache-dir --upgrade \
            --target /tmp/site . || exit 1
        export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
    fi
    if ! ldconfig -p | grep -q libfluidsynth.so.3; then
        local dir=/opt/ditto-fluidsynth f
        rm -rf "$dir" && mkdir -p "$dir" && tar -xJf "$KIT/fluidsynth-libs.tar.xz" -C "$dir" --strip-components=1
        for f in "$dir"/*; do  # keep only what the system lacks, so nothing of the system is shadowed
            ldconfig -p | grep -q "^[[:space:]]*$(basename "$f") " && rm -f "$f"
        done
        echo "$dir" > /etc/ld.so.conf.d/ditto-fluidsynth.conf && ldconfig
        echo "libfluidsynth from the kit, with: $(ls "$dir" | tr '\n' ' ')"
    fi
    python3 -c 'import fluidsynth, pretty_midi, ditto_live.engine; print("fluidsynth", fluidsynth.api_version)' \
        || exit 1
}

left() { echo $(( DEADLINE - $(date +%s) )); }                    # seconds left before the deadline
minutes() { awk -v s="$1" 'BEGIN { m = s / 60; if (m < 0.2) m = 0.2; printf "%.2f", m }'; }

cli() {  # one ditto-live command, under torchrun when NPROC > 1
    if [ "$NPROC" -gt 1 ]; then
        python3 -m torch.distributed.run --standalone --nproc_per_node "$NPROC" -m ditto_live.cli "$@"
    else
        python3 -m ditto_live.cli "$@"
    fi
}

kept() { [[ " $KEEP " == *" $1 "* ]]; }  # kept NAME: true when the bundle takes NAME from SHIPPED

stage() {  # stage NAME SHARE RUN ARGS...: a training command given SHARE of the seconds left for training
    local name=$1 share=$2 run=$3 budget fit cap
    shift 3
    if kept "$name"; then
        REST=$(awk -v r="$REST" -v s="$share" 'BEGIN { print r - s }')
        echo "== $name: kept from $SHIPPED"; return 0
    fi
    budget=$(awk -v l="$(( $(left) - 45 ))" -v s="$share" -v r="$REST" 'BEGIN { printf "%d", l * s / r - 20 }')
    REST=$(awk -v r="$REST" -v s="$share" 'BEGIN { print r - s }')
    fit=$(minutes "$budget"); cap=$(minutes $(( budget + budget / 4 + 15 )))
    echo "== $name: $fit min (hard stop $cap min); $(left) s left"
    cli "$@" --out "$run" --device "$DEVICE" --seed "$SEED" --fit-minutes "$fit" --time-budget "$cap" \
        --no-progress || { echo "== $name failed"; exit 1; }
    if [ ! -d "$run/final" ] && [ -d "$run/latest" ]; then  # stopped by the hard stop: ship its last checkpoint
        echo "== $name: stopped before the end of its schedule; the bundle takes $run/latest"
        cp -r "$run/latest" "$run/final"
    fi
}

all() {
    local out=${1:-${OUT:-gpu_train_out}} work=/tmp/ditto_gpu_train
    mkdir -p "$out"
    DEADLINE=$(( $(date +%s) + TOTAL_S ))
    exec > >(tee -a "$out/train_gpu.log") 2>&1
    echo "== $(date -u) train_gpu.sh all: DEVICE=$DEVICE NPROC=$NPROC TOTAL_S=$TOTAL_S HOURS=$HOURS INIT=$INIT"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null
    echo "cores: $(nproc)"
    install
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available())'
    local corpus=$work/corpus bundle=$work/bundle runs=$work/bundle/runs init=()
    rm -rf "$work" && mkdir -p "$runs"
    [ "$INIT" != none ] && init=(--init "$INIT")

    echo "== corpus: $HOURS h, at most $CORPUS_MINUTES min; $(left) s left"
    python3 -m ditto_live.cli data build --out "$corpus" --hours "$HOURS" --seed "$SEED" --presets tiny \
        --max-minutes "$CORPUS_MINUTES" --no-progress || { echo "== corpus failed"; exit 1; }
    sed -n '1,20p' "$corpus/card.md"

    REST=1.0
    stage base 0.50 "$runs/base" train base --data "$corpus" --steps 200000 --batch "$BASE_BATCH" \
        --lr "$BASE_LR" --crop-frames "$CROP" --ckpt-every 2000 "${init[@]}"
    stage vocoder 0.14 "$runs/vocoder" train vocoder --data "$corpus" --steps 200000 --batch "$VOCODER_BATCH" \
        --ckpt-every 5000
    stage ctm 0.18 "$runs/ctm" distill ctm --teacher "$runs/base/final" --data "$corpus" --steps 200000 \
        --batch "$DISTILL_BATCH" --crop-frames "$CROP" --ckpt-every 5000
    stage cm 0.18 "$runs/cm" distill cm --teacher "$runs/base/final" --data "$corpus" --steps 200000 \
        --batch "$DISTILL_BATCH" --crop-frames "$CROP" --ckpt-every 5000

    echo "== bundle, card, fp16 export; $(left) s left"
    local name
    for name in $KEEP; do cp -r "$SHIPPED/$name" "$bundle/$name" || exit 1; done
    python3 -m ditto_live.cli train all --data "$corpus" --out "$bundle" --skip base --skip vocoder --skip ctm \
        --skip cm --skip clap || exit 1
    python3 -m ditto_live.cli train export --out "$bundle" --to "$work/export" || exit 1
    cp "$corpus/card.md" "$work/export/corpus_card.md"
    python3 -m ditto_live.cli models "$work/export"
    tar -cf - -C "$work/export" . | split -b "${PART_MB}m" -d - "$out/bundle.tar.part-"
    cp "$work/export/card.md" "$out/card.md"
    ls -la "$out"
    echo "== done $(date -u); $(left) s left"
}

unpack() {  # unpack FILES DEST: the returned parts -> the bundle folder
    local files=${1:?unpack FILES DEST} dest=${2:?unpack FILES DEST}
    mkdir -p "$dest" && cat "$files"/bundle.tar.part-* | tar -xf - -C "$dest" && ls -la "$dest"
}

case "$phase" in
    fetch) fetch ;;
    all) all "${2:-}" ;;
    unpack) unpack "${2:-}" "${3:-}" ;;
    *) echo "usage: scripts/train_gpu.sh fetch | all OUT | unpack FILES DEST"; exit 2 ;;
esac
