// tests/cuda_emulator/cublas.cpp — the cuBLAS calls margin makes, as the reference BLAS
// defines them, for the CUDA emulator (emulator.h):
//     C = alpha · op(A) · op(B) + beta · C,   column-major, op(X) = X or Xᵀ,
// op(A) m×k, op(B) k×n, C m×n, column j of a matrix starting ld elements after column j − 1.
// The argument checks are the ones cuBLAS documents (sizes ≥ 0, each ld at least the rows
// stored, a known transpose), so a wrong leading dimension in backends/cuda/linalg.cpp
// fails here as it would on a GPU; every matrix must also lie inside device memory.
// beta = 0 overwrites C without reading it (C may hold NaN), as BLAS specifies.
//
// cublasGemmEx and its strided-batched form take A and B as float32, bfloat16 or float16 (both
// the same), C as float32, with float32 compute: each product exact, as on the tensor cores,
// summed here in double.
//
// Left out: every other cuBLAS routine, complex types (CUBLAS_OP_C is taken as a transpose),
// pointer modes other than host, other GemmEx types (CUBLAS_STATUS_NOT_SUPPORTED), and
// tensor-core math (the math mode is only recorded).
#include <algorithm>
#include <cstdint>

#include "backends/half.h"
#include "tests/cuda_emulator/emulator.h"

struct cublasContext {
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
};

namespace {

bool transposed(cublasOperation_t op) { return op == CUBLAS_OP_T || op == CUBLAS_OP_C; }
bool known(cublasOperation_t op) { return op == CUBLAS_OP_N || transposed(op); }

// A column-major matrix of `rows` × `cols` as stored, batch after batch `stride` apart.
struct Stored {
  int64_t rows, cols, ld, stride;
  int64_t span(int batches) const {  // elements from the first to one past the last
    if (rows == 0 || cols == 0 || batches == 0) return 0;
    return (batches - 1) * stride + ld * (cols - 1) + rows;
  }
};

// A and B's elements: float, double, bfloat16 or float16 (backends/half.h).
double value(float x) { return x; }
double value(double x) { return x; }
double value(margin::bfloat16 x) { return margin::bf16_float(x.bits); }
double value(margin::float16 x) { return margin::fp16_float(x.bits); }

// E: A's and B's element type; T: C's, alpha's and beta's.
template <class E, class T>
cublasStatus_t gemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                    int m, int n, int k, const T* alpha, const E* A, int lda, long long stride_a,
                    const E* B, int ldb, long long stride_b, const T* beta, T* C, int ldc,
                    long long stride_c, int batches, const char* name) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!known(transa) || !known(transb) || m < 0 || n < 0 || k < 0 || batches < 0 || !alpha ||
      !beta)
    return CUBLAS_STATUS_INVALID_VALUE;
  Stored a{transposed(transa) ? k : m, transposed(transa) ? m : k, lda, stride_a};
  Stored b{transposed(transb) ? n : k, transposed(transb) ? k : n, ldb, stride_b};
  Stored c{m, n, ldc, stride_c};
  if (lda < std::max<int64_t>(1, a.rows) || ldb < std::max<int64_t>(1, b.rows) ||
      ldc < std::max(1, m))
    return CUBLAS_STATUS_INVALID_VALUE;
  if (m == 0 || n == 0 || batches == 0) return CUBLAS_STATUS_SUCCESS;
  bool reads_ab = k > 0 && *alpha != T(0);
  if (reads_ab) {
    cuda_emulator::check_device_range(A, a.span(batches) * sizeof(E), name);
    cuda_emulator::check_device_range(B, b.span(batches) * sizeof(E), name);
  }
  cuda_emulator::check_device_range(C, c.span(batches) * sizeof(T), name);

  cuda_emulator::DeviceCode multiplying;  // what a GPU would run: device memory is open
  // Element (i, j) of op(X) for a matrix stored as X.
  auto at = [](const E* X, const Stored& x, bool t, int64_t i, int64_t j) {
    return value(t ? X[j + i * x.ld] : X[i + j * x.ld]);
  };
  for (int batch = 0; batch < batches; ++batch) {
    const E* Ab = A + batch * stride_a;
    const E* Bb = B + batch * stride_b;
    T* Cb = C + batch * stride_c;
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t i = 0; i < m; ++i) {
        double product = 0;
        if (reads_ab)
          for (int64_t p = 0; p < k; ++p)
            product += at(Ab, a, transposed(transa), i, p) * at(Bb, b, transposed(transb), p, j);
        T& out = Cb[i + j * ldc];
        double kept = *beta == T(0) ? 0.0 : double(*beta) * double(out);
        out = static_cast<T>(double(*alpha) * product + kept);
      }
    }
  }
  return CUBLAS_STATUS_SUCCESS;
}

