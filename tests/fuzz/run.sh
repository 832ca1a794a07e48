#!/usr/bin/env bash
# tests/fuzz/run.sh — ctest's "fuzz:" test, and the way to fuzz by hand: builds the libFuzzer
# harnesses of tests/fuzz with clang++ under WORK_DIR, replays every committed input (the
# seeds of corpus/ and the inputs of regressions/ that once failed), then fuzzes each harness
# for MARGIN_FUZZ_SECONDS (default 10) from a fresh copy of its seeds. Any crash, sanitizer
# report, leak, allocation above the memory limit or timeout fails the run; its input is kept
# under WORK_DIR/artifacts/<harness>/ and printed with the command that reproduces it.
#   bash tests/fuzz/run.sh WORK_DIR [harness...]      (harness: image, idx, pairs, …; default all)
# Environment: MARGIN_FUZZ_SECONDS (per harness), MARGIN_FUZZ_CXX (default clang++-14, else
# clang++), MARGIN_FUZZ_JOBS (build jobs, default all cores). Exits 77 (skipped) when there is
# no clang++ or no libFuzzer.
set -uo pipefail
if [[ $# -lt 1 ]]; then
  echo "usage: bash tests/fuzz/run.sh WORK_DIR [harness...]" >&2
  exit 2
fi
fuzz_dir=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1" && work=$(cd "$1" && pwd)
shift
seconds=${MARGIN_FUZZ_SECONDS:-10}
jobs=${MARGIN_FUZZ_JOBS:-$(nproc)}
# Per input: 20 s, 2 GiB of memory in all and in one allocation (a small file that claims
# gigabytes is a finding), as libFuzzer counts them.
limits=(-timeout=20 -rss_limit_mb=2048 -malloc_limit_mb=2048)
export OMP_NUM_THREADS=1  # the readers compute nothing worth threads
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

cxx=${MARGIN_FUZZ_CXX:-}
if [[ -z $cxx ]]; then
  for candidate in clang++-14 clang++; do
    if command -v "$candidate" >/dev/null; then cxx=$candidate; break; fi
  done
fi
if [[ -z $cxx ]] || ! command -v "$cxx" >/dev/null; then
  echo "fuzz: skipped: no clang++ (apt-get install clang libclang-rt-14-dev libomp-dev)"
  exit 77
fi
mkdir -p "$work/probe"
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' > "$work/probe/probe.cpp"
if ! "$cxx" -fsanitize=fuzzer,address,undefined "$work/probe/probe.cpp" -o "$work/probe/probe" 2> "$work/probe/error.txt"; then
  echo "fuzz: skipped: $cxx cannot link a libFuzzer harness with ASan + UBSan (clang++ and apt-get install libclang-rt-14-dev): $(head -c 300 "$work/probe/error.txt")"
  exit 77
fi

if [[ $# -gt 0 ]]; then
  harnesses=("$@")
else
  harnesses=()
  for file in "$fuzz_dir"/fuzz_*.cpp; do
    name=$(basename "$file" .cpp)
    harnesses+=("${name#fuzz_}")
  done
fi

# ---- build ----
build="$work/build"
started=$SECONDS
if [[ -f $build/CMakeCache.txt ]] && ! grep -qx "CMAKE_CXX_COMPILER:[A-Z]*=$(command -v "$cxx")" "$build/CMakeCache.txt"; then
  rm -rf "$build"  # configured with another compiler
fi
configure() { cmake -S "$fuzz_dir" -B "$build" -DCMAKE_CXX_COMPILER="$(command -v "$cxx")" > "$work/configure.log" 2>&1; }
if ! configure && ! { rm -rf "$build" && configure; }; then  # a stale build folder is rebuilt
  cat "$work/configure.log"
  echo "fuzz: configuring tests/fuzz failed (output above)"
  exit 1
fi
if ! cmake --build "$build" -j"$jobs" > "$work/build.log" 2>&1; then
  grep -B2 -A12 -m3 'error' "$work/build.log" || tail -50 "$work/build.log"
  echo "fuzz: building tests/fuzz with $cxx failed (whole log: $work/build.log)"
  exit 1
fi
echo "fuzz: built ${#harnesses[@]} harness(es) with $cxx in $((SECONDS - started)) s"

# From here on, the harnesses write each input to a file in $TMPDIR (fuzz_input.h): a folder
# of this run's own, removed at the end with what a crashed harness left there; in memory
# (/dev/shm) when it can, ~8× faster than ext4, which flushes a truncated file on close.
if [[ -d /dev/shm && -w /dev/shm ]]; then scratch_root=/dev/shm; else scratch_root=${TMPDIR:-/tmp}; fi
export TMPDIR=$(mktemp -d "$scratch_root/margin-fuzz.XXXXXX")
trap 'rm -rf "$TMPDIR"' EXIT

# ---- the working corpus: the committed seeds, and the seeds of margin's own formats as
# this build writes them ----
rm -rf "$work/corpus" "$work/seeds_now" "$work/artifacts" "$work/logs"
mkdir -p "$work/logs"
if ! "$build/write_seeds" "$work/seeds_now" > "$work/logs/write_seeds.log" 2>&1; then
  cat "$work/logs/write_seeds.log"
  echo "fuzz: write_seeds failed"
  exit 1
fi
for harness in "${harnesses[@]}"; do
  if [[ ! -x $build/fuzz_$harness ]]; then
    echo "fuzz: no harness '$harness' (tests/fuzz/fuzz_$harness.cpp)"
    exit 2
  fi
  mkdir -p "$work/corpus/$harness" "$work/artifacts/$harness"
  for seed in "$fuzz_dir/corpus/$harness"/*; do
    [[ -f $seed ]] && cp "$seed" "$work/corpus/$harness/"
  done
  for seed in "$work/seeds_now/$harness"/*; do
    [[ -f $seed ]] && cp "$seed" "$work/corpus/$harness/now-$(basename "$seed")"
  done
done

findings=0
# Prints what libFuzzer said about a failed run and how to reproduce it.
report() {
  local harness=$1 log=$2 input=$3
  echo "---- fuzz_$harness: the end of its report ($log) ----"
  grep -v -E '^(#[0-9]+|INFO:|Running:|Executed)' "$log" | tail -60
  echo "----"
  echo "fuzz: FINDING in fuzz_$harness: input $input"
  echo "  reproduce: $build/fuzz_$harness $input"
  if [[ $input == "$work"/artifacts/* ]]; then
    echo "  once fixed, keep it: cp $input $fuzz_dir/regressions/$harness/<what-it-is>"
  else
    echo "  (a committed input; the replay of fuzz_$harness stopped there and the harness was not fuzzed)"
  fi
  findings=$((findings + 1))
}

# ---- replay: every committed input, run once ----
started=$SECONDS
replayed=0
declare -A failed=()
for harness in "${harnesses[@]}"; do
  inputs=()
  for input in "$work/corpus/$harness"/* "$fuzz_dir/regressions/$harness"/*; do
    [[ -f $input ]] && inputs+=("$input")
  done
  [[ ${#inputs[@]} -eq 0 ]] && continue
  log="$work/logs/replay_$harness.log"
  if ! "$build/fuzz_$harness" "${limits[@]}" -artifact_prefix="$work/artifacts/$harness/" "${inputs[@]}" > "$log" 2>&1; then
    report "$harness" "$log" "$(grep '^Running: ' "$log" | tail -1 | cut -d' ' -f2-)"
    failed[$harness]=1
  fi
  replayed=$((replayed + ${#inputs[@]}))
done
echo "fuzz: replayed $replayed seed and regression inputs in $((SECONDS - started)) s"

# ---- fuzz: each harness for $seconds from its seeds and regressions (a harness that failed
# its replay is not fuzzed: it would stop at the same input) ----
for harness in "${harnesses[@]}"; do
  [[ -n ${failed[$harness]:-} ]] && continue
  for input in "$fuzz_dir/regressions/$harness"/*; do
    [[ -f $input ]] && cp "$input" "$work/corpus/$harness/regression-$(basename "$input")"
  done
  log="$work/logs/fuzz_$harness.log"
  started=$SECONDS
  if "$build/fuzz_$harness" "${limits[@]}" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="$work/artifacts/$harness/" "$work/corpus/$harness" > "$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    coverage=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -o 'cov: [0-9]*' | grep -o '[0-9]*')
    echo "fuzz: $harness: $((SECONDS - started)) s, ${runs:-?} inputs, coverage ${coverage:-?} edges," \
         "corpus $(ls "$work/corpus/$harness" | wc -l) files: nothing found"
  else
    artifact=$(ls -t "$work/artifacts/$harness"/* 2>/dev/null | head -1)
    report "$harness" "$log" "${artifact:-(libFuzzer saved none; see the log)}"
  fi
done

if [[ $findings -gt 0 ]]; then
  echo "fuzz: $findings finding(s); tests/fuzz/README.md says how to reproduce and keep them"
  exit 1
fi
echo "fuzz: every reader survived ${seconds} s of libFuzzer and replayed its regressions"
