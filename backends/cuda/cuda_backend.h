// backends/cuda/cuda_backend.h — the CUDA backend: cuBLAS for matrix products, cuDNN for
// the image kernels, and plain CUDA kernels for everything else. Each kernel's contract is
// in backends/backend.h; the definitions are split by family across this folder like
// backends/cpu/ (memory, elementwise, reduce, linalg, conv, pool, rows, norm, margin_head,
// index, optim), and the per-device
// state (allocator, library handles) is in context.h.
//
// This header is plain C++ (no CUDA types) so that backends/registry.cpp, compiled by the
// host compiler, can include it. Left out: streams other than the default one (every kernel
// is ordered on it, which is what makes reusing a freed block safe), multi-GPU peer copies,
// half precision.
#pragma once
#include <memory>

#include "backends/backend.h"

namespace margin {

// The backend of GPU `index`, made on first use. Throws when there is no such device.
Backend& cuda_backend(int index);
// How many GPUs the driver sees; 0 (never an error) when there is no driver or no device.
int cuda_device_count();

namespace cuda {
struct Context;
}

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int index);
  ~CudaBackend() override;
  Device device() const override { return Device{DeviceType::CUDA, index_}; }

#include "backends/kernel_overrides.inc"

 private:
  // Makes this backend's GPU the current one and returns its state; every kernel starts here.
  cuda::Context& activate() const;

  int index_;
  std::unique_ptr<cuda::Context> context_;
};

}  // namespace margin
