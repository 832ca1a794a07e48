// backends/cpu/reduce.cpp — sums over broadcast dims, and max along an axis.
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/loops.h"

namespace margin {
using namespace cpu;

void CpuBackend::sum_to(const View& x, const View& y) {
  // Split x's dims into the kept ones (y has them) and the reduced ones (y has 1 there).
  Shape kept_shape, kept_strides, reduced_shape, reduced_strides;
  Shape x_strides = contiguous_strides(x.shape);
  for (int i = 0; i < x.ndim(); ++i) {
    bool reduced = y.shape[i] == 1 && x.shape[i] != 1;
    (reduced ? reduced_shape : kept_shape).push_back(x.shape[i]);
    (reduced ? reduced_strides : kept_strides).push_back(x_strides[i]);
  }
  int64_t kept_count = shape_numel(kept_shape);
  RowWalk reduced(reduced_shape);
  int64_t step = reduced.col_stride(reduced_strides);

  dispatch_floating(x.dtype, "sum_to", [&](auto t) {
    using T = decltype(t);
    using Acc = double;  // accumulate in double: float sums of long rows lose digits
    const T* in = x.ptr<T>();
    T* out = y.ptr<T>();
    auto sum_block = [&](const T* base, int64_t row) {
      const T* p = base + reduced.row_offset(row, reduced_strides);
      Acc acc = 0;
      for (int64_t col = 0; col < reduced.cols; ++col) acc += p[col * step];
      return acc;
    };
    if (kept_count == 1) {
      Acc total = 0;
#pragma omp parallel for reduction(+ : total) if (worth_threads(x.numel()))
      for (int64_t row = 0; row < reduced.rows; ++row) total += sum_block(in, row);
      out[0] = static_cast<T>(total);
      return;
    }
#pragma omp parallel for if (worth_threads(x.numel()))
    for (int64_t k = 0; k < kept_count; ++k) {
      const T* base = in + strided_offset(k, kept_shape, kept_strides);
      Acc acc = 0;
      for (int64_t row = 0; row < reduced.rows; ++row) acc += sum_block(base, row);
      out[k] = static_cast<T>(acc);
    }
  });
}

void CpuBackend::max_along(const View& x, int axis, const View& values, const View& indices) {
  AxisSplit split(x.shape, axis);
  dispatch_floating(x.dtype, "max", [&](auto t) {
    using T = decltype(t);
    const T* in = x.ptr<T>();
    T* best_value = values.ptr<T>();
    int64_t* best_index = indices.ptr<int64_t>();
#pragma omp parallel for collapse(2) if (worth_threads(x.numel()))
    for (int64_t o = 0; o < split.outer; ++o) {
      for (int64_t i = 0; i < split.inner; ++i) {
        const T* p = in + o * split.n * split.inner + i;
        int64_t arg = 0;
        for (int64_t j = 1; j < split.n; ++j)
          if (p[j * split.inner] > p[arg * split.inner]) arg = j;
        best_value[o * split.inner + i] = p[arg * split.inner];
        best_index[o * split.inner + i] = arg;
      }
    }
  });
}

}  // namespace margin
