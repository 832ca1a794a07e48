// backends/cpu/fast_exp.h — e^x for float32 that the compiler can vectorize (glibc's expf is
// a scalar call unless -ffast-math is on). Softmax over B×C logits spends its time here.
//
// e^x = 2^k · e^r with k = round(x / ln 2) and r = x − k·ln 2 ∈ [−ln2/2, ln2/2]; ln 2 is split
// in two (Cody–Waite) so r keeps its precision; e^r is the classic degree-6 minimax
// polynomial (as in Cephes' expf), and 2^k is built in the exponent bits.
// Accuracy: within 2 ulp of std::exp over the float range (tests/test_fast_exp.cpp checks it).
// Inputs below −87.3 return e^−87.3 ≈ 1.2e−38 instead of a denormal or 0: harmless in a
// softmax, where the largest term is 1. Float64 keeps std::exp.
// softmax_normalizer, below, is the max and sum of exponentials every CPU softmax shares.
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

// The normalizer of a softmax row of n elements `step` apart: its max and Σ_j e^{x_j − max}.
// Subtracting the max keeps every exponent ≤ 0 (no overflow at s = 64 or beyond); the
// exponentials are taken in T (float32 ones by fast_exp, which vectorizes) and summed in
// double. p_j = e^{x_j − max} / total stays exact where log Σ e^x would not: for logits of
// 1e30, max + log(total) rounds to max and each p_j to 1.
template <class T>
struct SoftmaxNormalizer {
  T max;
  double total;
  double log_sum() const { return static_cast<double>(max) + std::log(total); }  // log Σ_j e^{x_j}
};
template <class T>
SoftmaxNormalizer<T> softmax_normalizer(const T* x, int64_t n, int64_t step) {
  T max = x[0];
#pragma omp simd reduction(max : max)
  for (int64_t j = 1; j < n; ++j) max = std::max(max, x[j * step]);
  double total = 0;
#pragma omp simd reduction(+ : total)
  for (int64_t j = 0; j < n; ++j) total += static_cast<double>(fast_exp(x[j * step] - max));
  return {max, total};
}

}  // namespace margin::cpu
