#!/usr/bin/env bash
# tests/dist/faults.sh — what a job of several ranks does when something goes wrong, checked
# on the real program (train_fmnist on Fashion-MNIST) under mpirun. ctest runs each scenario:
#
#   killed-rank       rank 1 is SIGKILLed mid-epoch: mpirun ends the job with an error that
#                     names rank 1, within 60 s (no rank waits forever in a collective)
#   mismatched-model  ranks started with different networks, or different losses, all stop at
#                     start-up with an error that says which ranks differ from rank 0
#   resume-other-size a Partial FC checkpoint of 2 ranks is refused by 3 ranks with an error
#                     that says to use 2, and resumed by 2; a data-parallel checkpoint of 2
#                     ranks (every rank's state is the same) resumes on 3
#
#   bash tests/dist/faults.sh SCENARIO path/to/train_fmnist
# Exit status 0 when the scenario behaved, 1 when not, 77 (skipped) without the data. The ranks
# train on the CPU (--device cpu) in every build: GPU tensors between ranks need NCCL.
set -uo pipefail
scenario=$1
program=$(realpath "$2")
data=${MARGIN_FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
if [[ ! -e "$data/t10k-labels-idx1-ubyte.gz" && ! -e "$data/t10k-labels-idx1-ubyte" ]]; then
  echo "faults: no Fashion-MNIST in $data (apt-get install dataset-fashion-mnist); skipped"
  exit 77
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
small=(--device cpu --threads 1 --widths 8,16 --emb-dim 16 --batch 64 --data "$data")

fail() { echo "faults: $scenario: $*"; echo "---- output:"; cat "$work/log" 2>/dev/null | tr '\r' '\n' | tail -30; exit 1; }
expect_in_log() { grep -q -- "$1" "$work/log" || fail "expected the output to say \"$1\""; }

case $scenario in
killed-rank)
  mpirun -np 2 --oversubscribe "$program" "${small[@]}" --epochs 3 --out "$work/run" > "$work/log" 2>&1 &
  job=$!
  for _ in $(seq 240); do grep -q "img/s" "$work/log" && break; sleep 0.25; done
  grep -q "img/s" "$work/log" || fail "training never started"
  victim=""
  for pid in $(pgrep -P "$job"); do  # mpirun's children: this job's ranks, no one else's
    if tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1"; then victim=$pid; fi
  done
  [[ -n "$victim" ]] || fail "found no process of rank 1"
  kill -9 "$victim"
  start=$SECONDS
  while kill -0 "$job" 2>/dev/null && (( SECONDS - start < 60 )); do sleep 0.25; done
  if kill -0 "$job" 2>/dev/null; then kill -9 "$job"; fail "the job still ran 60 s after rank 1 was killed"; fi
  wait "$job"
  status=$?
  (( status != 0 )) || fail "the job exited with 0 after rank 1 was killed"
  expect_in_log "rank 1"
  echo "faults: killed-rank: the job ended with status $status $((SECONDS - start)) s after rank 1 was killed, naming it"
  ;;
mismatched-model)
  mpirun --oversubscribe -np 1 "$program" "${small[@]}" --epochs 1 --out "$work/a" : \
         -np 1 "$program" "${small[@]}" --widths 8,32 --epochs 1 --out "$work/b" > "$work/log" 2>&1
  (( $? != 0 )) || fail "ranks with different networks trained"
  expect_in_log "every rank must be started with the same model"
  expect_in_log "rank(s) 1 differ from rank 0"
  mpirun --oversubscribe -np 1 "$program" "${small[@]}" --epochs 1 --out "$work/a" : \
         -np 1 "$program" "${small[@]}" --loss arcface --epochs 1 --out "$work/b" > "$work/log" 2>&1
  (( $? != 0 )) || fail "ranks with different losses trained"
  expect_in_log "every rank must be started with the same loss"
  echo "faults: mismatched-model: both mismatches refused at start-up"
  ;;
resume-other-size)
  args=("${small[@]}" --train-images 640 --epochs 2)
  mpirun -np 2 --oversubscribe "$program" "${args[@]}" --partial-fc 1 --stop-after 1 --out "$work/pfc" > "$work/log" 2>&1 ||
    fail "the first epoch of the Partial FC run failed"
  [[ -f "$work/pfc/checkpoint.bin" && -f "$work/pfc/checkpoint.bin.rank1" ]] || fail "expected checkpoint.bin and checkpoint.bin.rank1"
  mpirun -np 3 --oversubscribe "$program" "${args[@]}" --partial-fc 1 --resume "$work/pfc/checkpoint.bin" --out "$work/pfc" > "$work/log" 2>&1
  (( $? != 0 )) || fail "3 ranks resumed a Partial FC checkpoint of 2"
  expect_in_log "resume it with mpirun -np 2"
  mpirun -np 2 --oversubscribe "$program" "${args[@]}" --partial-fc 1 --resume "$work/pfc/checkpoint.bin" --out "$work/pfc" > "$work/log" 2>&1 ||
    fail "2 ranks could not resume their own Partial FC checkpoint"
  expect_in_log "resumed from"
  expect_in_log "2 epochs: test accuracy"
  mpirun -np 2 --oversubscribe "$program" "${args[@]}" --stop-after 1 --out "$work/dp" > "$work/log" 2>&1 ||
    fail "the first epoch of the data-parallel run failed"
  mpirun -np 3 --oversubscribe "$program" "${args[@]}" --resume "$work/dp/checkpoint.bin" --out "$work/dp" > "$work/log" 2>&1 ||
    fail "3 ranks could not resume a data-parallel checkpoint of 2"
  expect_in_log "3 ranks × 1 thread"
  echo "faults: resume-other-size: refused and resumed as expected"
  ;;
*)
  echo "faults: unknown scenario '$scenario' (killed-rank, mismatched-model, resume-other-size)"
  exit 2
  ;;
esac
