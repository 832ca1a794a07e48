// core/random.h — an explicit, seeded random generator. margin has no hidden global RNG:
// whoever draws random numbers passes the generator, so runs are reproducible by seed.
#pragma once
#include <cstdint>
#include <random>
#include <sstream>
#include <string>

#include "backends/types.h"

namespace margin {

// splitmix64's finalizer: spreads nearby inputs (epoch 3 and 4, step 7 and 8) to unrelated
// 64-bit values, for seeds derived from several numbers: mix_seed(mix_seed(seed) ^ epoch).
inline uint64_t mix_seed(uint64_t value) {
  value += 0x9E3779B97F4A7C15ull;
  value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ull;
  value = (value ^ (value >> 27)) * 0x94D049BB133111EBull;
  return value ^ (value >> 31);
}

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : engine_(seed) {}
  double normal() { return normal_(engine_); }
  double uniform(double low = 0.0, double high = 1.0) {
    return low + (high - low) * std::uniform_real_distribution<double>(0.0, 1.0)(engine_);
  }
  // An integer in [0, n).
  int64_t below(int64_t n) { return std::uniform_int_distribution<int64_t>(0, n - 1)(engine_); }
  std::mt19937_64& engine() { return engine_; }
  // The whole state as text (the engine and the normal distribution's cached draw), for
  // checkpoints: set_state(state()) continues the exact same sequence.
  std::string state() const {
    std::ostringstream out;
    out << engine_ << ' ' << normal_;
    return out.str();
  }
  void set_state(const std::string& state) {
    std::istringstream in(state);
    std::mt19937_64 engine;
    std::normal_distribution<double> normal;
    in >> engine >> normal;
    if (!in) fail("Generator::set_state: the text is not a Generator state (", state.size(), " characters)");
    engine_ = engine;
    normal_ = normal;
  }

 private:
  std::mt19937_64 engine_;
  std::normal_distribution<double> normal_;
};

}  // namespace margin
