// tests/cuda_emulator/emulator.h — what lets backends/cuda run on a machine without a GPU.
//
// In a build configured with -DMARGIN_CUDA_EMULATOR=ON, every source of backends/cuda (the
// .cu kernel files too) is compiled by the host C++ compiler with this header included
// first. It keeps the real CUDA, cuBLAS and cuDNN headers (so every call is checked against
// the real declarations) and supplies, in this folder:
//   - the CUDA execution model (runtime.cpp): a launch runs its blocks one after another and
//     each block's threads as fibers, so __syncthreads and warp shuffles wait for the other
//     threads exactly as on a GPU; a barrier not reached by every thread is an error;
//   - the runtime calls margin makes (runtime.cpp): device memory is host memory handed out
//     by cudaMalloc, filled with NaN bytes, open only to device code (host code touching it
//     aborts with a message), and every copy must stay inside one allocation;
//   - reference cuBLAS GEMMs (cublas.cpp) and cuDNN convolutions (cudnn.cpp), written from
//     the libraries' documented semantics, that validate their arguments as the real ones do.
//
// What this proves: the index arithmetic, the reductions, the barriers and the library
// arguments of margin's CUDA code, by running the same test suite as on the CPU. What it
// cannot: speed, races between blocks (they run in order), the real libraries' algorithms,
// or any behaviour of real hardware. A GPU run (bench/gpu_check.sh) is still the real check.
#pragma once

// Device code becomes host code: these qualifiers are defined before the CUDA headers read
// them (crt/host_defines.h keeps a definition it finds). __shared__ memory is one variable
// per block: blocks run one at a time on the launching thread, so a static local is that.
#define __host__
#define __device__
#define __global__
#define __forceinline__ inline
#define __shared__ static thread_local

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <math.h>  // the float overloads of fmax, exp, ... in the global namespace, as on device

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <functional>

namespace cuda_emulator {

// The built-in variables of the thread the emulator is running now.
extern thread_local uint3 thread_index, block_index;
extern thread_local dim3 block_dim, grid_dim;

// Runs `kernel` once per thread of every block of the grid; the CUDA runtime's
// kernel<<<grid, block>>>(args). A bad configuration is reported through cudaGetLastError, as
// the runtime does; an error inside the kernel (a divergent barrier) is thrown.
void launch(dim3 grid, dim3 block, const std::function<void()>& kernel);

// Barriers the emulated thread waits at: the whole block (__syncthreads), or its warp.
void sync_block();
void sync_warp(unsigned mask);
// Where the threads of a warp exchange values for shuffles: one slot per thread of the block.
uint64_t* exchange_slots();

// Device memory is accessible only while a DeviceCode scope is alive on this thread: kernel
// launches, copies and the library emulations open one; host code touching it aborts.
struct DeviceCode {
  DeviceCode();
  ~DeviceCode();
  DeviceCode(const DeviceCode&) = delete;
  DeviceCode& operator=(const DeviceCode&) = delete;

  // Opens the allocation holding `pointer` now, for the rest of the scope: for an emulation
  // whose OpenMP threads touch device memory (the scope, and its faults, are per thread).
  void open(const void* pointer);
};

// Throws (naming `what`) unless [pointer, pointer + bytes) lies inside one live device
// allocation. For the library emulations, which read and write device memory directly.
void check_device_range(const void* pointer, size_t bytes, const char* what);

}  // namespace cuda_emulator

#define threadIdx ::cuda_emulator::thread_index
#define blockIdx ::cuda_emulator::block_index
#define blockDim ::cuda_emulator::block_dim
#define gridDim ::cuda_emulator::grid_dim

inline void __syncthreads() { cuda_emulator::sync_block(); }

// Lane i gets `value` from lane i + delta of its warp, or keeps its own past the warp's end.
// Lanes are numbered by threadIdx.x: shuffles assume 1-D blocks, as all of margin's are.
template <class T>
T __shfl_down_sync(unsigned mask, T value, unsigned delta) {
  static_assert(sizeof(T) <= sizeof(uint64_t), "the emulator shuffles values of up to 8 bytes");
  uint64_t* slots = cuda_emulator::exchange_slots();
  unsigned lane = threadIdx.x % 32, warp_start = threadIdx.x - lane;
  std::memcpy(&slots[threadIdx.x], &value, sizeof(T));
  cuda_emulator::sync_warp(mask);  // every lane has posted its value
  T result = value;
  if (lane + delta < 32 && warp_start + lane + delta < blockDim.x)
    std::memcpy(&result, &slots[threadIdx.x + delta], sizeof(T));
  cuda_emulator::sync_warp(mask);  // every lane has read before a next shuffle overwrites
  return result;
}

// Threads run one at a time and switch only at barriers, so read-modify-write is atomic.
template <class T>
T atomicAdd(T* address, T value) {
  T old = *address;
  *address = old + value;
  return old;
}
inline unsigned long long atomicMin(unsigned long long* address, unsigned long long value) {
  unsigned long long old = *address;
  if (value < old) *address = value;
  return old;
}

// CUDA's integer min and max, which device code calls unqualified.
using std::max;
using std::min;
