// backends/cpu/linalg.cpp — matrix products through Eigen's GEMM (never a hand-written loop).
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/eigen_maps.h"
#include "backends/cpu/loops.h"

namespace margin {
using namespace cpu;

namespace {

// c = alpha · op(a) · op(b) + beta · c for one matrix of a batch.
template <class T>
void gemm_one(bool trans_a, bool trans_b, T alpha, const T* a, int64_t a_rows, int64_t a_cols,
              const T* b, int64_t b_rows, int64_t b_cols, T beta, T* c, int64_t m, int64_t n) {
  ConstMatrixMap<T> A(a, a_rows, a_cols), B(b, b_rows, b_cols);
  MatrixMap<T> C(c, m, n);
  // beta = 0 assigns (Eigen's fastest path: no read of C); otherwise scale C and add.
  auto product = [&](const auto& left, const auto& right) {
    if (beta == T(0)) {
      if (alpha == T(1)) C.noalias() = left * right;
      else C.noalias() = alpha * left * right;
    } else {
      if (beta != T(1)) C *= beta;
      C.noalias() += alpha * left * right;
    }
  };
  // The four transpose cases are spelled out so Eigen sees a plain product each time.
  if (!trans_a && !trans_b) product(A, B);
  else if (trans_a && !trans_b) product(A.transpose(), B);
  else if (!trans_a && trans_b) product(A, B.transpose());
  else product(A.transpose(), B.transpose());
}

}  // namespace

void CpuBackend::gemm(bool trans_a, bool trans_b, double alpha, const View& a, const View& b,
                      double beta, const View& c) {
  bool batched = c.ndim() == 3;
  int64_t batch = batched ? c.shape[0] : 1;
  auto rows = [&](const View& v) { return v.shape[v.ndim() - 2]; };
  auto cols = [&](const View& v) { return v.shape[v.ndim() - 1]; };
  dispatch_floating(c.dtype, "matmul", [&](auto t) {
    using T = decltype(t);
    int64_t a_size = rows(a) * cols(a), b_size = rows(b) * cols(b), c_size = rows(c) * cols(c);
    // Eigen threads each product itself; the batch loop stays serial.
    for (int64_t i = 0; i < batch; ++i)
      gemm_one<T>(trans_a, trans_b, T(alpha), a.ptr<T>() + i * a_size, rows(a), cols(a),
                  b.ptr<T>() + i * b_size, rows(b), cols(b), T(beta), c.ptr<T>() + i * c_size,
                  rows(c), cols(c));
  });
}

}  // namespace margin
