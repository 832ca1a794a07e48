// backends/cuda/context.cpp — device discovery, the registry of CUDA backends, per-GPU state
// (allocator, cuBLAS and cuDNN handles) and the CudaBackend members that only touch that state:
// memory and host ↔ device transfers.
//
// Backends and their contexts are created once and never destroyed: tensors held in static
// objects may be freed after main() returns, when the CUDA runtime may already be gone.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <vector>

#include "backends/cuda/context.h"
#include "backends/cuda/cuda_backend.h"

namespace margin {
namespace cuda {

void check_cuda(cudaError_t status, const char* call) {
  if (status == cudaSuccess) return;
  cudaGetLastError();  // clear a non-sticky error so the next call does not report it again
  fail(call, ": ", cudaGetErrorString(status), " (", cudaGetErrorName(status), ")");
}

void check_cublas(cublasStatus_t status, const char* call) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  fail(call, ": ", cublasGetStatusString(status), " (", cublasGetStatusName(status), ")");
}

void check_cudnn(cudnnStatus_t status, const char* call) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  fail(call, ": ", cudnnGetErrorString(status), " (cuDNN status ", static_cast<int>(status),
       ")");
}

Context::Context(int index_)
    : index(index_),
      pool([this](size_t bytes) { return allocate_from_device(bytes); },
           [this](void* block) {
             check_cuda(cudaSetDevice(index), "cudaSetDevice");
             check_cuda(cudaFree(block), "cudaFree");
           }) {}

void* Context::allocate_from_device(size_t bytes) {
  check_cuda(cudaSetDevice(index), "cudaSetDevice");
  void* block = nullptr;
  cudaError_t status = cudaMalloc(&block, bytes);
  if (status == cudaErrorMemoryAllocation) {
    // Blocks cached for other sizes may be what is missing: give them back and try again.
    cudaGetLastError();
    pool.release_cached();
    status = cudaMalloc(&block, bytes);
  }
  if (status != cudaSuccess) {
    cudaGetLastError();
    fail("cudaMalloc(", bytes, " bytes) on cuda:", index, ": ", cudaGetErrorString(status), " (",
         cudaGetErrorName(status), ")");
  }
  return block;
}

cublasHandle_t Context::blas() {
  std::call_once(blas_created_, [this] {
    check_cublas(cublasCreate(&blas_), "cublasCreate");
    // No TF32: float32 products keep float32 precision, so CUDA matches the CPU backend
    // within the parity tolerance (tests/test_parity.cpp).
    check_cublas(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
  });
  return blas_;
}

cudnnHandle_t Context::dnn() {
  std::call_once(dnn_created_, [this] { check_cudnn(cudnnCreate(&dnn_), "cudnnCreate"); });
  return dnn_;
}

}  // namespace cuda

int cuda_device_count() {
  static const int count = [] {
    int devices = 0;
    // No driver, no device, a driver too old: all of them mean "no CUDA here", not an error.
    if (cudaGetDeviceCount(&devices) != cudaSuccess) {
      cudaGetLastError();
      return 0;
    }
    return devices;
  }();
  return count;
}

Backend& cuda_backend(int index) {
  static const std::vector<CudaBackend*>& backends = *[] {
    auto* list = new std::vector<CudaBackend*>;
    for (int i = 0; i < cuda_device_count(); ++i) list->push_back(new CudaBackend(i));
    return list;
  }();
  if (index < 0 || index >= static_cast<int>(backends.size()))
    fail("cuda_backend: no device cuda:", index, " (", backends.size(),
         " CUDA devices visible)");
  return *backends[index];
}

CudaBackend::CudaBackend(int index) : index_(index), context_(new cuda::Context(index)) {}
CudaBackend::~CudaBackend() = default;

cuda::Context& CudaBackend::activate() const {
  cuda::check_cuda(cudaSetDevice(index_), "cudaSetDevice");
  return *context_;
}

void* CudaBackend::allocate(size_t bytes) { return context_->pool.allocate(bytes); }
void CudaBackend::deallocate(void* ptr, size_t bytes) { context_->pool.deallocate(ptr, bytes); }
size_t CudaBackend::system_allocations() const { return context_->pool.system_allocations(); }
void CudaBackend::release_cached() { context_->pool.release_cached(); }

void CudaBackend::synchronize() {
  activate();
  // Also where an asynchronous kernel failure surfaces, named after the call that saw it.
  cuda::check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

void CudaBackend::copy_from_host(const void* host, const View& dst) {
  activate();
  cuda::check_cuda(cudaMemcpy(dst.data, host, dst.numel() * dtype_size(dst.dtype),
                              cudaMemcpyHostToDevice),
                   "cudaMemcpy (host to device)");
}

void CudaBackend::copy_to_host(const View& src, void* host) {
  activate();
  // Synchronous: it waits for the kernels that wrote src, and reports their errors too.
  cuda::check_cuda(cudaMemcpy(host, src.data, src.numel() * dtype_size(src.dtype),
                              cudaMemcpyDeviceToHost),
                   "cudaMemcpy (device to host)");
}

}  // namespace margin
