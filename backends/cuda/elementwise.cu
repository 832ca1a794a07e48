// backends/cuda/elementwise.cu — unary ops and their derivatives, broadcasting binary ops,
// axpy: one thread per element, the same formulas as backends/cpu/elementwise.cpp.
#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/launch.cuh"

namespace margin {
namespace cuda {

template <class T>
__device__ T apply_unary(UnaryOp op, T x, T alpha, T beta) {
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Exp: return exp(x);
    case UnaryOp::Log: return log(x);
    case UnaryOp::Sqrt: return sqrt(x);
    case UnaryOp::Abs: return fabs(x);
    case UnaryOp::Relu: return x > T(0) ? x : T(0);
    case UnaryOp::Sigmoid: return T(1) / (T(1) + exp(-x));
    case UnaryOp::Tanh: return tanh(x);
    case UnaryOp::Pow: return pow(x, alpha);
    case UnaryOp::AddScalar: return x + alpha;
    case UnaryOp::MulScalar: return x * alpha;
    case UnaryOp::Clamp: {  // std::min(std::max(x, alpha), beta) spelled out: NaN stays NaN
      T above = x < alpha ? alpha : x;
      return beta < above ? beta : above;
    }
    case UnaryOp::Acos: {  // clamped to [−1, 1] first (std::min/max order: NaN stays NaN)
      T above = x < T(-1) ? T(-1) : x;
      return acos(T(1) < above ? T(1) : above);
    }
    case UnaryOp::Cos: return cos(x);
  }
  return x;
}

// d op(x) / dx, given x and y = op(x).
template <class T>
__device__ T unary_derivative(UnaryOp op, T x, T y, T alpha, T beta) {
  switch (op) {
    case UnaryOp::Neg: return T(-1);
    case UnaryOp::Exp: return y;
    case UnaryOp::Log: return T(1) / x;
    case UnaryOp::Sqrt: return T(0.5) / y;
    case UnaryOp::Abs: return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
    case UnaryOp::Relu: return x > T(0) ? T(1) : T(0);
    case UnaryOp::Sigmoid: return y * (T(1) - y);
    case UnaryOp::Tanh: return T(1) - y * y;
    case UnaryOp::Pow: return alpha * pow(x, alpha - T(1));
    case UnaryOp::AddScalar: return T(1);
    case UnaryOp::MulScalar: return alpha;
    case UnaryOp::Clamp: return (x > alpha && x < beta) ? T(1) : T(0);
    case UnaryOp::Acos: {  // 1 − x² floored at 1e-12, as std::max(1 − x², 1e-12) on the CPU
      T room = T(1) - x * x;
      return T(-1) / sqrt(room < T(1e-12) ? T(1e-12) : room);
    }
    case UnaryOp::Cos: return -sin(x);
  }
  return T(0);
}

template <class T>
__device__ T apply_binary(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
  }
  return a;
}

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
  cuda::dispatch_floating(x.dtype, unary_name(op), [&](auto t) {
    using T = decltype(t);
    cuda::unary_typed<T>(op, T(alpha), T(beta), x, y);
  });
}

void CudaBackend::unary_backward(UnaryOp op, double alpha, double beta, const View& x,
                                 const View& y, const View& dy, const View& dx) {
  activate();
  cuda::dispatch_floating(x.dtype, unary_name(op), [&](auto t) {
    using T = decltype(t);
    cuda::unary_backward_typed<T>(op, T(alpha), T(beta), x, y, dy, dx);
  });
}

void CudaBackend::binary(BinaryOp op, const View& a, const View& b, const View& out) {
  activate();
  cuda::dispatch_floating(out.dtype, binary_name(op),
                          [&](auto t) { cuda::binary_typed<decltype(t)>(op, a, b, out); });
}

void CudaBackend::axpy(double alpha, const View& x, const View& y) {
  activate();
  cuda::dispatch_floating(x.dtype, "axpy", [&](auto t) {
    using T = decltype(t);
    cuda::axpy_typed<T>(T(alpha), x, y);
  });
}

}  // namespace margin
