#!/usr/bin/env bash
# bench/compare.sh — margin and PyTorch side by side, in one run, on the reference workloads
# W1–W5 (see bench/torch_workloads.py for their definitions; bench/bench_workloads.cpp runs
# the same shapes through margin). Each workload runs in its own process, so the peak
# resident memory printed is that workload's alone. 2 threads each, 2 warm-up + 5 timed
# steps a process, median with min–max.
#
# Rounds: this machine's speed drifts by ±25% within minutes, so one margin run followed by
# one PyTorch run compares two different machines as often as two frameworks. Each workload
# therefore runs ROUNDS times (default 3), margin and PyTorch alternating, and the table pools
# every timed step of each side: median (min–max) over ROUNDS × 5 steps; peak memory is the
# largest of the rounds. ROUNDS=1 runs each side once.
#
# PyTorch runs in two settings, both reported: as installed, and with glibc's allocator told
# to keep memory (without it PyTorch spends much of W2/W3 in page faults); the ratio column
# uses the faster of the two ("best"). OpenBLAS picks its own kernel for PyTorch: the
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE some machines set (Haswell, 512 on these) make
# torch.mm about half as fast, so they are unset for the PyTorch commands. Debian's python3-torch and an optimized BLAS
# (libopenblas0-pthread: without it torch.mm falls back to the reference BLAS, ~3 GFLOP/s)
# are installed when missing.
#
# Precisions: PRECISIONS (default "fp32 bf16") lists the rows each workload gets. bf16 runs
# margin with --precision bf16 (the backbone's products on bfloat16 operands, core/precision.h)
# against PyTorch with torch.autocast("cpu", dtype=torch.bfloat16) around the backbone, the
# head in float32 on both sides (W3, the head alone, has no bf16 row; W4's product is
# autocast). PyTorch's bf16 runs in its best setting only (keep-mem; "as installed" shows —).
# CONV_ALGORITHM (default auto) is margin's --conv-algorithm for its bf16 rows: auto and winograd
# run the 3x3 stride-1 convolutions' forward, dx and dw by Winograd's F(2x2,3x3) where the bf16
# products run on AVX-512 BF16 (backends/cpu/winograd.h), direct runs them directly everywhere.
#
#   bash bench/compare.sh [build-dir] [workloads…]     e.g. bash bench/compare.sh build W1 W3
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
workloads=${*:-W1 W2 W3 W4 W5}
bf16_kernel=${BF16_KERNEL:-auto}
conv_algorithm=${CONV_ALGORITHM:-auto}
case "$conv_algorithm" in
  auto | direct | winograd) ;;
  *) echo "compare.sh: CONV_ALGORITHM must be auto, direct or winograd, got '$conv_algorithm'" >&2; exit 1 ;;
esac
torch_isa=()
case "$bf16_kernel" in
  auto) ;;
  vector) torch_isa=(ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16) ;;
  *) echo "compare.sh: BF16_KERNEL must be auto or vector, got '$bf16_kernel'" >&2; exit 1 ;;
esac

if ! /usr/bin/python3 -c "import torch" 2>/dev/null || ! dpkg -s libopenblas0-pthread >/dev/null 2>&1; then
  echo "installing python3-torch and libopenblas0-pthread…"
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-torch libopenblas0-pthread >/dev/null
fi
cmake --build "$build" --target bench_workloads -j2 >/dev/null

keep_memory="glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=17179869184"
results=$(mktemp)
trap 'rm -f "$results"' EXIT
rounds=${ROUNDS:-3}
precisions=${PRECISIONS:-fp32 bf16}
for w in $workloads; do
  for round in $(seq "$rounds"); do
    for p in $precisions; do
      [ "$p" = bf16 ] && [ "$w" = W3 ] && continue  # the head alone: float32 under every precision
      echo "running $w $p, round $round of $rounds…" >&2
      OMP_NUM_THREADS=2 "$build/bench_workloads" --workload "$w" --threads 2 --precision "$p" \
        --bf16-kernel "$bf16_kernel" --conv-algorithm "$conv_algorithm" --json \
        | sed 's/^/margin /' >>"$results"
      if [ "$p" = fp32 ]; then
        env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "${torch_isa[@]}" /usr/bin/python3 bench/torch_workloads.py --workload "$w" \
          --threads 2 | sed 's/^/torch /' >>"$results"
      fi
      env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE GLIBC_TUNABLES=$keep_memory "${torch_isa[@]}" /usr/bin/python3 \
        bench/torch_workloads.py --workload "$w" --threads 2 --precision "$p" | sed 's/^/torch-keepmem /' >>"$results"
    done
  done
done

