#!/usr/bin/env bash
# bench/gpu_check.sh — the one command to run on a GPU machine. Builds margin with CUDA into
# its own build folder, runs the CUDA tests and the CPU-vs-GPU parity tests, then the
# whole test suite on the GPU default device, then each benchmark that can target CUDA, and
# prints one summary. Designed to finish within a few minutes on one GPU and 16 cores.
#
#   bash bench/gpu_check.sh [build-dir]        (default build-gpu-check)
#
# Exit status: 0 when the build and every test passed (benchmarks only report), else 1.
# Left out: multi-GPU runs (only cuda:0 is benchmarked; the parity test covers every GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-gpu-check}
jobs=$(nproc 2>/dev/null || echo 4)
log_dir="$build/gpu_check_logs"
summary=()
failed=0

note() { summary+=("$1"); echo "== $1"; }

# ---- 1. the machine ----
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_check: nvidia-smi sees no GPU; the CUDA checks need one" >&2
  exit 1
fi
gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)
note "GPU: $gpu"

# ---- 2. build ----
nvcc=${CUDACXX:-/usr/local/cuda/bin/nvcc}
mkdir -p "$build"
if ! cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMARGIN_CUDA=ON \
      -DCMAKE_CUDA_COMPILER="$nvcc" > "$build/configure.log" 2>&1; then
  tail -30 "$build/configure.log"
  echo "gpu_check: configure failed (log: $build/configure.log)" >&2
  exit 1
fi
if ! cmake --build "$build" -j"$jobs" > "$build/build.log" 2>&1; then
  grep -iE "error" "$build/build.log" | head -30
  echo "gpu_check: build failed (log: $build/build.log)" >&2
  exit 1
fi
warnings=$(grep -ciE "warning[: ]" "$build/build.log" || true)
note "build: ok ($warnings warnings) in $build"
mkdir -p "$log_dir"

# ---- 3. tests: CUDA-specific, parity, then the whole suite ----
run_test() {  # name, then the command
  local name=$1
  shift
  local started=$SECONDS
  if "$@" > "$log_dir/$name.log" 2>&1; then
    note "$name: passed ($((SECONDS - started)) s) — $(grep -E '^\[doctest\] assertions' "$log_dir/$name.log" | head -1 | sed 's/\[doctest\] //')"
  else
    failed=1
    note "$name: FAILED ($((SECONDS - started)) s; log: $log_dir/$name.log)"
    grep -E "ERROR|MESSAGE|error" "$log_dir/$name.log" | head -20 || true
  fi
}
# -s shows the MESSAGEs (how many cases ran on which device, or why they were skipped).
run_test test_cuda "$build/test_cuda" -s
run_test test_parity "$build/test_parity" -s
if grep -q "skipped: no CUDA device" "$log_dir/test_parity.log"; then
  failed=1
  note "test_parity: skipped although nvidia-smi sees a GPU (driver/runtime mismatch?)"
fi
run_test ctest ctest --test-dir "$build" --output-on-failure --timeout 300

# ---- 4. benchmarks on cuda:0 ----
# Each bench binary that takes --device gets `--device cuda`; the others are CPU-only.
for bench in bench_layers bench_margin_head bench_workloads bench_matmul; do
  binary="$build/$bench"
  if [[ ! -x "$binary" ]]; then
    note "$bench: not built (not in this checkout)"
    continue
  fi
  if ! "$binary" --help 2>&1 | grep -q -- "--device"; then
    note "$bench: skipped (no --device flag)"
    continue
  fi
  started=$SECONDS
  if timeout 180 "$binary" --device cuda > "$log_dir/$bench.log" 2>&1; then
    note "$bench --device cuda ($((SECONDS - started)) s):"
    sed 's/^/    /' "$log_dir/$bench.log" | tail -15
    summary+=("$(sed 's/^/    /' "$log_dir/$bench.log" | tail -15)")
  else
    note "$bench --device cuda: FAILED or timed out (log: $log_dir/$bench.log; benchmarks only report)"
    tail -5 "$log_dir/$bench.log" || true
  fi
done

# ---- 5. summary ----
echo
echo "================ gpu_check summary ================"
printf '%s\n' "${summary[@]}"
if [[ $failed -ne 0 ]]; then
  echo "gpu_check: FAILED (logs in $log_dir)"
  exit 1
fi
echo "gpu_check: all CUDA tests passed"
