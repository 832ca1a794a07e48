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

// The output is contiguous; a and b have its shape, stride 0 along their broadcast dims. Dims
// that both walk as one are merged first (shape[d] · shape[d + 1] with stride[d + 1]), so that
// [N, C, H, W] + [1, C, 1, 1] runs along rows of H·W, each against one value of b; the threads
// take pieces of at most kPiece columns of those rows (one row, when every dim merges).
void CpuBackend::binary(BinaryOp op, const View& a, const View& b, const View& out) {
  Shape shape, a_strides, b_strides;
  for (size_t d = 0; d < out.shape.size(); ++d) {
    const bool merges = !shape.empty() && a_strides.back() == a.strides[d] * out.shape[d] &&
                        b_strides.back() == b.strides[d] * out.shape[d];
    if (merges) {
      shape.back() *= out.shape[d];
      a_strides.back() = a.strides[d], b_strides.back() = b.strides[d];
    } else {
      shape.push_back(out.shape[d]), a_strides.push_back(a.strides[d]), b_strides.push_back(b.strides[d]);
    }
  }
  const RowWalk walk(shape);
  constexpr int64_t kPiece = 16384;
  const int64_t pieces = (walk.cols + kPiece - 1) / kPiece;  // a row's
  dispatch_floating(out.dtype, binary_name(op), [&](auto t) {
    using T = decltype(t);
    const T *left = a.ptr<T>(), *right = b.ptr<T>();
    T* result = out.ptr<T>();
    int64_t a_step = walk.col_stride(a_strides), b_step = walk.col_stride(b_strides);
#pragma omp parallel for if (worth_threads(out.numel()))
    for (int64_t task = 0; task < walk.rows * pieces; ++task) {
      const int64_t row = task / pieces, first = task % pieces * kPiece;
      const int64_t count = std::min(kPiece, walk.cols - first);
      const T* a_row = left + walk.row_offset(row, a_strides) + first * a_step;
      const T* b_row = right + walk.row_offset(row, b_strides) + first * b_step;
      T* out_row = result + row * walk.cols + first;
      if (a_step == 1 && b_step == 1) {
        for (int64_t col = 0; col < count; ++col) out_row[col] = apply_binary<T>(op, a_row[col], b_row[col]);
      } else if (a_step == 1 && b_step == 0) {
        const T value = *b_row;
        for (int64_t col = 0; col < count; ++col) out_row[col] = apply_binary<T>(op, a_row[col], value);
      } else if (a_step == 0 && b_step == 1) {
        const T value = *a_row;
        for (int64_t col = 0; col < count; ++col) out_row[col] = apply_binary<T>(op, value, b_row[col]);
      } else {
        for (int64_t col = 0; col < count; ++col)
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
