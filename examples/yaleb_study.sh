#!/usr/bin/env bash
# examples/yaleb_study.sh — Softmax vs NSL vs LMCL on the Extended Yale Face Database B (cropped):
# the same network, data, schedule and budget for each loss; train on 28 identities, verify on
# the 10 held out (LFW protocol: 6000 pairs in 10 folds, the threshold of each fold chosen on
# the other nine). Writes $OUT/study.md (one report per model and a table) and $OUT/roc.png.
#
#   bash examples/yaleb_study.sh            # from the repository root; builds what it needs
#
# Environment: DATA (default ../shared/data/yaleb-cropped), OUT (runs/yaleb), BUILD (build),
# THREADS (2), SEEDS (training seeds, default "0 1 2"; the split is fixed by --split-seed 0),
# PRECISION (fp32, or bf16: the backbone's products on bfloat16 operands, core/precision.h),
# LOSSES (the labels to run, default all: e.g. "Softmax LMCL-s16"), CONV_ALGORITHM (auto,
# direct or winograd: train_faces --conv-algorithm, how bf16 3x3 convolutions run; default auto).
# About 10 minutes on 2 quiet cores (~50 s a run), under 25 with another job on them.
# docs/experiments.md (the Yale-B study) has the measured table and what it shows.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/yaleb-cropped}
OUT=${OUT:-runs/yaleb}
BUILD=${BUILD:-build}
THREADS=${THREADS:-2}
SEEDS=${SEEDS:-0 1 2}
PRECISION=${PRECISION:-fp32}
LOSSES=${LOSSES:-}
CONV_ALGORITHM=${CONV_ALGORITHM:-auto}

if [ ! -d "$DATA" ]; then
  echo "yaleb_study: $DATA is absent (the shared data folder; set DATA=...)" >&2
  exit 1
fi
if [ ! -x "$BUILD/train_faces" ] || [ ! -x "$BUILD/eval_pairs" ]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release > /dev/null
  cmake --build "$BUILD" -j"$THREADS" --target train_faces eval_pairs
fi

# One network and budget for all: a 4-stage CNN on 64x56 grey faces, d = 128, 20 epochs of
# batch 64 (SGD 0.1, momentum 0.9, weight decay 5e-4, warm-up + cosine), random flips.
COMMON=(--data "$DATA" --held-out 10 --split-seed 0 --arch small --input 64x56 --channels 1
        --widths 16,32,64,128 --emb-dim 128 --epochs 20 --batch 64 --lr 0.1 --threads "$THREADS"
        --precision "$PRECISION" --conv-algorithm "$CONV_ALGORITHM")
# label:loss:s:m — NSL and LMCL at s = 16 (the main comparison, m = 0.35 as in the paper) for
# every seed; again at s = 30 (what train_fmnist uses) for the first seed only: with 28
# classes the scale matters (docs/experiments.md).
RUNS=(Softmax:softmax:1:0 NSL-s16:nsl:16:0 LMCL-s16:lmcl:16:0.35)
FIRST_SEED_ONLY=(NSL-s30:nsl:30:0 LMCL-s30:lmcl:30:0.35)

start=$(date +%s)
models=() labels=() first_models=() first_labels=()
first=${SEEDS%% *}
for seed in $SEEDS; do
  runs=("${RUNS[@]}")
  [ "$seed" = "$first" ] && runs+=("${FIRST_SEED_ONLY[@]}")
  for run in "${runs[@]}"; do
    IFS=: read -r label loss s m <<< "$run"
    if [ -n "$LOSSES" ] && [[ " $LOSSES " != *" $label "* ]]; then continue; fi
    dir="$OUT/$label-seed$seed"
    echo "== $label (seed $seed) → $dir" >&2
    "$BUILD/train_faces" "${COMMON[@]}" --seed "$seed" --loss "$loss" --s "$s" --m "$m" --out "$dir" \
      | tail -2
    models+=("$dir")
    labels+=("$label (seed $seed)")
    if [ "$seed" = "$first" ]; then first_models+=("$dir"); first_labels+=("$label"); fi
  done
done

# Every run drew the same held-out identities and pairs (same --split-seed): check, then score.
for dir in "${models[@]}"; do cmp -s "$dir/pairs.txt" "${models[0]}/pairs.txt" ||
  { echo "yaleb_study: $dir/pairs.txt differs from ${models[0]}/pairs.txt" >&2; exit 1; }; done
join() { local IFS=,; echo "$*"; }
"$BUILD/eval_pairs" --model "$(join "${models[@]}")" --labels "$(join "${labels[@]}")" \
  --pairs "${models[0]}/pairs.txt" --data "$DATA" --threads "$THREADS" \
  --report "$OUT/study.md" > "$OUT/eval.txt"
sed -n '/^| model/,$p' "$OUT/eval.txt"
# The ROC picture: the runs of the first seed (every loss once).
"$BUILD/eval_pairs" --model "$(join "${first_models[@]}")" --labels "$(join "${first_labels[@]}")" \
  --pairs "${models[0]}/pairs.txt" --data "$DATA" --threads "$THREADS" --roc "$OUT/roc.png" > /dev/null

# The mean over seeds of each loss (columns: accuracy, accuracy flip, AUC flip, TAR@FAR=1e-2 flip).
{
  echo
  echo "Mean over training seeds ($SEEDS):"
  echo
  echo "| loss | runs | accuracy | accuracy (flip) | AUC (flip) | TAR@FAR=1e-2 (flip) |"
  echo "|---|---|---|---|---|---|"
  awk -F'|' '/ \(seed [0-9]+\) \|/ {
      label = $2; sub(/ \(seed [0-9]+\) /, "", label); gsub(/^ +| +$/, "", label)
      if (!(label in n)) order[++count] = label
      n[label]++; acc[label] += $3 + 0; flip[label] += $4 + 0; auc[label] += $6 + 0; tar[label] += $9 + 0 }
    END { for (i = 1; i <= count; i++) { l = order[i]
      printf "| %s | %d | %.2f%% | %.2f%% | %.4f | %.2f%% |\n", l, n[l], acc[l]/n[l], flip[l]/n[l], auc[l]/n[l], tar[l]/n[l] } }' \
    "$OUT/eval.txt"
} | tee -a "$OUT/study.md"
echo "yaleb_study: $(( ($(date +%s) - start) / 60 )) min on $THREADS threads; reports in $OUT/study.md, ROC in $OUT/roc.png" >&2
