// backends/cuda/linalg.cpp — matrix products through cuBLAS (float32: Sgemm, float64: Dgemm;
// bfloat16 or float16 operands of float32 data: GemmEx on the 16-bit values with float32 sums
// and result, the tensor cores' product; batched: the strided-batched variants).
//
// margin's matrices are row-major and cuBLAS's column-major. A row-major [M, N] matrix is the
// column-major [N, M] matrix of its transpose, so C = op(A)·op(B) is computed as
// Cᵀ = op(B)ᵀ·op(A)ᵀ: swap the operands, keep each one's transpose flag, and use each row-major
// matrix's column count as its leading dimension. No copy, no transpose kernel.
#include <cublas_v2.h>

#include <algorithm>
#include <cstdint>

#include "backends/cuda/context.h"
#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/rounded.h"

namespace margin {
namespace {

struct GemmShape {
  int m, n, k;        // C is [m, n]; op(A) is [m, k]; op(B) is [k, n]
  int lda, ldb, ldc;  // row-major column counts
  long long a_size, b_size, c_size;  // elements per matrix of a batch
  int batch;
};

// cuBLAS takes int sizes: refuse (rather than truncate) anything beyond them.
int as_int(int64_t value, const char* what) {
  if (value > INT32_MAX) fail("matmul on CUDA: ", what, " = ", value, " exceeds cuBLAS's int range");
  return static_cast<int>(value);
}

GemmShape gemm_shape(bool trans_a, const View& a, const View& b, const View& c) {
  auto rows = [](const View& v) { return v.shape[v.ndim() - 2]; };
  auto cols = [](const View& v) { return v.shape[v.ndim() - 1]; };
  GemmShape s;
  s.m = as_int(rows(c), "M");
  s.n = as_int(cols(c), "N");
  s.k = as_int(trans_a ? rows(a) : cols(a), "K");
  s.lda = std::max(1, as_int(cols(a), "lda"));
  s.ldb = std::max(1, as_int(cols(b), "ldb"));
  s.ldc = std::max(1, s.n);
  s.a_size = rows(a) * cols(a);
  s.b_size = rows(b) * cols(b);
  s.c_size = rows(c) * cols(c);
  s.batch = c.ndim() == 3 ? as_int(c.shape[0], "batch") : 1;
  return s;
}

cublasStatus_t gemm_call(cublasHandle_t handle, cublasOperation_t op_b, cublasOperation_t op_a,
                         const GemmShape& s, const float* alpha, const float* b, const float* a,
                         const float* beta, float* c) {
  if (s.batch == 1)
    return cublasSgemm(handle, op_b, op_a, s.n, s.m, s.k, alpha, b, s.ldb, a, s.lda, beta, c,
                       s.ldc);
  return cublasSgemmStridedBatched(handle, op_b, op_a, s.n, s.m, s.k, alpha, b, s.ldb, s.b_size,
                                   a, s.lda, s.a_size, beta, c, s.ldc, s.c_size, s.batch);
}

cublasStatus_t gemm_call(cublasHandle_t handle, cublasOperation_t op_b, cublasOperation_t op_a,
                         const GemmShape& s, const double* alpha, const double* b,
                         const double* a, const double* beta, double* c) {
  if (s.batch == 1)
    return cublasDgemm(handle, op_b, op_a, s.n, s.m, s.k, alpha, b, s.ldb, a, s.lda, beta, c,
                       s.ldc);
  return cublasDgemmStridedBatched(handle, op_b, op_a, s.n, s.m, s.k, alpha, b, s.ldb, s.b_size,
                                   a, s.lda, s.a_size, beta, c, s.ldc, s.c_size, s.batch);
}

// Operands of `type` (CUDA_R_16BF or CUDA_R_16F), float32 sums and C.
cublasStatus_t gemm_call(cublasHandle_t handle, cublasOperation_t op_b, cublasOperation_t op_a,
                         const GemmShape& s, const float* alpha, const void* b, const void* a,
                         const float* beta, float* c, cudaDataType type) {
  if (s.batch == 1)
    return cublasGemmEx(handle, op_b, op_a, s.n, s.m, s.k, alpha, b, type, s.ldb, a, type, s.lda, beta, c,
                        CUDA_R_32F, s.ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  return cublasGemmStridedBatchedEx(handle, op_b, op_a, s.n, s.m, s.k, alpha, b, type, s.ldb, s.b_size, a, type,
                                    s.lda, s.a_size, beta, c, CUDA_R_32F, s.ldc, s.c_size, s.batch,
                                    CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
}

template <class T>
void gemm_typed(cublasHandle_t handle, bool trans_a, bool trans_b, T alpha, const View& a,
                const View& b, T beta, const View& c) {
  GemmShape s = gemm_shape(trans_a, a, b, c);
  cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  cuda::check_cublas(gemm_call(handle, op_b, op_a, s, &alpha, b.ptr<T>(), a.ptr<T>(), &beta,
                               c.ptr<T>()),
                     s.batch == 1 ? "cublas gemm" : "cublas gemmStridedBatched");
}

}  // namespace

void CudaBackend::gemm(bool trans_a, bool trans_b, double alpha, const View& a, const View& b,
                       double beta, const View& c, DType operands) {
  cuda::Context& context = activate();
  if (c.numel() == 0) return;
  int64_t k = trans_a ? a.shape[a.ndim() - 2] : a.shape[a.ndim() - 1];
  if (k == 0) {  // an empty sum: c = beta · c, and beta = 0 assigns zeros (NaN or not)
    if (beta == 0) fill(c, 0.0);
    else unary(UnaryOp::MulScalar, beta, 0.0, c, c);
    return;
  }
  cublasHandle_t handle = context.blas();
  if (operands != DType::F32) {  // 16-bit copies of the operands (rounded.h), float32 sums and result
    using Width = cuda::RoundedOperand::Width;
    cuda::RoundedOperand a_half(context, a, operands, "matmul", Width::kHalf),
        b_half(context, b, operands, "matmul", Width::kHalf);
    GemmShape s = gemm_shape(trans_a, a, b, c);
    const float alpha_f = float(alpha), beta_f = float(beta);
    cuda::check_cublas(gemm_call(handle, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, s,
                                 &alpha_f, b_half.data(), a_half.data(), &beta_f, c.ptr<float>(),
                                 operands == DType::BF16 ? CUDA_R_16BF : CUDA_R_16F),
                       s.batch == 1 ? "cublasGemmEx" : "cublasGemmStridedBatchedEx");
    return;
  }
  switch (c.dtype) {
    case DType::F32:
      gemm_typed<float>(handle, trans_a, trans_b, float(alpha), a, b, float(beta), c);
      return;
    case DType::F64: gemm_typed<double>(handle, trans_a, trans_b, alpha, a, b, beta, c); return;
    default: fail("matmul: expected float32 or float64, got ", dtype_name(c.dtype), dtype_hint(c.dtype));
  }
}

}  // namespace margin
