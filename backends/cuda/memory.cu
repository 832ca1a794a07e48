// backends/cuda/memory.cu — device copies (strided, with dtype conversion) and fills.
// Allocation and host transfers are in context.cpp.
#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/launch.cuh"

namespace margin {
namespace cuda {

template <class Source, class Target>
void copy_strided(const View& src, const View& dst) {
  Layout from = make_layout(src.shape, src.strides, "copy");
  Layout to = make_layout(dst.shape, dst.strides, "copy");
  const Source* in = src.ptr<Source>();
  Target* out = dst.ptr<Target>();
  parallel_for(dst.numel(), "copy", [=] __device__(int64_t i) {
    out[to.offset(i)] = static_cast<Target>(in[from.offset(i)]);
  });
}

template <class T>
void fill_with(const View& dst, double value) {
  T* out = dst.ptr<T>();
  T converted = static_cast<T>(value);
  parallel_for(dst.numel(), "fill", [=] __device__(int64_t i) { out[i] = converted; });
}

}  // namespace cuda

void CudaBackend::copy(const View& src, const View& dst) {
  activate();
  if (src.dtype == dst.dtype && src.is_contiguous() && dst.is_contiguous()) {
    cuda::check_cuda(cudaMemcpy(dst.data, src.data, dst.numel() * dtype_size(dst.dtype),
                                cudaMemcpyDeviceToDevice),
                     "cudaMemcpy (device to device)");
    return;
  }
  dispatch_any(src.dtype, [&](auto s) {
    dispatch_any(dst.dtype, [&](auto d) {
      cuda::copy_strided<decltype(s), decltype(d)>(src, dst);
    });
  });
}

void CudaBackend::fill(const View& dst, double value) {
  activate();
  dispatch_any(dst.dtype, [&](auto t) { cuda::fill_with<decltype(t)>(dst, value); });
}

}  // namespace margin
