// backends/cpu/elementwise.cpp — unary ops and their derivatives, broadcasting binary ops.
#include <cmath>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/loops.h"

namespace margin {
using namespace cpu;

namespace {

template <class T>
T apply_unary(UnaryOp op, T x, T alpha, T beta) {
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Exp: return std::exp(x);
    case UnaryOp::Log: return std::log(x);
    case UnaryOp::Sqrt: return std::sqrt(x);
    case UnaryOp::Abs: return std::abs(x);
    case UnaryOp::Relu: return x > T(0) ? x : T(0);
    case UnaryOp::Sigmoid: return T(1) / (T(1) + std::exp(-x));
    case UnaryOp::Tanh: return std::tanh(x);
    case UnaryOp::Pow: return std::pow(x, alpha);
    case UnaryOp::AddScalar: return x + alpha;
    case UnaryOp::MulScalar: return x * alpha;
    case UnaryOp::Clamp: return std::min(std::max(x, alpha), beta);
    case UnaryOp::Acos: return std::acos(std::min(std::max(x, T(-1)), T(1)));
    case UnaryOp::Cos: return std::cos(x);
  }
  return x;
}

// d op(x) / dx, given x and y = op(x).
template <class T>
T unary_derivative(UnaryOp op, T x, T y, T alpha, T beta) {
  switch (op) {
    case UnaryOp::Neg: return T(-1);
    case UnaryOp::Exp: return y;
    case UnaryOp::Log: return T(1) / x;
    case UnaryOp::Sqrt: return T(0.5) / y;
    case UnaryOp::Abs: return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
    case UnaryOp::Relu: return x > T(0) ? T(1) : T(0);
    case UnaryOp::Sigmoid: return y * (T(1) - y);
    case UnaryOp::Tanh: return T(1) - y * y;
    case UnaryOp::Pow: return alpha * std::pow(x, alpha - T(1));
    case UnaryOp::AddScalar: return T(1);
    case UnaryOp::MulScalar: return alpha;
    case UnaryOp::Clamp: return (x > alpha && x < beta) ? T(1) : T(0);
    case UnaryOp::Acos: return T(-1) / std::sqrt(std::max(T(1) - x * x, T(1e-12)));
    case UnaryOp::Cos: return -std::sin(x);
  }
  return T(0);
}

template <class T>
T apply_binary(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
  }
  return a;
}

}  // namespace

void CpuBackend::unary(UnaryOp op, double alpha, double beta, const View& x, const View& y) {
  dispatch_floating(x.dtype, unary_name(op), [&](auto t) {
    using T = decltype(t);
    const T* in = x.ptr<T>();
    T* out = y.ptr<T>();
    int64_t n = x.numel();
#pragma omp parallel for if (worth_threads(n))
    for (int64_t i = 0; i < n; ++i) out[i] = apply_unary<T>(op, in[i], T(alpha), T(beta));
  });
}

void CpuBackend::unary_backward(UnaryOp op, double alpha, double beta, const View& x,
                                const View& y, const View& dy, const View& dx) {
  dispatch_floating(x.dtype, unary_name(op), [&](auto t) {
    using T = decltype(t);
    const T *in = x.ptr<T>(), *out = y.ptr<T>(), *grad_out = dy.ptr<T>();
    T* grad_in = dx.ptr<T>();
    int64_t n = x.numel();
#pragma omp parallel for if (worth_threads(n))
    for (int64_t i = 0; i < n; ++i)
      grad_in[i] = grad_out[i] * unary_derivative<T>(op, in[i], out[i], T(alpha), T(beta));
  });
}

void CpuBackend::binary(BinaryOp op, const View& a, const View& b, const View& out) {
  RowWalk walk(out.shape);
  dispatch_floating(out.dtype, binary_name(op), [&](auto t) {
    using T = decltype(t);
    const T *left = a.ptr<T>(), *right = b.ptr<T>();
    T* result = out.ptr<T>();
    int64_t a_step = walk.col_stride(a.strides), b_step = walk.col_stride(b.strides);
#pragma omp parallel for if (worth_threads(out.numel()))
    for (int64_t row = 0; row < walk.rows; ++row) {
      const T* a_row = left + walk.row_offset(row, a.strides);
      const T* b_row = right + walk.row_offset(row, b.strides);
      T* out_row = result + row * walk.cols;
      if (a_step == 1 && b_step == 1) {
        for (int64_t col = 0; col < walk.cols; ++col)
          out_row[col] = apply_binary<T>(op, a_row[col], b_row[col]);
      } else {
        for (int64_t col = 0; col < walk.cols; ++col)
          out_row[col] = apply_binary<T>(op, a_row[col * a_step], b_row[col * b_step]);
      }
    }
  });
}

void CpuBackend::axpy(double alpha, const View& x, const View& y) {
  dispatch_floating(x.dtype, "axpy", [&](auto t) {
    using T = decltype(t);
    const T* in = x.ptr<T>();
    T* out = y.ptr<T>();
    int64_t n = x.numel();
#pragma omp parallel for if (worth_threads(n))
    for (int64_t i = 0; i < n; ++i) out[i] += T(alpha) * in[i];
  });
}

}  // namespace margin
