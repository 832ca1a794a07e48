// backends/cpu/index.cpp — gather along an axis and its adjoint, one-hot, index checks.
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/loops.h"

namespace margin {
using namespace cpu;

namespace {

// Calls visit(at, target) for every element of an index tensor: `at` is its flat position,
// `target` the flat position it points to in the [outer, n, inner] tensor along the axis.
// Parallel over `outer` only: two indices of one (o, i) may point to the same target.
template <class Visit>
void for_each_index(const View& index, const Shape& target_shape, int axis, Visit&& visit) {
  AxisSplit along(index.shape, axis), target(target_shape, axis);
  const int64_t* idx = index.ptr<int64_t>();
#pragma omp parallel for if (worth_threads(index.numel()))
  for (int64_t o = 0; o < along.outer; ++o)
    for (int64_t k = 0; k < along.n; ++k)
      for (int64_t i = 0; i < along.inner; ++i) {
        int64_t at = (o * along.n + k) * along.inner + i;
        visit(at, (o * target.n + idx[at]) * target.inner + i);
      }
}

}  // namespace

int64_t CpuBackend::find_out_of_range(const View& index, int64_t lo, int64_t hi) {
  const int64_t* p = index.ptr<int64_t>();
  for (int64_t i = 0; i < index.numel(); ++i)
    if (p[i] < lo || p[i] >= hi) return i;
  return -1;
}

void CpuBackend::gather(const View& x, const View& index, int axis, const View& y) {
  dispatch_floating(x.dtype, "gather", [&](auto t) {
    using T = decltype(t);
    const T* in = x.ptr<T>();
    T* out = y.ptr<T>();
    for_each_index(index, x.shape, axis, [&](int64_t at, int64_t target) { out[at] = in[target]; });
  });
}

void CpuBackend::gather_backward(const View& dy, const View& index, int axis, const View& dx) {
  fill(dx, 0.0);
  dispatch_floating(dx.dtype, "gather_backward", [&](auto t) {
    using T = decltype(t);
    const T* grad_out = dy.ptr<T>();
    T* grad_in = dx.ptr<T>();
    for_each_index(index, dx.shape, axis,
                   [&](int64_t at, int64_t target) { grad_in[target] += grad_out[at]; });
  });
}

void CpuBackend::scatter(const View& src, const View& index, int axis, const View& out) {
  dispatch_floating(out.dtype, "scatter", [&](auto t) {
    using T = decltype(t);
    const T* values = src.ptr<T>();
    T* result = out.ptr<T>();
    for_each_index(index, out.shape, axis,
                   [&](int64_t at, int64_t target) { result[target] = values[at]; });
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
