// backends/cuda/context.h — the state one GPU needs: its caching allocator and its library
// handles (cuBLAS, cuDNN), plus the functions that turn
// a failed CUDA or cuBLAS status into a margin::Error naming the call.
//
// Internal to backends/cuda (it includes the CUDA headers). Left out: streams, events,
// per-thread handles (every call goes to the legacy default stream, in order).
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <mutex>

#include "backends/caching_pool.h"
#include "backends/types.h"

namespace margin::cuda {

// Throw margin::Error("<call>: <status description> (<status name>)") unless status is success.
void check_cuda(cudaError_t status, const char* call);
void check_cublas(cublasStatus_t status, const char* call);
void check_cudnn(cudnnStatus_t status, const char* call);

struct Context {
  explicit Context(int index);
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // The cuBLAS handle of this GPU, created on first use (creating one costs milliseconds
  // and device memory; a program that never multiplies matrices should not pay it).
  cublasHandle_t blas();
  // The cuDNN handle of this GPU, created on first use for the same reason.
  cudnnHandle_t dnn();

  const int index;
  CachingPool pool;

 private:
  void* allocate_from_device(size_t bytes);

  std::once_flag blas_created_;
  cublasHandle_t blas_ = nullptr;
  std::once_flag dnn_created_;
  cudnnHandle_t dnn_ = nullptr;
};

}  // namespace margin::cuda