// GemmEx: A and B of one type among float32, bfloat16 and float16, C float32, compute float32.
cublasStatus_t gemm_ex(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                       int k, const void* alpha, const void* A, cudaDataType Atype, int lda, long long stride_a,
                       const void* B, cudaDataType Btype, int ldb, long long stride_b, const void* beta, void* C,
                       cudaDataType Ctype, int ldc, long long stride_c, int batches,
                       cublasComputeType_t compute, const char* name) {
  const bool float_compute = compute == CUBLAS_COMPUTE_32F || compute == CUBLAS_COMPUTE_32F_PEDANTIC;
  if (Atype != Btype || Ctype != CUDA_R_32F || !float_compute)
    return CUBLAS_STATUS_NOT_SUPPORTED;
  auto run = [&](const auto* a, const auto* b) {
    return gemm(handle, transa, transb, m, n, k, static_cast<const float*>(alpha), a, lda, stride_a, b, ldb,
                stride_b, static_cast<const float*>(beta), static_cast<float*>(C), ldc, stride_c, batches, name);
  };
  switch (Atype) {
    case CUDA_R_32F: return run(static_cast<const float*>(A), static_cast<const float*>(B));
    case CUDA_R_16BF: return run(static_cast<const margin::bfloat16*>(A), static_cast<const margin::bfloat16*>(B));
    case CUDA_R_16F: return run(static_cast<const margin::float16*>(A), static_cast<const margin::float16*>(B));
    default: return CUBLAS_STATUS_NOT_SUPPORTED;
  }
}

}  // namespace

extern "C" {

cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
  if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
  *handle = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}

const char* cublasGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "CUBLAS_STATUS_UNKNOWN";
  }
}

const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_INVALID_VALUE: return "an unsupported value or parameter was passed";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
    default: return "unknown cuBLAS status";
  }
}

cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa,
                              cublasOperation_t transb, int m, int n, int k, const float* alpha,
                              const float* A, int lda, const float* B, int ldb,
                              const float* beta, float* C, int ldc) {
  return gemm(handle, transa, transb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1,
              "cublasSgemm");
}

cublasStatus_t cublasDgemm_v2(cublasHandle_t handle, cublasOperation_t transa,
                              cublasOperation_t transb, int m, int n, int k, const double* alpha,
                              const double* A, int lda, const double* B, int ldb,
                              const double* beta, double* C, int ldc) {
  return gemm(handle, transa, transb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1,
              "cublasDgemm");
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
                                         cublasOperation_t transb, int m, int n, int k,
                                         const float* alpha, const float* A, int lda,
                                         long long int strideA, const float* B, int ldb,
                                         long long int strideB, const float* beta, float* C,
                                         int ldc, long long int strideC, int batchCount) {
  return gemm(handle, transa, transb, m, n, k, alpha, A, lda, strideA, B, ldb, strideB, beta, C,
              ldc, strideC, batchCount, "cublasSgemmStridedBatched");
}

cublasStatus_t cublasDgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
                                         cublasOperation_t transb, int m, int n, int k,
                                         const double* alpha, const double* A, int lda,
                                         long long int strideA, const double* B, int ldb,
                                         long long int strideB, const double* beta, double* C,
                                         int ldc, long long int strideC, int batchCount) {
  return gemm(handle, transa, transb, m, n, k, alpha, A, lda, strideA, B, ldb, strideB, beta, C,
              ldc, strideC, batchCount, "cublasDgemmStridedBatched");
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                            int k, const void* alpha, const void* A, cudaDataType Atype, int lda, const void* B,
                            cudaDataType Btype, int ldb, const void* beta, void* C, cudaDataType Ctype, int ldc,
                            cublasComputeType_t computeType, cublasGemmAlgo_t) {
  return gemm_ex(handle, transa, transb, m, n, k, alpha, A, Atype, lda, 0, B, Btype, ldb, 0, beta, C, Ctype, ldc, 0,
                 1, computeType, "cublasGemmEx");
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                          int m, int n, int k, const void* alpha, const void* A, cudaDataType Atype,
                                          int lda, long long int strideA, const void* B, cudaDataType Btype, int ldb,
                                          long long int strideB, const void* beta, void* C, cudaDataType Ctype,
                                          int ldc, long long int strideC, int batchCount,
                                          cublasComputeType_t computeType, cublasGemmAlgo_t) {
  return gemm_ex(handle, transa, transb, m, n, k, alpha, A, Atype, lda, strideA, B, Btype, ldb, strideB, beta, C,
                 Ctype, ldc, strideC, batchCount, computeType, "cublasGemmStridedBatchedEx");
}

}  // extern "C"
