#!/usr/bin/env bash
# bench/partial_fc.sh — the Partial FC table of bench/README.md: bench_partial_fc for
# C ∈ {10⁵, 10⁶, 2·10⁶}, N ∈ {1, 2} ranks, r ∈ {1, 0.1}, d = 512, B = 128 per rank, then W2
# (iresnet18 + LMCL(10,572), batch 32) as 1 rank × 2 threads and 2 ranks × 1 thread.
# Each rank keeps W, its gradient and its momentum (3 · C/N · d floats) and, at r = 1, a
# normalized copy and its gradient as well: C = 2·10⁶ at r = 1 needs about 24 GiB in all,
# more than this machine's, and is left out.
#   bash bench/partial_fc.sh [build-dir]        (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
two_ranks=(mpirun -np 2 --oversubscribe --bind-to none -x OMP_NUM_THREADS=1)
for classes in 100000 1000000 2000000; do
  for rate in 1 0.1; do
    if [[ $classes == 2000000 && $rate == 1 ]]; then
      echo "partial fc: C=$classes r=$rate: left out (about 24 GiB for W, its gradient, momentum and normalized copy)"
      continue
    fi
    OMP_NUM_THREADS=2 "$build/bench_partial_fc" --classes "$classes" --rate "$rate" --threads 2
    "${two_ranks[@]}" "$build/bench_partial_fc" --classes "$classes" --rate "$rate" --threads 1
  done
done
OMP_NUM_THREADS=2 "$build/bench_workloads" --workload W2 --threads 2
"${two_ranks[@]}" "$build/bench_workloads" --workload W2 --threads 1
