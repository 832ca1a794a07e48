// backends/cpu/rows.cpp — softmax / log-softmax along an axis and row-wise L2 normalization,
// with their exact backwards.
#include <cmath>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/loops.h"

namespace margin {
using namespace cpu;

void CpuBackend::softmax(const View& x, int axis, bool log, const View& y) {
  AxisSplit split(x.shape, axis);
  dispatch_floating(x.dtype, "softmax", [&](auto t) {
    using T = decltype(t);
    const T* in = x.ptr<T>();
    T* out = y.ptr<T>();
#pragma omp parallel for collapse(2) if (worth_threads(x.numel()))
    for (int64_t o = 0; o < split.outer; ++o) {
      for (int64_t i = 0; i < split.inner; ++i) {
        int64_t base = o * split.n * split.inner + i, step = split.inner;
        // Subtracting the max keeps every exponent ≤ 0: no overflow at s = 64 or beyond.
        T max = in[base];
        for (int64_t j = 1; j < split.n; ++j) max = std::max(max, in[base + j * step]);
        double total = 0;
        for (int64_t j = 0; j < split.n; ++j) total += std::exp(double(in[base + j * step] - max));
        if (log) {
          T log_total = static_cast<T>(std::log(total));
          for (int64_t j = 0; j < split.n; ++j)
            out[base + j * step] = in[base + j * step] - max - log_total;
        } else {
          for (int64_t j = 0; j < split.n; ++j)
            out[base + j * step] = static_cast<T>(std::exp(double(in[base + j * step] - max)) / total);
        }
      }
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
    for (int64_t o = 0; o < split.outer; ++o) {
      for (int64_t i = 0; i < split.inner; ++i) {
        int64_t base = o * split.n * split.inner + i, step = split.inner;
        double dot = 0;  // log: Σ dy;  softmax: Σ dy ⊙ y
        for (int64_t j = 0; j < split.n; ++j)
          dot += log ? double(grad_out[base + j * step])
                     : double(grad_out[base + j * step]) * out[base + j * step];
        for (int64_t j = 0; j < split.n; ++j) {
          int64_t k = base + j * step;
          grad_in[k] = log ? static_cast<T>(grad_out[k] - std::exp(double(out[k])) * dot)
                           : static_cast<T>(out[k] * (grad_out[k] - dot));
        }
      }
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
      for (int64_t j = 0; j < d; ++j) squares += double(in[r * d + j]) * in[r * d + j];
      double norm = std::sqrt(squares);
      T inverse = static_cast<T>(1.0 / std::max(norm, eps));
      norm_out[r] = static_cast<T>(norm);
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
      for (int64_t j = 0; j < d; ++j) along += double(dy_row[j]) * y_row[j];
      double inverse = 1.0 / norm_in[r];
      for (int64_t j = 0; j < d; ++j)
        dx_row[j] = static_cast<T>((dy_row[j] - y_row[j] * along) * inverse);
    }
  });
}

}  // namespace margin
