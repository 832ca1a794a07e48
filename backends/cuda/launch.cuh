// backends/cuda/launch.cuh — what every CUDA kernel file shares: dtype dispatch and the axis
// split (backends/dispatch.h, shared with the CPU), strided addressing on the device, and two
// launch shapes written once so that each kernel reads as the body of a plain loop (a device
// lambda), like its CPU twin:
//   parallel_for(n, name, [=] __device__ (int64_t i) { ... })      one thread per element
//   parallel_slices(slices, n, name, [=] __device__ (int64_t s) { ... })
//       one block per slice of n elements (a row, or [o, :, i] around an axis); the block's
//       threads stride over the slice and combine with block_reduce.
// The two launches are the only lines that differ under the CPU emulator of the CUDA
// execution model (tests/cuda_emulator, -DMARGIN_CUDA_EMULATOR=ON), which runs these same
// kernels so that the test suite can check them on a machine without a GPU.
// Left out: vectorized loads, multi-block reductions of a single huge slice, streams, and
// the CPU's exact NaN behaviour in max reductions (a tree of fmax ignores NaN in any order).
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "backends/backend.h"
#include "backends/dispatch.h"
#include "backends/cuda/context.h"

namespace margin::cuda {

// A shape and strides small enough to pass to a kernel by value.
inline constexpr int kMaxDims = 8;
struct Layout {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};

  // Offset of the element at row-major position `linear`.
  __host__ __device__ int64_t offset(int64_t linear) const {
    int64_t at = 0;
    for (int i = ndim - 1; i >= 0; --i) {
      at += (linear % shape[i]) * strides[i];
      linear /= shape[i];
    }
    return at;
  }
};

inline Layout make_layout(const Shape& shape, const Shape& strides, const char* kernel) {
  if (shape.size() > static_cast<size_t>(kMaxDims))
    fail(kernel, ": CUDA kernels take at most ", kMaxDims, " dims, got ", shape_str(shape));
  Layout layout;
  layout.ndim = static_cast<int>(shape.size());
  for (int i = 0; i < layout.ndim; ++i) {
    layout.shape[i] = shape[i];
    layout.strides[i] = strides[i];
  }
  return layout;
}

// A launch fails synchronously only for a bad configuration; a fault inside the kernel shows
// up at the next synchronizing call (a copy to the host, synchronize()).
inline void check_launch(const char* kernel) {
  cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess)
    fail("launching the CUDA kernel '", kernel, "': ", cudaGetErrorString(status), " (",
         cudaGetErrorName(status), ")");
}

template <class Body>
__global__ void each_index_kernel(int64_t n, Body body) {
  int64_t step = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) body(i);
}

template <class Body>
__global__ void each_slice_kernel(int64_t slices, Body body) {
  // The loop bound depends on the block only, so block_reduce's barriers are reached by all.
  for (int64_t slice = blockIdx.x; slice < slices; slice += gridDim.x) body(slice);
}

inline constexpr int kThreads = 256;
// Enough blocks to fill any GPU; the grid-stride loops cover the rest.
inline constexpr int64_t kMaxBlocks = 65536;

template <class Body>
void parallel_for(int64_t n, const char* kernel, Body body) {
  if (n <= 0) return;
  auto blocks = static_cast<unsigned>(std::min((n + kThreads - 1) / kThreads, kMaxBlocks));
#ifdef MARGIN_CUDA_EMULATOR
  cuda_emulator::launch(blocks, kThreads, [&] { each_index_kernel(n, body); });
#else
  each_index_kernel<<<blocks, kThreads>>>(n, body);
#endif
  check_launch(kernel);
}

template <class Body>
void parallel_slices(int64_t slices, int64_t n, const char* kernel, Body body) {
  if (slices <= 0) return;
  // A power of two from one warp up to kThreads, so short slices do not idle 200 threads.
  int threads = 32;
  while (threads < kThreads && threads < n) threads *= 2;
  auto blocks = static_cast<unsigned>(std::min(slices, kMaxBlocks));
#ifdef MARGIN_CUDA_EMULATOR
  cuda_emulator::launch(blocks, threads, [&] { each_slice_kernel(slices, body); });
#else
  each_slice_kernel<<<blocks, threads>>>(slices, body);
#endif
  check_launch(kernel);
}

struct SumOf {
  template <class T>
  __device__ T operator()(T a, T b) const { return a + b; }
};
struct MaxOf {
  // fmax ignores a NaN operand, as std::max(max, x) does on the CPU when x is NaN.
  template <class T>
  __device__ T operator()(T a, T b) const { return fmax(a, b); }
};

// Combines `value` over the threads of the block (blockDim.x a multiple of 32); every thread
// gets the result. Called by all threads of the block, the same number of times.
template <class T, class Combine>
__device__ T block_reduce(T value, Combine combine) {
  __shared__ T per_warp[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2)
    value = combine(value, __shfl_down_sync(0xffffffffu, value, offset));
  int warp = threadIdx.x / 32, warps = blockDim.x / 32;
  __syncthreads();  // a previous call's readers are done with per_warp
  if (threadIdx.x % 32 == 0) per_warp[warp] = value;
  __syncthreads();
  T result = per_warp[0];
  for (int w = 1; w < warps; ++w) result = combine(result, per_warp[w]);
  return result;
}

}  // namespace margin::cuda
