// backends/cuda/elementwise.cu — unary ops and their derivatives, broadcasting binary ops,
// axpy: one thread per element; the formulas are in backends/elementwise_math.h (shared with
// the CPU).
#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/launch.cuh"
#include "backends/elementwise_math.h"

namespace margin {
namespace cuda {

template <class T>
void unary_typed(UnaryOp op, T alpha, T beta, const View& x, const View& y) {
  const T* in = x.ptr<T>();
  T* out = y.ptr<T>();
  parallel_for(x.numel(), unary_name(op), [=] __device__(int64_t i) {
    out[i] = apply_unary<T>(op, in[i], alpha, beta);
  });
}

template <class T>
void unary_backward_typed(UnaryOp op, T alpha, T beta, const View& x, const View& y,
                          const View& dy, const View& dx) {
  const T *in = x.ptr<T>(), *out = y.ptr<T>(), *grad_out = dy.ptr<T>();
  T* grad_in = dx.ptr<T>();
  parallel_for(x.numel(), unary_name(op), [=] __device__(int64_t i) {
    grad_in[i] = grad_out[i] * unary_derivative<T>(op, in[i], out[i], alpha, beta);
  });
}

template <class T>
void binary_typed(BinaryOp op, const View& a, const View& b, const View& out) {
  const T *left = a.ptr<T>(), *right = b.ptr<T>();
  T* result = out.ptr<T>();
  if (a.is_contiguous() && b.is_contiguous()) {  // no broadcasting: skip the index arithmetic
    parallel_for(out.numel(), binary_name(op), [=] __device__(int64_t i) {
      result[i] = apply_binary<T>(op, left[i], right[i]);
    });
    return;
  }
  Layout a_layout = make_layout(out.shape, a.strides, binary_name(op));
  Layout b_layout = make_layout(out.shape, b.strides, binary_name(op));
  parallel_for(out.numel(), binary_name(op), [=] __device__(int64_t i) {
    result[i] = apply_binary<T>(op, left[a_layout.offset(i)], right[b_layout.offset(i)]);
  });
}

template <class T>
void axpy_typed(T alpha, const View& x, const View& y) {
  const T* in = x.ptr<T>();
  T* out = y.ptr<T>();
  parallel_for(x.numel(), "axpy", [=] __device__(int64_t i) { out[i] += alpha * in[i]; });
}

}  // namespace cuda

void CudaBackend::unary(UnaryOp op, double alpha, double beta, const View& x, const View& y) {
  activate();
  dispatch_floating(x.dtype, unary_name(op), [&](auto t) {
    using T = decltype(t);
    cuda::unary_typed<T>(op, T(alpha), T(beta), x, y);
  });
}

void CudaBackend::unary_backward(UnaryOp op, double alpha, double beta, const View& x,
                                 const View& y, const View& dy, const View& dx) {
  activate();
  dispatch_floating(x.dtype, unary_name(op), [&](auto t) {
    using T = decltype(t);
    cuda::unary_backward_typed<T>(op, T(alpha), T(beta), x, y, dy, dx);
  });
}

void CudaBackend::binary(BinaryOp op, const View& a, const View& b, const View& out) {
  activate();
  dispatch_floating(out.dtype, binary_name(op),
                          [&](auto t) { cuda::binary_typed<decltype(t)>(op, a, b, out); });
}

void CudaBackend::axpy(double alpha, const View& x, const View& y) {
  activate();
  dispatch_floating(x.dtype, "axpy", [&](auto t) {
    using T = decltype(t);
    cuda::axpy_typed<T>(T(alpha), x, y);
  });
}

}  // namespace margin