/usr/bin/python3 - "$results" "$bf16_kernel" <<'PY'
import json, os, sys
rows = {}
for line in open(sys.argv[1]):  # one line per (side, round); the rounds' steps are pooled
    who, payload = line.split(" ", 1)
    r = json.loads(payload)
    key = r["workload"] + " " + r.get("precision", "fp32")
    pooled = rows.setdefault(key, {}).setdefault(who, dict(r, times_s=[], peak_rss_mb=0.0, rounds=[]))
    pooled["times_s"] += r["times_s"]
    pooled["peak_rss_mb"] = max(pooled["peak_rss_mb"], r["peak_rss_mb"])
    pooled["rounds"].append(r)
def median(values): return sorted(values)[len(values) // 2]
for sides in rows.values():
    for r in sides.values():
        t = sorted(r["times_s"])
        r["median_s"], r["min_s"], r["max_s"] = t[len(t) // 2], t[0], t[-1]
        if "fraction_of_matmul" in r:  # margin's own measures: the median round's
            r["fraction_of_matmul"] = median([x["fraction_of_matmul"] for x in r["rounds"]])
            r["fma_peaks"] = [x["fma_peak_gflops"] for x in r["rounds"]]
            r["fma_peak_gflops"] = median(r["fma_peaks"])
def ms(r): return f'{r["median_s"]*1e3:9.1f} ({r["min_s"]*1e3:.1f}–{r["max_s"]*1e3:.1f})' if r else "—"
print(f'{"workload":<24}{"margin ms (min–max)":>28}{"torch ms":>28}{"torch keep-mem ms":>28}'
      f'{"ratio":>8}{"GFLOP/s":>9}{"of mm":>7}{"RSS MB m/t":>14}')
for key, r in rows.items():
    m, t, k = r["margin"], r.get("torch"), r["torch-keepmem"]
    best = min([x for x in (t, k) if x], key=lambda x: x["median_s"])
    gflops = m.get("flops", 0) / m["median_s"] * 1e-9
    w, precision = key.split(" ")
    print(f'{w + " " + m.get("name", "") + " " + precision:<24}{ms(m):>28}{ms(t):>28}{ms(k):>28}'
          f'{m["median_s"] / best["median_s"]:8.2f}{gflops:9.1f}{m.get("fraction_of_matmul", 0):7.2f}'
          f'{m["peak_rss_mb"]:7.0f}/{best["peak_rss_mb"]:<6.0f}')
for w in sorted({key.split(" ")[0] for key in rows}):  # margin's own bf16 speed-up
    if f"{w} fp32" in rows and f"{w} bf16" in rows:
        print(f'{w}: margin bf16 / fp32 step time {rows[w + " bf16"]["margin"]["median_s"] / rows[w + " fp32"]["margin"]["median_s"]:.2f}')
rounds = len(next(iter(rows.values()))["margin"]["rounds"])
print(f"{rounds} round(s) per workload, margin and PyTorch alternating; medians and min–max over every timed step of all rounds.")
if sys.argv[2] == "vector":
    print("bf16 as without AMX: margin on vdpbf16ps, PyTorch's oneDNN kept to AVX512_CORE_BF16.")
if any(r["margin"].get("convolutions") == "winograd" for r in rows.values()):
    print("margin's bf16: its 3x3 stride-1 convolutions (forward, dx and dw) by Winograd's F(2x2,3x3) "
          "(CONV_ALGORITHM=direct: the direct kernels).")
print("ratio = margin / PyTorch (best of the two settings), median step time; lower is better.")
print("'of mm' = margin's achieved GFLOP/s as a fraction of the 1024³ matmul rate it measured in the same run.")
peaks = [p for r in rows.values() for p in r["margin"].get("fma_peaks", [])]
if any(peaks):
    print(f"machine FMA peak, measured by each margin run: {min(peaks):.0f}–{max(peaks):.0f} GFLOP/s (2 threads); "
          "margin's GFLOP/s over it: " + ", ".join(
              f'{w} {r["margin"].get("flops", 0) / r["margin"]["median_s"] * 1e-9 / r["margin"]["fma_peak_gflops"]:.2f}'
              for w, r in rows.items() if r["margin"].get("fma_peak_gflops")))
# The CPU, since this project's machines change (docs/precision.md has tables from three): its
# name, family and model as /proc/cpuinfo gives them, and the bf16 instructions it has.
cpu = {}
if os.path.exists("/proc/cpuinfo"):
    for line in open("/proc/cpuinfo"):
        if ":" in line:
            name, value = line.split(":", 1)
            cpu.setdefault(name.strip(), value.strip())
flags = cpu.get("flags", "").split()
print(f'machine: {cpu.get("model name", "unknown CPU")} (cpu family {cpu.get("cpu family", "?")}, '
      f'model {cpu.get("model", "?")}), {os.cpu_count()} logical CPUs; avx512_bf16 '
      f'{"yes" if "avx512_bf16" in flags else "no"}, amx_bf16 {"yes" if "amx_bf16" in flags else "no"}')
PY
