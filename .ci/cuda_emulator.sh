#!/usr/bin/env bash
# .ci/cuda_emulator.sh — CI for the CUDA backend's behaviour on a machine without a GPU:
# configure with -DMARGIN_CUDA_EMULATOR=ON into build-cuda-emulator (the backends/cuda sources
# compiled for the CPU emulator of CUDA, tests/cuda_emulator; the benchmarks, which no test
# runs, left out), build, and run the whole test suite there, `jobs` tests at a time, where
# cuda:0 is the emulated device and the default one. test_parity holds every CUDA kernel to the
# CPU backend. Needs the CUDA and cuDNN headers, no GPU, no nvcc.
#   bash .ci/cuda_emulator.sh [jobs]        (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${1:-2}
cmake -S . -B build-cuda-emulator -DCMAKE_BUILD_TYPE=Release -DMARGIN_CUDA_EMULATOR=ON -DMARGIN_BENCHMARKS=OFF
cmake --build build-cuda-emulator -j"$jobs"
ctest --test-dir build-cuda-emulator --output-on-failure --timeout 900 -j"$jobs"
echo "cuda_emulator: the test suite passed with CUDA (emulated) as the default device"
