// bench/workload_timing.h — what every benchmark binary shares: a median-of-N timer with
// warm-up, the peak resident memory of this process, and the machine's matmul rate (the
// yardstick each figure is compared with).
#pragma once
#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "core/ops.h"
#include "core/random.h"

namespace margin::bench {

struct Timing {
  double median_s = 0, min_s = 0, max_s = 0;
};

// Runs `step` `warmup` times untimed, then `repeats` times timed; each timed step ends when
// the device has finished its work.
inline Timing time_steps(const std::function<void()>& step, int warmup, int repeats,
                         Device device = kCPU) {
  for (int i = 0; i < warmup; ++i) step();
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    auto start = std::chrono::steady_clock::now();
    step();
    backend_for(device).synchronize();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return {times[times.size() / 2], times.front(), times.back()};
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
  return 2.0 * n * n * n / t.median_s * 1e-9;
}

}  // namespace margin::bench
