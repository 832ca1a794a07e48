#!/usr/bin/env bash
# examples/lfw_study.sh — Softmax, NSL, LMCL and ArcFace on Labeled Faces in the Wild, by LFW's
# own protocols (docs/lfw.md): one network, one budget, every loss.
#
#   View 1 (development: every choice of this script was made on it): train on
#     peopleDevTrain.txt (4,038 people), verify on pairsDevTest.txt (500 + 500 pairs of 1,711
#     other people, dealt into 10 folds); every loss, every seed of SEEDS.
#   View 2 (reporting, never tuned on): for each fold k of pairs.txt a model trained on the
#     people of the other nine folds (people.txt) scores fold k, its threshold chosen on the
#     other nine folds ("unrestricted, no outside data"); the losses of VIEW2_LOSSES, seed 0.
#
#   bash examples/lfw_study.sh              # from the repository root; builds what it needs
#
# Environment: LFW (default ../shared/data/lfw), OUT (runs/lfw), BUILD (build), THREADS (2),
# ARCH (small; mbf: MobileFaceNet), EPOCHS (20), CROP_PAD (4) and COLOR_JITTER (0.2): train_faces'
# --crop-pad and --color-jitter augmentations, PRECISION (fp32; bf16: train_faces --precision),
# SEEDS ("0 1 2"), LOSSES ("softmax nsl lmcl arcface"), VIEW2_LOSSES ("softmax lmcl"), VIEWS
# ("1 2"). A run whose model.bin exists is not trained again, so an interrupted study continues
# where it stopped. Writes $OUT/view1.md and $OUT/view2.md (a report per model and the tables)
# and $OUT/view1-roc.png, $OUT/view2-roc.png. Time on 2 cores: about 7.5 min a run, 90 min
# for View 1 and 2.5 hours for View 2; EPOCHS=10 CROP_PAD=0 COLOR_JITTER=0 (the 10-epoch
# budget, flips only) takes 40 min for View 1; PRECISION=bf16 took a run from 6m47s to 5m08s
# on AMX (docs/lfw.md has the figures).
set -euo pipefail
cd "$(dirname "$0")/.."
LFW=${LFW:-../shared/data/lfw}
OUT=${OUT:-runs/lfw}
BUILD=${BUILD:-build}
THREADS=${THREADS:-2}
SEEDS=${SEEDS:-0 1 2}
LOSSES=${LOSSES:-softmax nsl lmcl arcface}
VIEW2_LOSSES=${VIEW2_LOSSES:-softmax lmcl}
VIEWS=${VIEWS:-1 2}

if [ ! -f "$LFW/pairs.txt" ] || [ ! -d "$LFW/images" ]; then
  echo "lfw_study: $LFW has no images/ and pairs.txt (the shared data folder; set LFW=...)" >&2
  exit 1
fi
if [ ! -x "$BUILD/train_faces" ] || [ ! -x "$BUILD/eval_pairs" ]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release > /dev/null
  cmake --build "$BUILD" -j"$THREADS" --target train_faces eval_pairs
fi

# The network and budget, chosen on View 1 (docs/lfw.md): RGB, the central 128x112 of the
# 250x250 frame resized to 64x56, a 3-stage CNN (32, 64, 128), d = 128, EPOCHS epochs of batch 64
# (SGD 0.1, momentum 0.9, weight decay 5e-4, one epoch of warm-up, cosine), random flips, random
# crops after CROP_PAD pixels of padding and colour jitter of ± COLOR_JITTER.
EPOCHS=${EPOCHS:-20}
CROP_PAD=${CROP_PAD:-4}
COLOR_JITTER=${COLOR_JITTER:-0.2}
PRECISION=${PRECISION:-fp32}
ARCH=${ARCH:-small}
COMMON=(--data "$LFW/images" --channels 3 --crop 128x112 --input 64x56 --arch "$ARCH"
        --emb-dim 128 --epochs "$EPOCHS" --batch 64 --lr 0.1 --threads "$THREADS"
        --crop-pad "$CROP_PAD" --color-jitter "$COLOR_JITTER" --precision "$PRECISION")
