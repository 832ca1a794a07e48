// backends/cpu/fast_exp.h — e^x for float32 that the compiler can vectorize (glibc's expf is
// a scalar call unless -ffast-math is on). Softmax over B×C logits spends its time here.
//
// e^x = 2^k · e^r with k = round(x / ln 2) and r = x − k·ln 2 ∈ [−ln2/2, ln2/2]; ln 2 is split
// in two (Cody–Waite) so r keeps its precision; e^r is the classic degree-6 minimax
// polynomial (as in Cephes' expf), and 2^k is built in the exponent bits.
// Accuracy: within 2 ulp of std::exp over the float range (tests/test_fast_exp.cpp checks it).
// Inputs below −87.3 return e^−87.3 ≈ 1.2e−38 instead of a denormal or 0: harmless in a
// softmax, where the largest term is 1. Float64 keeps std::exp.
#pragma once
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

namespace margin::cpu {

inline float fast_exp(float x) {
  x = std::min(std::max(x, -87.3f), 88.7f);
  float k = std::floor(x * 1.44269504088896341f + 0.5f);
  float r = x - k * 0.693359375f;   // ln 2, high part (exact in float)
  r = r - k * -2.12194440e-4f;      // ln 2, low part
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t exponent_bits = (static_cast<int32_t>(k) + 127) << 23;
  return p * std::bit_cast<float>(exponent_bits);
}

inline double fast_exp(double x) { return std::exp(x); }

}  // namespace margin::cpu
