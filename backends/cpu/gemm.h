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
// B may also be given as a PanelSource: the GEMM then never reads B, only asks for the panels
// it packs, so B need not exist in memory (convolution's implicit GEMM, conv.cpp).
//
// Operands::kBFloat16 (float only) rounds A and B to bfloat16 (to nearest even) as they are
// packed and multiplies those: each product of two bfloat16 values is exact in float, and the
// sums are float's, as on a GPU's tensor cores. On a CPU with AMX (Intel Sapphire Rapids on)
// the kernel runs on tdpbf16ps, a 16 × 16 × 32 product an instruction; on one with AVX-512 BF16
// only, on vdpbf16ps, two products per lane and instruction; on any other CPU the float kernel
// multiplies the rounded values — the same products, at float speed — after a one-line notice
// on stderr.
#pragma once
#include <cstdint>

#include "backends/types.h"

namespace margin::cpu {

enum class Operands : uint8_t { kFloat, kBFloat16 };

// Which bfloat16 kernel runs: the CPU's best (kAuto: AMX's tdpbf16ps where the CPU and the OS
// allow it, else vdpbf16ps where the CPU has it), vdpbf16ps even where AMX is there (kVector),
// or the float kernel on rounded values (kEmulated). Tests and benchmarks may ask for any of them
// on any CPU; one the CPU lacks falls to the next.
enum class BFloat16Kernel : uint8_t { kAuto, kVector, kEmulated };
void set_bfloat16_kernel(BFloat16Kernel kernel);
const char* bfloat16_kernel_name();  // the kernel kBFloat16 products run on now, in words
bool bfloat16_products_on_amx();     // whether that kernel is AMX's
bool bfloat16_products_on_vector();  // whether it is vdpbf16ps
#if defined(__AVX512F__)
// This thread's eight AMX tiles, each 16 rows of 64 bytes: configured before tile code runs,
// released after it.
void configure_amx_tiles();
void release_amx_tiles();
#endif

// A backend call's `operands` (backend.h, "Products") for data of `dtype`: F32, or BF16 for
// float32 data; anything else is an error naming the kernel.
Operands operands_of(DType operands, DType dtype, const char* kernel);

// out[i] = in[i] rounded to bfloat16 (to nearest even), for i < count; out may be in (in
// place): what the float kernel multiplies for kBFloat16 operands.
void round_to_bfloat16(const float* in, int64_t count, float* out);

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

// B (rows × cols, K × N) as the panels the GEMM packs it into: pack() writes
//   dst[k·width + j] = B(k0 + k, j0 + j)   for k < kc, j < n ≤ width
// (the GEMM zeroes columns n ≤ j < width itself). It is called from every thread at once.
template <class T>
struct PanelSource {
  int64_t rows, cols;
  PanelSource(int64_t rows, int64_t cols) : rows(rows), cols(cols) {}
  virtual void pack(int64_t k0, int64_t kc, int64_t j0, int64_t n, int width, T* dst) const = 0;

 protected:
  ~PanelSource() = default;
};

// dst[k·width + j] = src[j·ld + k] for j < n, k < kc: n rows of src, running along k,
// interleaved into a panel (a transpose). For PanelSources whose B is held by columns.
template <class T>
void interleave_rows(const T* src, int64_t ld, int64_t n, int64_t kc, int width, T* dst);

template <class T>
void gemm(const StridedMatrix<T>& a, const StridedMatrix<T>& b, T* c, int64_t ldc, T alpha,
          bool accumulate, Operands operands = Operands::kFloat);
template <class T>
void gemm_threaded(const StridedMatrix<T>& a, const StridedMatrix<T>& b, T* c, int64_t ldc,
                   T alpha, bool accumulate, Operands operands = Operands::kFloat);
template <class T>
void gemm(const StridedMatrix<T>& a, const PanelSource<T>& b, T* c, int64_t ldc, T alpha,
          bool accumulate, Operands operands = Operands::kFloat);
template <class T>
void gemm_threaded(const StridedMatrix<T>& a, const PanelSource<T>& b, T* c, int64_t ldc,
                   T alpha, bool accumulate, Operands operands = Operands::kFloat);

}  // namespace margin::cpu
