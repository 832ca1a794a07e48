// backends/cpu/reduce.cpp — sums over broadcast dims, and max along an axis.
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/loops.h"

namespace margin {
using namespace cpu;

namespace {

// Merges neighbouring dims that are one run in memory (stride_i = size_{i+1} · stride_{i+1}),
// so that a reduction's rows are as long as the layout allows: the bias gradient of a
// convolution, [N, C, H, W] summed to [1, C, 1, 1], sums N runs of H·W.
void merge_runs(Shape& shape, Shape& strides) {
  Shape merged_shape, merged_strides;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (!merged_shape.empty() && merged_strides.back() == shape[i] * strides[i]) {
      merged_shape.back() *= shape[i];
      merged_strides.back() = strides[i];
    } else {
      merged_shape.push_back(shape[i]);
      merged_strides.push_back(strides[i]);
    }
  }
  shape = std::move(merged_shape);
  strides = std::move(merged_strides);
}

}  // namespace

void CpuBackend::sum_to(const View& x, const View& y) {
  // Split x's dims into the kept ones (y has them) and the reduced ones (y has 1 there).
  Shape kept_shape, kept_strides, reduced_shape, reduced_strides;
  Shape x_strides = contiguous_strides(x.shape);
  for (int i = 0; i < x.ndim(); ++i) {
    bool reduced = y.shape[i] == 1 && x.shape[i] != 1;
    (reduced ? reduced_shape : kept_shape).push_back(x.shape[i]);
    (reduced ? reduced_strides : kept_strides).push_back(x_strides[i]);
  }
  merge_runs(kept_shape, kept_strides);
  merge_runs(reduced_shape, reduced_strides);
  int64_t kept_count = shape_numel(kept_shape);
  RowWalk reduced(reduced_shape);
  int64_t step = reduced.col_stride(reduced_strides);

  dispatch_floating(x.dtype, "sum_to", [&](auto t) {
    using T = decltype(t);
    const T* in = x.ptr<T>();
    T* out = y.ptr<T>();
    // Rows are summed into a double whatever T is: float sums of long rows lose digits.
    auto sum_block = [&](const T* base, int64_t row) {
      const T* p = base + reduced.row_offset(row, reduced_strides);
      if (step == 1) return chunked_sum<T>(reduced.cols, [p](int64_t i) { return p[i]; });
      double acc = 0;
      for (int64_t col = 0; col < reduced.cols; ++col) acc += p[col * step];
      return acc;
    };
    if (kept_count == 1) {
      double total = 0;
#pragma omp parallel for reduction(+ : total) if (worth_threads(x.numel()))
      for (int64_t row = 0; row < reduced.rows; ++row) total += sum_block(in, row);
      out[0] = static_cast<T>(total);
      return;
    }
#pragma omp parallel for if (worth_threads(x.numel()))
    for (int64_t k = 0; k < kept_count; ++k) {
      const T* base = in + strided_offset(k, kept_shape, kept_strides);
      double acc = 0;
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
