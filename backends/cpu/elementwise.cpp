// backends/cpu/elementwise.cpp — unary ops and their derivatives, broadcasting binary ops;
// the formulas are in backends/elementwise_math.h (shared with CUDA).
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/loops.h"
#include "backends/elementwise_math.h"

namespace margin {
using namespace cpu;

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
