#!/usr/bin/env bash
# bench/gpu_check.sh — the one command to run on a GPU machine. Builds margin with CUDA into
# its own build folder, runs the CUDA tests and the CPU-vs-GPU parity tests, then the
# whole test suite on the GPU default device, then the workloads W1-W4 of bench/ on the GPU
# (W2 at batch 128 in fp32, bf16 and fp16, each with its fraction of the FP32 peak), and
# prints one summary. Designed
# to finish within a few minutes on one GPU and 16 cores.
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
# NCCL on one GPU: under mpirun (one rank) communicator_for(cuda:0) is the NCCL communicator,
# and the test case checks each collective against the hand-computed answers. (With two or
# more GPUs, ctest's "test_dist_collectives:mpirun -np 2/3" above run NCCL between them.)
if ! grep -q "NCCL communicator built" "$build/configure.log"; then
  note "nccl: $(grep -o "NCCL communicator not built.*" "$build/configure.log" | head -1 || echo "not built")"
else
  run_test nccl env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 \
    mpirun -np 1 --oversubscribe "$build/test_dist_collectives" --test-case='*nccl*' -s
  if ! grep -q "communicator nccl" "$log_dir/nccl.log"; then
    failed=1
    note "nccl: the test case did not run on the NCCL communicator (log: $log_dir/nccl.log)"
  fi
fi

# ---- 4. benchmarks on cuda:0 ----
# The GPU's FP32 peak (no tensor cores): SMs × FP32 lanes per SM × 2 FLOP × the maximum SM
# clock nvidia-smi reports. nvidia-smi does not report the SM count, so it comes from this
# table of data-center GPUs; set PEAK_GFLOPS to override or for another GPU.
fp32_peak_gflops() {
  local name clock cap sms lanes
  IFS=, read -r name clock cap < <(nvidia-smi --query-gpu=name,clocks.max.sm,compute_cap \
    --format=csv,noheader,nounits | head -1)
  case "$name" in
    *"H100 PCIe"*) sms=114 ;;
    *H200* | *H100*) sms=132 ;;
    *A100*) sms=108 ;;
    *) echo 0; return ;;
  esac
  case "${cap// /}" in 8.0) lanes=64 ;; *) lanes=128 ;; esac
  awk -v s="$sms" -v l="$lanes" -v c="${clock// /}" 'BEGIN { printf "%.0f", s * l * 2 * c / 1000 }'
}
peak=${PEAK_GFLOPS:-$(fp32_peak_gflops)}
if [[ "$peak" == 0 ]]; then
  note "FP32 peak: unknown for this GPU (set PEAK_GFLOPS); fractions of it are not reported"
else
  note "FP32 peak: $peak GFLOP/s (SMs × FP32 lanes × 2 × max SM clock, or PEAK_GFLOPS)"
fi
# W2 at batch 128 is the issue's step: iresnet18, 112x112, LMCL over 10,572 classes.
bench_run() {  # label, then bench_workloads' flags
  local label=$1
  shift
  local started=$SECONDS log="$log_dir/bench_$label.log"
  if timeout 300 "$build/bench_workloads" --device cuda --warmup 3 --repeats 10 \
       --peak-gflops "$peak" "$@" > "$log" 2>&1; then
    note "bench $label ($((SECONDS - started)) s):"
    summary+=("$(sed 's/^/    /' "$log")")
    sed 's/^/    /' "$log"
  else
    note "bench $label: FAILED or timed out (log: $log; benchmarks only report)"
    tail -5 "$log" || true
  fi
}
bench_run W1 --workload W1
bench_run W2-batch128 --workload W2 --batch 128
# The same step with the backbone's products on bfloat16 and float16 operands (core/precision.h).
# On CUDA these are float32 products of rounded operands (backends/cuda/rounded.h): correct, not
# tensor-core speed; their fraction is of the same FP32 peak.
bench_run W2-batch128-bf16 --workload W2 --batch 128 --precision bf16
bench_run W2-batch128-fp16 --workload W2 --batch 128 --precision fp16
bench_run W3 --workload W3
bench_run W4 --workload W4

# ---- 5. summary ----
echo
echo "================ gpu_check summary ================"
printf '%s\n' "${summary[@]}"
if [[ $failed -ne 0 ]]; then
  echo "gpu_check: FAILED (logs in $log_dir)"
  exit 1
fi
echo "gpu_check: all CUDA tests passed"
