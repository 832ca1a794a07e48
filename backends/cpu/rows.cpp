// backends/cpu/rows.cpp — softmax / log-softmax along an axis and row-wise L2 normalization,
// with their exact backwards.
#include <cmath>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/fast_exp.h"
#include "backends/cpu/loops.h"

namespace margin {
using namespace cpu;

// One softmax row of n elements, `step` apart: e^{x − max} / Σ e^{x − max}, or its log.
template <class T>
void softmax_row(const T* in, T* out, int64_t n, int64_t step, bool log) {
  const SoftmaxNormalizer<T> normalizer = softmax_normalizer(in, n, step);
  if (log) {
    const T shift = static_cast<T>(normalizer.log_sum());
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) out[j * step] = in[j * step] - shift;
  } else {
    const T max = normalizer.max, inverse = static_cast<T>(1.0 / normalizer.total);
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) out[j * step] = fast_exp(in[j * step] - max) * inverse;
  }
}

// dx for one row: softmax: y ⊙ (dy − Σ dy ⊙ y); log-softmax: dy − e^y · Σ dy.
template <class T>
void softmax_backward_row(const T* y, const T* dy, T* dx, int64_t n, int64_t step, bool log) {
  double dot = 0;
  if (log) {
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < n; ++j) dot += static_cast<double>(dy[j * step]);
  } else {
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < n; ++j) dot += static_cast<double>(dy[j * step]) * y[j * step];
  }
  T d = static_cast<T>(dot);
  if (log) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) dx[j * step] = dy[j * step] - fast_exp(y[j * step]) * d;
  } else {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) dx[j * step] = y[j * step] * (dy[j * step] - d);
  }
}

void CpuBackend::softmax(const View& x, int axis, bool log, const View& y) {
  AxisSplit split(x.shape, axis);
  dispatch_floating(x.dtype, "softmax", [&](auto t) {
    using T = decltype(t);
    const T* in = x.ptr<T>();
    T* out = y.ptr<T>();
#pragma omp parallel for collapse(2) if (worth_threads(x.numel()))
    for (int64_t o = 0; o < split.outer; ++o)
      for (int64_t i = 0; i < split.inner; ++i) {
        int64_t base = o * split.n * split.inner + i;
        softmax_row(in + base, out + base, split.n, split.inner, log);
      }
  });
}

void CpuBackend::softmax_backward(const View& y, const View& dy, int axis, bool log,
                                  const View& dx) {
  AxisSplit split(y.shape, axis);
  dispatch_floating(y.dtype, "softmax_backward", [&](auto t) {
    using T = decltype(t);
    const T *out = y.ptr<T>(), *grad_out = dy.ptr<T>();
    T* grad_in = dx.ptr<T>();
#pragma omp parallel for collapse(2) if (worth_threads(y.numel()))
    for (int64_t o = 0; o < split.outer; ++o)
      for (int64_t i = 0; i < split.inner; ++i) {
        int64_t base = o * split.n * split.inner + i;
        softmax_backward_row(out + base, grad_out + base, grad_in + base, split.n, split.inner, log);
      }
  });
}

void CpuBackend::l2_normalize_rows(const View& x, double eps, const View& y, const View& norms) {
  int64_t rows = x.shape[0], d = x.shape[1];
  dispatch_floating(x.dtype, "l2_normalize", [&](auto t) {
    using T = decltype(t);
    const T* in = x.ptr<T>();
    T *out = y.ptr<T>(), *norm_out = norms.ptr<T>();
#pragma omp parallel for if (worth_threads(x.numel()))
    for (int64_t r = 0; r < rows; ++r) {
      double squares = 0;
#pragma omp simd reduction(+ : squares)
      for (int64_t j = 0; j < d; ++j) squares += double(in[r * d + j]) * in[r * d + j];
      double norm = std::sqrt(squares);
      T inverse = static_cast<T>(1.0 / std::max(norm, eps));
      norm_out[r] = static_cast<T>(norm);
#pragma omp simd
      for (int64_t j = 0; j < d; ++j) out[r * d + j] = in[r * d + j] * inverse;
    }
  });
}

void CpuBackend::l2_normalize_rows_backward(const View& y, const View& norms, const View& dy,
                                            double eps, const View& dx) {
  int64_t rows = y.shape[0], d = y.shape[1];
  dispatch_floating(y.dtype, "l2_normalize_backward", [&](auto t) {
    using T = decltype(t);
    const T *out = y.ptr<T>(), *norm_in = norms.ptr<T>(), *grad_out = dy.ptr<T>();
    T* grad_in = dx.ptr<T>();
#pragma omp parallel for if (worth_threads(y.numel()))
    for (int64_t r = 0; r < rows; ++r) {
      const T* y_row = out + r * d;
      const T* dy_row = grad_out + r * d;
      T* dx_row = grad_in + r * d;
      if (norm_in[r] <= eps) {  // the clamped branch: y = x / eps, a plain scaling
        for (int64_t j = 0; j < d; ++j) dx_row[j] = static_cast<T>(dy_row[j] / eps);
        continue;
      }
      // y = x/‖x‖ ⇒ ∂y/∂x = (I − y yᵀ)/‖x‖: remove dy's component along y, then rescale.
      double along = 0;
#pragma omp simd reduction(+ : along)
      for (int64_t j = 0; j < d; ++j) along += double(dy_row[j]) * y_row[j];
      const T inverse = static_cast<T>(1.0 / norm_in[r]), a = static_cast<T>(along);
#pragma omp simd
      for (int64_t j = 0; j < d; ++j) dx_row[j] = (dy_row[j] - y_row[j] * a) * inverse;
    }
  });
}

}  // namespace margin
