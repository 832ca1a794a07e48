// backends/cuda/reduce.cu — sums over broadcast dims, and max along an axis: one block per
// output element, its threads striding over the elements that reduce into it. Sums accumulate
// in double, as on the CPU.
#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/launch.cuh"

namespace margin {
namespace cuda {

template <class T>
void sum_to_typed(const View& x, const View& y) {
  // Split x's dims into the kept ones (y has them) and the reduced ones (y has 1 there).
  Shape kept_shape, kept_strides, reduced_shape, reduced_strides;
  Shape x_strides = contiguous_strides(x.shape);
  for (int i = 0; i < x.ndim(); ++i) {
    bool reduced = y.shape[i] == 1 && x.shape[i] != 1;
    (reduced ? reduced_shape : kept_shape).push_back(x.shape[i]);
    (reduced ? reduced_strides : kept_strides).push_back(x_strides[i]);
  }
  Layout kept = make_layout(kept_shape, kept_strides, "sum_to");
  Layout reduced = make_layout(reduced_shape, reduced_strides, "sum_to");
  int64_t reduced_count = shape_numel(reduced_shape);
  const T* in = x.ptr<T>();
  T* out = y.ptr<T>();
  parallel_slices(shape_numel(kept_shape), reduced_count, "sum_to",
                  [=] __device__(int64_t k) {
                    const T* base = in + kept.offset(k);
                    double total = 0;
                    for (int64_t r = threadIdx.x; r < reduced_count; r += blockDim.x)
                      total += base[reduced.offset(r)];
                    total = block_reduce(total, SumOf{});
                    if (threadIdx.x == 0) out[k] = static_cast<T>(total);
                  });
}

// The larger value wins; between equal values, the first index (as the CPU's scan finds).
template <class T>
struct ArgMax {
  T value;
  int64_t index;
};

template <class T>
__device__ ArgMax<T> better(ArgMax<T> a, ArgMax<T> b) {
  if (b.index < 0) return a;
  if (a.index < 0) return b;
  if (b.value > a.value || (b.value == a.value && b.index < a.index)) return b;
  return a;
}

template <class T>
void max_along_typed(const View& x, int axis, const View& values, const View& indices) {
  AxisSplit split(x.shape, axis);
  const T* in = x.ptr<T>();
  T* best_value = values.ptr<T>();
  int64_t* best_index = indices.ptr<int64_t>();
  parallel_slices(split.outer * split.inner, split.n, "max", [=] __device__(int64_t slice) {
    int64_t o = slice / split.inner, i = slice % split.inner;
    const T* p = in + o * split.n * split.inner + i;
    ArgMax<T> best{T(0), -1};
    for (int64_t j = threadIdx.x; j < split.n; j += blockDim.x)
      best = better(best, ArgMax<T>{p[j * split.inner], j});
    // Pairs do not fit block_reduce's shuffle of one value: combine through shared memory.
    __shared__ T warp_value[kThreads];
    __shared__ int64_t warp_index[kThreads];
    warp_value[threadIdx.x] = best.value;
    warp_index[threadIdx.x] = best.index;
    __syncthreads();
    for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {
      if (threadIdx.x < half) {
        ArgMax<T> merged = better(ArgMax<T>{warp_value[threadIdx.x], warp_index[threadIdx.x]},
                                  ArgMax<T>{warp_value[threadIdx.x + half],
                                            warp_index[threadIdx.x + half]});
        warp_value[threadIdx.x] = merged.value;
        warp_index[threadIdx.x] = merged.index;
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      best_value[slice] = warp_value[0];
      best_index[slice] = warp_index[0];
    }
    __syncthreads();  // the next slice of this block rewrites the shared arrays
  });
}

}  // namespace cuda

void CudaBackend::sum_to(const View& x, const View& y) {
  activate();
  dispatch_floating(x.dtype, "sum_to",
                          [&](auto t) { cuda::sum_to_typed<decltype(t)>(x, y); });
}

void CudaBackend::max_along(const View& x, int axis, const View& values, const View& indices) {
  activate();
  dispatch_floating(x.dtype, "max", [&](auto t) {
    cuda::max_along_typed<decltype(t)>(x, axis, values, indices);
  });
}

}  // namespace margin
