// backends/cuda/rows.cu — softmax / log-softmax along an axis and row-wise L2 normalization,
// with their exact backwards: one block per slice, the same arithmetic (and the same double
// accumulators) as backends/cpu/rows.cpp.
#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/launch.cuh"

namespace margin {
namespace cuda {

template <class T>
void softmax_typed(const View& x, int axis, bool log, const View& y) {
  AxisSplit split(x.shape, axis);
  const T* in = x.ptr<T>();
  T* out = y.ptr<T>();
  parallel_slices(split.outer * split.inner, split.n, "softmax", [=] __device__(int64_t slice) {
    int64_t o = slice / split.inner, i = slice % split.inner;
    int64_t base = o * split.n * split.inner + i, step = split.inner;
    // Subtracting the max keeps every exponent ≤ 0: no overflow at s = 64 or beyond.
    T max = in[base];
    for (int64_t j = threadIdx.x; j < split.n; j += blockDim.x) max = fmax(max, in[base + j * step]);
    max = block_reduce(max, MaxOf{});
    double total = 0;
    for (int64_t j = threadIdx.x; j < split.n; j += blockDim.x)
      total += exp(double(in[base + j * step] - max));
    total = block_reduce(total, SumOf{});
    T log_total = static_cast<T>(::log(total));
    for (int64_t j = threadIdx.x; j < split.n; j += blockDim.x) {
      int64_t k = base + j * step;
      out[k] = log ? in[k] - max - log_total : static_cast<T>(exp(double(in[k] - max)) / total);
    }
  });
}

template <class T>
void softmax_backward_typed(const View& y, const View& dy, int axis, bool log, const View& dx) {
  AxisSplit split(y.shape, axis);
  const T *out = y.ptr<T>(), *grad_out = dy.ptr<T>();
  T* grad_in = dx.ptr<T>();
  parallel_slices(split.outer * split.inner, split.n, "softmax_backward",
                  [=] __device__(int64_t slice) {
    int64_t o = slice / split.inner, i = slice % split.inner;
    int64_t base = o * split.n * split.inner + i, step = split.inner;
    double dot = 0;  // log: Σ dy;  softmax: Σ dy ⊙ y
    for (int64_t j = threadIdx.x; j < split.n; j += blockDim.x) {
      int64_t k = base + j * step;
      dot += log ? double(grad_out[k]) : double(grad_out[k]) * out[k];
    }
    dot = block_reduce(dot, SumOf{});
    for (int64_t j = threadIdx.x; j < split.n; j += blockDim.x) {
      int64_t k = base + j * step;
      grad_in[k] = log ? static_cast<T>(grad_out[k] - exp(double(out[k])) * dot)
                       : static_cast<T>(out[k] * (grad_out[k] - dot));
    }
  });
}

template <class T>
void l2_normalize_typed(const View& x, double eps, const View& y, const View& norms) {
  int64_t rows = x.shape[0], d = x.shape[1];
  const T* in = x.ptr<T>();
  T *out = y.ptr<T>(), *norm_out = norms.ptr<T>();
  parallel_slices(rows, d, "l2_normalize", [=] __device__(int64_t r) {
    double squares = 0;
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x)
      squares += double(in[r * d + j]) * in[r * d + j];
    squares = block_reduce(squares, SumOf{});
    double norm = ::sqrt(squares);
    T inverse = static_cast<T>(1.0 / fmax(norm, eps));
    if (threadIdx.x == 0) norm_out[r] = static_cast<T>(norm);
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) out[r * d + j] = in[r * d + j] * inverse;
  });
}

template <class T>
void l2_normalize_backward_typed(const View& y, const View& norms, const View& dy, double eps,
                                 const View& dx) {
  int64_t rows = y.shape[0], d = y.shape[1];
  const T *out = y.ptr<T>(), *norm_in = norms.ptr<T>(), *grad_out = dy.ptr<T>();
  T* grad_in = dx.ptr<T>();
  parallel_slices(rows, d, "l2_normalize_backward", [=] __device__(int64_t r) {
    const T* y_row = out + r * d;
    const T* dy_row = grad_out + r * d;
    T* dx_row = grad_in + r * d;
    if (norm_in[r] <= eps) {  // the clamped branch: y = x / eps, a plain scaling
      for (int64_t j = threadIdx.x; j < d; j += blockDim.x)
        dx_row[j] = static_cast<T>(dy_row[j] / eps);
      return;  // the whole block takes this branch: the barrier below is skipped by all
    }
    // y = x/‖x‖ ⇒ ∂y/∂x = (I − y yᵀ)/‖x‖: remove dy's component along y, then rescale.
    double along = 0;
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) along += double(dy_row[j]) * y_row[j];
    along = block_reduce(along, SumOf{});
    double inverse = 1.0 / norm_in[r];
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x)
      dx_row[j] = static_cast<T>((dy_row[j] - y_row[j] * along) * inverse);
  });
}

}  // namespace cuda

void CudaBackend::softmax(const View& x, int axis, bool log, const View& y) {
  activate();
  dispatch_floating(x.dtype, "softmax",
                          [&](auto t) { cuda::softmax_typed<decltype(t)>(x, axis, log, y); });
}

void CudaBackend::softmax_backward(const View& y, const View& dy, int axis, bool log,
                                   const View& dx) {
  activate();
  dispatch_floating(y.dtype, "softmax_backward", [&](auto t) {
    cuda::softmax_backward_typed<decltype(t)>(y, dy, axis, log, dx);
  });
}

void CudaBackend::l2_normalize_rows(const View& x, double eps, const View& y, const View& norms) {
  activate();
  dispatch_floating(x.dtype, "l2_normalize", [&](auto t) {
    cuda::l2_normalize_typed<decltype(t)>(x, eps, y, norms);
  });
}

void CudaBackend::l2_normalize_rows_backward(const View& y, const View& norms, const View& dy,
                                             double eps, const View& dx) {
  activate();
  dispatch_floating(y.dtype, "l2_normalize_backward", [&](auto t) {
    cuda::l2_normalize_backward_typed<decltype(t)>(y, norms, dy, eps, dx);
  });
}

}  // namespace margin
