#!/usr/bin/env bash
# .ci/sanitizers.sh — CI for memory errors and undefined behaviour, and the check that margin
# builds with clang as well as g++: the library, examples and tests compiled by clang++ with
# -fsanitize=address,undefined (-DMARGIN_SANITIZE=ON, -O2; the benchmarks, which no test runs,
# left out) into build-sanitize, and the whole test suite run there; any sanitizer report
# stops its program and fails its test. Leaks are reported too, except under mpirun (Open
# MPI's plugins leak by design: CMakeLists.txt turns the leak check off for those tests).
#   bash .ci/sanitizers.sh [jobs]        (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${1:-2}
cmake -S . -B build-sanitize -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -gline-tables-only" -DMARGIN_SANITIZE=ON -DMARGIN_BENCHMARKS=OFF
cmake --build build-sanitize -j"$jobs"
export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-sanitize --output-on-failure --timeout 1800 -j"$jobs"
echo "sanitizers: the test suite passed under AddressSanitizer + UndefinedBehaviorSanitizer (clang++)"
