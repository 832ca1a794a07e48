#!/usr/bin/env bash
# .ci/cuda_build.sh — CI for the CUDA variant on a machine without a GPU: configure with
# -DMARGIN_CUDA=ON into build-cuda and build every target (compile and link only; nothing
# CUDA runs). Fails on any compiler or linker warning, since a clean build is the promise.
#   bash .ci/cuda_build.sh [jobs]        (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${1:-2}
nvcc=${CUDACXX:-/usr/local/cuda/bin/nvcc}
if [[ ! -x "$nvcc" ]]; then
  echo "cuda_build: no nvcc at $nvcc (set CUDACXX); the CUDA variant cannot be built here" >&2
  exit 1
fi
cmake -S . -B build-cuda -DCMAKE_BUILD_TYPE=Release -DMARGIN_CUDA=ON \
  -DCMAKE_CUDA_COMPILER="$nvcc"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cmake --build build-cuda -j"$jobs" 2>&1 | tee "$log"
if grep -qiE "warning[: ]" "$log"; then
  echo "cuda_build: the CUDA build printed warnings (above); it must build clean" >&2
  exit 1
fi
echo "cuda_build: CUDA variant built clean into build-cuda (compile and link only)"
