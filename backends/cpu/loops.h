// backends/cpu/loops.h — the small helpers every CPU kernel file shares: dtype dispatch and
// the [outer, n, inner] split around an axis (backends/dispatch.h, shared with CUDA),
// row-wise walking of strided views, and per-thread scratch buffers.
#pragma once
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "backends/backend.h"
#include "backends/dispatch.h"

namespace margin::cpu {

// Offset, in a view with `strides`, of the element at row-major position `linear` of `shape`.
// Only the first `ndim` dims are used (RowWalk passes all but the last).
inline int64_t strided_offset(int64_t linear, const Shape& shape, const Shape& strides,
                              int ndim) {
  int64_t offset = 0;
  for (int i = ndim - 1; i >= 0; --i) {
    offset += (linear % shape[i]) * strides[i];
    linear /= shape[i];
  }
  return offset;
}
inline int64_t strided_offset(int64_t linear, const Shape& shape, const Shape& strides) {
  return strided_offset(linear, shape, strides, static_cast<int>(shape.size()));
}

// A shape seen as rows along its last dim; row_offset finds a row's start in any strides.
struct RowWalk {
  Shape shape;
  int64_t rows = 1, cols = 1;
  explicit RowWalk(const Shape& s) : shape(s) {
    if (!shape.empty()) cols = shape.back();
    rows = cols == 0 ? 0 : shape_numel(shape) / cols;
  }
  int64_t row_offset(int64_t row, const Shape& strides) const {
    return strided_offset(row, shape, strides, static_cast<int>(shape.size()) - 1);
  }
  int64_t col_stride(const Shape& strides) const { return strides.empty() ? 1 : strides.back(); }
};

// A buffer of at least `size` elements owned by the calling thread, 64-byte aligned (a vector
// load's width), kept between calls and only grown: no allocation, page faults or zeroing per
// call. Each Tag names a separate buffer, so nested users (a convolution's columns, the GEMM's
// packed panels inside it) never share one.
template <class T, class Tag>
T* thread_buffer(int64_t size) {
  struct alignas(64) Line {
    T values[64 / sizeof(T)];
  };
  thread_local std::vector<Line> buffer;
  const int64_t lines = (size + 64 / sizeof(T) - 1) / (64 / sizeof(T));
  if (static_cast<int64_t>(buffer.size()) < lines) buffer.resize(lines);
  return buffer.data()->values;
}

// total[k·F + f] = Σ partial[(k·C + c)·F + f] over the threads' sums `partials` (each
// [K][C][F], nullptr for a thread that made none), added in thread order: channel c of a
// backward filter whose threads each summed their own share of the batch, the same values
// whichever thread ran what.
inline void add_thread_sums(const std::vector<float*>& partials, int64_t K, int64_t C, int64_t F, int64_t c,
                            float* total) {
  std::fill(total, total + K * F, 0.0f);
  for (const float* partial : partials)
    if (partial)
      for (int64_t k = 0; k < K; ++k)
        for (int64_t f = 0; f < F; ++f) total[k * F + f] += partial[(k * C + c) * F + f];
}

// Σ term(i) for i in [0, n): partial sums of up to 256 terms in T, which vectorize (a double
// accumulator fed from float32 does not, and runs at one add latency a term), added up in
// double, so long sums keep their digits.
template <class T, class Term>
double chunked_sum(int64_t n, Term term) {
  double total = 0;
  for (int64_t start = 0; start < n; start += 256) {
    const int64_t end = std::min<int64_t>(start + 256, n);
    T partial = 0;
#pragma omp simd reduction(+ : partial)
    for (int64_t i = start; i < end; ++i) partial += term(i);
    total += partial;
  }
  return total;
}

// Copies (or zeroes) n elements in line, in 64-byte blocks and then halves, quarters, ... of
// one, each a fixed-size move: GCC turns plain loops into calls to memmove and memset, whose
// overhead per call is as large as a copy of a few dozen elements (convolutions copy rows and
// pieces of rows that short).
template <class T, bool kRepeat = false>  // kRepeat: every block of out is a copy of in's first
void short_copy(const T* in, int64_t n, T* out) {
  constexpr int64_t kBlock = 64 / sizeof(T);
  int64_t t = 0;
  for (; t + kBlock <= n; t += kBlock) std::memcpy(out + t, kRepeat ? in : in + t, 64);
#pragma GCC unroll 8
  for (int64_t part = kBlock / 2; part > 0; part /= 2)
    if ((n - t) & part) {
      std::memcpy(out + t, kRepeat ? in : in + t, part * sizeof(T));
      t += part;
    }
}
template <class T>
void short_fill(T* out, int64_t n) {
  static constexpr T kZeros[64 / sizeof(T)] = {};
  short_copy<T, true>(kZeros, n, out);
}

// out[i] = in[i] widened to float (exactly: the bits moved up by 16) for n bfloat16 values, 16
// at a time (convolution's unfolding widens pieces of rows of a bfloat16 image with it).
inline void short_widen(const bfloat16* in, int64_t n, float* out) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16) {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i)));
    _mm512_storeu_ps(out + i, _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16)));
  }
#endif
  for (; i < n; ++i) out[i] = in[i];
}

// Only spread a loop over threads when it has enough work to pay for the fork.
inline bool worth_threads(int64_t work) { return work > 32768; }

}  // namespace margin::cpu
