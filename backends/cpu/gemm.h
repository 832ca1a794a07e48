// backends/cpu/gemm.h — the CPU backend's matrix product, C = alpha·A·B (+ C), written out
// (packing plus a register-blocked kernel) because Eigen's general product reaches only about
// half of this machine's AVX-512 FMA rate; gemm.cpp has the method and the measurements.
//
// A and B are read through strides, so a transpose is a view, never a copy:
//   A(i, k) = a.data[i·a.row_stride + k·a.col_stride]      (M × K)
//   B(k, j) = b.data[k·b.row_stride + j·b.col_stride]      (K × N)
//   C(i, j) = c[i·ldc + j]                                 (M × N, row-major)
// gemm runs on the calling thread; gemm_threaded splits C's rows or columns over OpenMP's
// threads. With accumulate = false, C is only written (it may hold garbage or NaN).
#pragma once
#include <cstdint>

namespace margin::cpu {

template <class T>
struct StridedMatrix {
  const T* data;
  int64_t rows, cols, row_stride, col_stride;
  const T& operator()(int64_t i, int64_t j) const { return data[i * row_stride + j * col_stride]; }
  // Row-major [rows, cols] with rows `stride` apart (cols by default), and its transpose.
  static StridedMatrix row_major(const T* data, int64_t rows, int64_t cols, int64_t stride = -1) {
    return {data, rows, cols, stride < 0 ? cols : stride, 1};
  }
  StridedMatrix transposed() const { return {data, cols, rows, col_stride, row_stride}; }
};

template <class T>
void gemm(const StridedMatrix<T>& a, const StridedMatrix<T>& b, T* c, int64_t ldc, T alpha,
          bool accumulate);
template <class T>
void gemm_threaded(const StridedMatrix<T>& a, const StridedMatrix<T>& b, T* c, int64_t ldc,
                   T alpha, bool accumulate);

}  // namespace margin::cpu
