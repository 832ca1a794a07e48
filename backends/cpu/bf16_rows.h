// backends/cpu/bf16_rows.h — the vdpbf16ps block that flat_conv.cpp's and winograd.cpp's
// products run on: 8 rows × 32 columns of float sums held in 16 AVX-512 registers (a row: two
// vectors of 16 floats) over their k. For each k-pair, B's 32 words in two loads, and each
// row's pair of A broadcast to all 16 lanes; vdpbf16ps adds both products of every lane's pair.
// Also the lane masks both files load and store their rows' ends with.
#pragma once
#if defined(__AVX512F__)
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace margin::cpu {

// A mask of the first n of 16 lanes (none for n ≤ 0, all for n ≥ 16).
inline __mmask16 first_lanes(int64_t n) { return __mmask16((1u << std::clamp<int64_t>(n, 0, 16)) - 1); }

constexpr int kVectorRows = 8;
using VectorRows = __m512[kVectorRows][2];

// rows[i] += Σ_{k < steps} A(i, k) · B(k): A(i, k) the pair at a + i·a_row + k·a_step (counted in
// bfloat16 values: the backward filter's image pairs may start at odd positions), B(k) the 32
// words at b + k·b_step.
__attribute__((target("avx512f,avx512bf16"), always_inline)) inline void add_products(
    const uint16_t* a, int64_t a_row, int64_t a_step, const uint32_t* b, int64_t b_step, int64_t steps,
    VectorRows& rows) {
  for (int64_t k = 0; k < steps; ++k) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + k * b_step);
    const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + k * b_step + 16);
#pragma GCC unroll 8
    for (int i = 0; i < kVectorRows; ++i) {
      uint32_t pair;
      std::memcpy(&pair, a + i * a_row + k * a_step, sizeof pair);
      const __m512bh a_pair = (__m512bh)_mm512_set1_epi32(static_cast<int>(pair));
      rows[i][0] = _mm512_dpbf16_ps(rows[i][0], a_pair, b0);
      rows[i][1] = _mm512_dpbf16_ps(rows[i][1], a_pair, b1);
    }
  }
}

}  // namespace margin::cpu
#endif
