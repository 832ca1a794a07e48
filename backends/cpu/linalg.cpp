// backends/cpu/linalg.cpp — matrix products through the backend's own GEMM (gemm.h: packed,
// register-blocked, threaded over stripes of C); a transpose is a strided view, never a copy.
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/gemm.h"
#include "backends/cpu/loops.h"

namespace margin {
using namespace cpu;

namespace {

// c = alpha · op(a) · op(b) + beta · c for one matrix of a batch.
template <class T>
void gemm_one(bool trans_a, bool trans_b, T alpha, const T* a, int64_t a_rows, int64_t a_cols,
              const T* b, int64_t b_rows, int64_t b_cols, T beta, T* c, int64_t m, int64_t n,
              Operands operands) {
  auto A = StridedMatrix<T>::row_major(a, a_rows, a_cols);
  auto B = StridedMatrix<T>::row_major(b, b_rows, b_cols);
  // beta = 0 only writes C (it may hold garbage); otherwise C is scaled and added to.
  if (beta != T(0) && beta != T(1))
    for (int64_t i = 0; i < m * n; ++i) c[i] *= beta;
  gemm_threaded(trans_a ? A.transposed() : A, trans_b ? B.transposed() : B, c, n, alpha,
                beta != T(0), operands);
}

}  // namespace

void CpuBackend::gemm(bool trans_a, bool trans_b, double alpha, const View& a, const View& b,
                      double beta, const View& c, DType operands) {
  const Operands products = operands_of(operands, c.dtype, "matmul");
  bool batched = c.ndim() == 3;
  int64_t batch = batched ? c.shape[0] : 1;
  auto rows = [&](const View& v) { return v.shape[v.ndim() - 2]; };
  auto cols = [&](const View& v) { return v.shape[v.ndim() - 1]; };
  dispatch_floating(c.dtype, "matmul", [&](auto t) {
    using T = decltype(t);
    int64_t a_size = rows(a) * cols(a), b_size = rows(b) * cols(b), c_size = rows(c) * cols(c);
    // Each product is threaded over stripes of C; the batch loop stays serial.
    for (int64_t i = 0; i < batch; ++i)
      gemm_one<T>(trans_a, trans_b, T(alpha), a.ptr<T>() + i * a_size, rows(a), cols(a),
                  b.ptr<T>() + i * b_size, rows(b), cols(b), T(beta), c.ptr<T>() + i * c_size,
                  rows(c), cols(c), products);
  });
}

}  // namespace margin
