// tests/cuda_emulator/cublas.cpp — the cuBLAS calls margin makes, as the reference BLAS
// defines them, for the CUDA emulator (emulator.h):
//     C = alpha · op(A) · op(B) + beta · C,   column-major, op(X) = X or Xᵀ,
// op(A) m×k, op(B) k×n, C m×n, column j of a matrix starting ld elements after column j − 1.
// The argument checks are the ones cuBLAS documents (sizes ≥ 0, each ld at least the rows
// stored, a known transpose), so a wrong leading dimension in backends/cuda/linalg.cpp
// fails here as it would on a GPU; every matrix must also lie inside device memory.
// beta = 0 overwrites C without reading it (C may hold NaN), as BLAS specifies.
//
// Left out: every other cuBLAS routine, complex types (CUBLAS_OP_C is taken as a transpose),
// pointer modes other than host, and tensor-core math (the math mode is only recorded).
#include <algorithm>
#include <cstdint>

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

template <class T>
cublasStatus_t gemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                    int m, int n, int k, const T* alpha, const T* A, int lda, long long stride_a,
                    const T* B, int ldb, long long stride_b, const T* beta, T* C, int ldc,
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
    cuda_emulator::check_device_range(A, a.span(batches) * sizeof(T), name);
    cuda_emulator::check_device_range(B, b.span(batches) * sizeof(T), name);
  }
  cuda_emulator::check_device_range(C, c.span(batches) * sizeof(T), name);

  cuda_emulator::DeviceCode multiplying;  // what a GPU would run: device memory is open
  // Element (i, j) of op(X) for a matrix stored as X.
  auto at = [](const T* X, const Stored& x, bool t, int64_t i, int64_t j) {
    return t ? X[j + i * x.ld] : X[i + j * x.ld];
  };
  for (int batch = 0; batch < batches; ++batch) {
    const T* Ab = A + batch * stride_a;
    const T* Bb = B + batch * stride_b;
    T* Cb = C + batch * stride_c;
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t i = 0; i < m; ++i) {
        double product = 0;
        if (reads_ab)
          for (int64_t p = 0; p < k; ++p)
            product += double(at(Ab, a, transposed(transa), i, p)) *
                       double(at(Bb, b, transposed(transb), p, j));
        T& out = Cb[i + j * ldc];
        double kept = *beta == T(0) ? 0.0 : double(*beta) * double(out);
        out = static_cast<T>(double(*alpha) * product + kept);
      }
    }
  }
  return CUBLAS_STATUS_SUCCESS;
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
    default: return "CUBLAS_STATUS_UNKNOWN";
  }
}

const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_INVALID_VALUE: return "an unsupported value or parameter was passed";
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

}  // extern "C"