if [ "$ARCH" = small ]; then COMMON+=(--widths 32,64,128); fi
# Each loss's s and m (the losses' own defaults where the flag is absent).
loss_flags() {
  case "$1" in
    softmax) echo "--loss softmax" ;;
    nsl) echo "--loss nsl --s 30" ;;
    lmcl) echo "--loss lmcl --s 30 --m 0.35" ;;
    arcface) echo "--loss arcface --s 30 --m 0.5" ;;
    *) echo "lfw_study: unknown loss $1" >&2; exit 1 ;;
  esac
}
label_of() {
  case "$1" in softmax) echo Softmax ;; nsl) echo NSL ;; lmcl) echo LMCL ;; arcface) echo ArcFace ;; esac
}
train() {  # out-dir, then train_faces flags
  local dir=$1; shift
  if [ -f "$dir/model.bin" ]; then echo "== $dir: done already" >&2; return; fi
  echo "== $dir" >&2
  local start=$(date +%s)
  "$BUILD/train_faces" "${COMMON[@]}" --out "$dir" "$@" | grep '^train_faces' || return 1
  echo "$(( $(date +%s) - start ))" > "$dir/seconds"
}
join() { local IFS=,; echo "$*"; }
minutes() { awk -v s="$1" 'BEGIN { printf "%dm%02ds", s / 60, s % 60 }'; }

if [[ " $VIEWS " == *" 1 "* ]]; then
  models=() labels=() roc_models=() roc_labels=() total=0
  for loss in $LOSSES; do
    labels+=("$(label_of "$loss")")
    for seed in $SEEDS; do
      dir="$OUT/view1/$loss-seed$seed"
      # shellcheck disable=SC2046
      train "$dir" --people "$LFW/peopleDevTrain.txt" --pairs "$LFW/pairsDevTest.txt" --seed "$seed" $(loss_flags "$loss")
      models+=("$dir")
      total=$(( total + $(cat "$dir/seconds") ))
    done
    roc_models+=("$OUT/view1/$loss-seed${SEEDS%% *}")
    roc_labels+=("$(label_of "$loss")")
  done
  runs=$(( ${#models[@]} / ${#labels[@]} ))
  "$BUILD/eval_pairs" --model "$(join "${models[@]}")" --labels "$(join "${labels[@]}")" --runs-per-row "$runs" \
    --pairs "$LFW/pairsDevTest.txt" --data "$LFW/images" --threads "$THREADS" --report "$OUT/view1.md" > /dev/null
  "$BUILD/eval_pairs" --model "$(join "${roc_models[@]}")" --labels "$(join "${roc_labels[@]}")" \
    --pairs "$LFW/pairsDevTest.txt" --data "$LFW/images" --threads "$THREADS" --roc "$OUT/view1-roc.png" > /dev/null
  echo "View 1 (pairsDevTest.txt), mean ± std over seeds $SEEDS; training took $(minutes $total) in all:"
  sed -n '/^| model/,$p' "$OUT/view1.md"
fi

if [[ " $VIEWS " == *" 2 "* ]]; then
  models=() labels=() total=0
  for loss in $VIEW2_LOSSES; do
    labels+=("$(label_of "$loss")")
    for fold in 1 2 3 4 5 6 7 8 9 10; do
      dir="$OUT/view2/$loss-fold$fold"
      # shellcheck disable=SC2046
      train "$dir" --people "$LFW/people.txt" --fold "$fold" --pairs "$LFW/pairs.txt" --seed 0 $(loss_flags "$loss")
      models+=("$dir")
      total=$(( total + $(cat "$dir/seconds") ))
    done
  done
  "$BUILD/eval_pairs" --per-fold --model "$(join "${models[@]}")" --labels "$(join "${labels[@]}")" \
    --pairs "$LFW/pairs.txt" --data "$LFW/images" --threads "$THREADS" --report "$OUT/view2.md" \
    --roc "$OUT/view2-roc.png" > /dev/null
  echo "View 2 (pairs.txt, one model per fold); training took $(minutes $total) in all:"
  sed -n '/^| model/,$p' "$OUT/view2.md"
fi
