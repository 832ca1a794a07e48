// bench/workload_timing.h — what every benchmark binary shares: a median-of-N timer with
// warm-up, the peak resident memory of this process, the machine's matmul rate (the
// yardstick each figure is compared with) and its FMA peak (the ceiling of any float32 kernel).
#pragma once
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <limits>
#include <functional>
#include <string>
#include <vector>

#include "core/ops.h"
#include "core/random.h"

namespace margin::bench {

struct Timing {
  std::vector<double> times_s;  // every timed step, sorted (at least one)
  double median_s() const { return times_s[times_s.size() / 2]; }
  double min_s() const { return times_s.front(); }
  double max_s() const { return times_s.back(); }
};

// Runs `step` `warmup` times untimed, then `repeats` times timed; each timed step ends when
// the device has finished its work.
inline Timing time_steps(const std::function<void()>& step, int warmup, int repeats,
                         Device device = kCPU) {
  if (repeats < 1) fail("--repeats must be at least 1 (a median needs a timed step), got ", repeats);
  for (int i = 0; i < warmup; ++i) step();
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    auto start = std::chrono::steady_clock::now();
    step();
    backend_for(device).synchronize();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return {times};
}

// Peak resident set size of this process in MiB (VmHWM), or 0 where /proc is missing.
inline double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      double kb = 0;
      status >> kb;
      return kb / 1024.0;
    }
    status.ignore(1 << 12, '\n');
  }
  return 0;
}

// GFLOP/s of an n³ float32 matmul through margin on `device` (median of 5 after 2 warm-ups).
inline double matmul_gflops(Device device, int64_t n = 1024) {
  Generator gen(0);
  Tensor a = Tensor::randn({n, n}, gen, DType::F32, device);
  Tensor b = Tensor::randn({n, n}, gen, DType::F32, device);
  Timing t = time_steps([&] { matmul(a, b); }, 2, 5, device);
  return 2.0 * n * n * n / t.median_s() * 1e-9;
}

// The machine's float32 FMA peak in GFLOP/s, measured: every OpenMP thread runs independent
// chains of fused multiply-adds on the widest vectors the compiler targets (AVX-512 where built
// with -march=native on such a machine), enough chains to hide the FMA latency and few enough
// to stay in registers with the two operands (wider vectors than the target has would be split
// and spill, understating the peak).
inline double fma_peak_gflops() {
#if defined(__AVX512F__)
  constexpr int kBytes = 64, kChains = 12;  // 32 zmm registers
#elif defined(__AVX__)
  constexpr int kBytes = 32, kChains = 10;  // 16 ymm registers
#else
  constexpr int kBytes = 16, kChains = 10;  // 16 xmm registers
#endif
  typedef float Vec __attribute__((vector_size(kBytes)));
  constexpr int kLanes = kBytes / sizeof(float);
  const long steps = 20000000;
  double seconds = std::numeric_limits<double>::infinity();
  float sink = 0;
  int threads = 1;
  for (int attempt = 0; attempt < 3; ++attempt) {  // the best of three
    auto start = std::chrono::steady_clock::now();
#pragma omp parallel reduction(+ : sink)
    {
#pragma omp single
      threads = omp_get_num_threads();
      Vec chain[kChains];
      for (int c = 0; c < kChains; ++c) chain[c] = Vec{} + (1.0f + c * 1e-7f);
      volatile float opaque_scale = 0.9999999f, opaque_shift = 1e-7f;  // unknown to the optimizer
      const Vec scale = Vec{} + opaque_scale, shift = Vec{} + opaque_shift;
      for (long i = 0; i < steps; ++i)
#pragma GCC unroll 12
        for (int c = 0; c < kChains; ++c) chain[c] = chain[c] * scale + shift;
      for (int c = 0; c < kChains; ++c)
        for (int lane = 0; lane < kLanes; ++lane) sink += chain[c][lane];
    }
    seconds = std::min(seconds, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  volatile float keep = sink;  // the chains must be computed
  (void)keep;
  return 2.0 * kChains * kLanes * steps * threads / seconds * 1e-9;
}

}  // namespace margin::bench
