#!/usr/bin/env bash
# examples/fmnist_study.sh — Softmax vs NSL vs LMCL on Fashion-MNIST: docs/experiments.md's table and
# its 2-D pictures, from one command (after the build in the README):
#
#   bash examples/fmnist_study.sh            # about 30 minutes on 2 quiet cores
#   THREADS=1 bash examples/fmnist_study.sh  # on a busy machine (2 OpenMP threads that
#                                            # must meet at every barrier crawl when a
#                                            # third process takes a core)
#
# For each loss: the two-stage CNN (32, 64) with s = 30, embedding 128, 12 epochs for the accuracy table,
# then the same network with a 2-D embedding (8 epochs) for the CosFace paper's picture of the
# test features on the unit circle with the class-weight directions. In 2-D the ten classes
# are at best 36° apart, so LMCL's margin must stay below 1 − cos 36° ≈ 0.19 (the paper's
# bound, losses/bounds.h): the 2-D LMCL run uses m = 0.15. The 2-D NSL and LMCL runs use
# s = 10 (still above the paper's lower bound, 0.9·ln(9·0.99/0.01) ≈ 6.1 for C = 10): at
# s = 30 a feature sees only its nearest rival weight, and on a circle its way to its own
# class often runs through other classes' arcs (one seed, 6 epochs: NSL 74% at s = 10,
# 68% at s = 30).
# A run whose summary is already there is not run again, so an interrupted study continues.
# Writes runs/fmnist_study/{table.md, <loss>-d128/, <loss>-d2/} and copies the pictures to
# examples/figures/fmnist_<loss>_d2.png, where docs/experiments.md shows them.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
out=${OUT:-runs/fmnist_study}
epochs=${EPOCHS:-12}
picture_epochs=${PICTURE_EPOCHS:-8}
threads=${THREADS:-2}
mkdir -p "$out" examples/figures

table="$out/table.md"
{
  echo "| loss | s | m | test accuracy (d = 128, $epochs epochs) | train accuracy | time ($threads threads) |"
  echo "|---|---|---|---|---|---|"
} >"$table"
for loss in softmax nsl lmcl; do
  if [ ! -s "$out/$loss-d128/summary.txt" ]; then
    "$build/train_fmnist" --loss "$loss" --widths 32,64 --s 30 --epochs "$epochs" --threads "$threads" --out "$out/$loss-d128" \
      >"$out/$loss-d128.summary.tmp"
    mv "$out/$loss-d128.summary.tmp" "$out/$loss-d128/summary.txt"
  fi
  cat "$out/$loss-d128/summary.txt"
  # The last row of the CSV log: epoch,train_loss,train_accuracy,test_accuracy,test_accuracy_flip,lr,seconds.
  summary=$(cat "$out/$loss-d128/summary.txt")
  last=$(tail -n 1 "$out/$loss-d128/log.csv")
  train_accuracy=$(echo "$last" | cut -d, -f3)
  test_accuracy=$(echo "$last" | cut -d, -f4)
  s=$(echo "$summary" | sed -n 's/.*(s=\([0-9.]*\).*/\1/p')
  m=$(echo "$summary" | sed -n 's/.*, m=\([0-9.]*\)).*/\1/p')
  took=$(echo "$summary" | sed -n 's/.*(\([0-9]*m[0-9]*s\) on.*/\1/p')
  [ "$loss" = softmax ] && s="–" && m="–"
  [ "$loss" = nsl ] && m="–"
  awk -v loss="$loss" -v s="$s" -v m="$m" -v test="$test_accuracy" -v train="$train_accuracy" -v took="$took" \
    'BEGIN { printf "| %s | %s | %s | %.2f%% | %.2f%% | %s |\n", loss, s, m, 100 * test, 100 * train, took }' >>"$table"

  picture_flags=()
  [ "$loss" != softmax ] && picture_flags=(--s 10)
  [ "$loss" = lmcl ] && picture_flags+=(--m 0.15)
  if [ ! -s "$out/$loss-d2/summary.txt" ]; then
    "$build/train_fmnist" --loss "$loss" --widths 32,64 --emb-dim 2 --epochs "$picture_epochs" --threads "$threads" \
      "${picture_flags[@]}" --out "$out/$loss-d2" >"$out/$loss-d2.summary.tmp"
    mv "$out/$loss-d2.summary.tmp" "$out/$loss-d2/summary.txt"
  fi
  cp "$out/$loss-d2/features.png" "examples/figures/fmnist_${loss}_d2.png"
done
echo
cat "$table"
