// backends/cpu/index.cpp — gather along an axis and its adjoint, one-hot, index checks.
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/loops.h"

namespace margin {
using namespace cpu;

int64_t CpuBackend::find_out_of_range(const View& index, int64_t lo, int64_t hi) {
  const int64_t* p = index.ptr<int64_t>();
  for (int64_t i = 0; i < index.numel(); ++i)
    if (p[i] < lo || p[i] >= hi) return i;
  return -1;
}

void CpuBackend::gather(const View& x, const View& index, int axis, const View& y) {
  AxisSplit from(x.shape, axis), to(index.shape, axis);
  const int64_t* idx = index.ptr<int64_t>();
  dispatch_floating(x.dtype, "gather", [&](auto t) {
    using T = decltype(t);
    const T* in = x.ptr<T>();
    T* out = y.ptr<T>();
#pragma omp parallel for if (worth_threads(y.numel()))
    for (int64_t o = 0; o < to.outer; ++o)
      for (int64_t k = 0; k < to.n; ++k)
        for (int64_t i = 0; i < to.inner; ++i) {
          int64_t at = (o * to.n + k) * to.inner + i;
          out[at] = in[(o * from.n + idx[at]) * from.inner + i];
        }
  });
}

void CpuBackend::gather_backward(const View& dy, const View& index, int axis, const View& dx) {
  AxisSplit from(dx.shape, axis), to(index.shape, axis);
  const int64_t* idx = index.ptr<int64_t>();
  fill(dx, 0.0);
  dispatch_floating(dx.dtype, "gather_backward", [&](auto t) {
    using T = decltype(t);
    const T* grad_out = dy.ptr<T>();
    T* grad_in = dx.ptr<T>();
    // Parallel over `outer` only: two k's of one (o, i) may hit the same slot.
#pragma omp parallel for if (worth_threads(dy.numel()))
    for (int64_t o = 0; o < to.outer; ++o)
      for (int64_t k = 0; k < to.n; ++k)
        for (int64_t i = 0; i < to.inner; ++i) {
          int64_t at = (o * to.n + k) * to.inner + i;
          grad_in[(o * from.n + idx[at]) * from.inner + i] += grad_out[at];
        }
  });
}

void CpuBackend::scatter(const View& src, const View& index, int axis, const View& out) {
  AxisSplit to(out.shape, axis), from(index.shape, axis);
  const int64_t* idx = index.ptr<int64_t>();
  dispatch_floating(out.dtype, "scatter", [&](auto t) {
    using T = decltype(t);
    const T* values = src.ptr<T>();
    T* result = out.ptr<T>();
#pragma omp parallel for if (worth_threads(src.numel()))
    for (int64_t o = 0; o < from.outer; ++o)
      for (int64_t k = 0; k < from.n; ++k)
        for (int64_t i = 0; i < from.inner; ++i) {
          int64_t at = (o * from.n + k) * from.inner + i;
          result[(o * to.n + idx[at]) * to.inner + i] = values[at];
        }
  });
}

void CpuBackend::one_hot(const View& labels, const View& out) {
  int64_t rows = out.shape[0], classes = out.shape[1];
  const int64_t* label = labels.ptr<int64_t>();
  fill(out, 0.0);
  dispatch_floating(out.dtype, "one_hot", [&](auto t) {
    using T = decltype(t);
    T* p = out.ptr<T>();
    for (int64_t r = 0; r < rows; ++r)
      if (label[r] >= 0 && label[r] < classes) p[r * classes + label[r]] = T(1);
  });
}

}  // namespace margin
