// backends/cuda/index.cu — gather along an axis and its adjoint (atomicAdd: repeated indices
// add up), scatter, one-hot, index checks. One thread per element of the index.
#include <climits>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/launch.cuh"

namespace margin {
namespace cuda {

// Calls visit(at, target) for every element of an index tensor, one thread each: `at` is its
// flat position, `target` the flat position it points to in the [outer, n, inner] tensor of
// `target_shape` along the axis (as for_each_index in backends/cpu/index.cpp). Two threads
// may get the same target: a visit that adds must be atomic.
template <class Visit>
void for_each_index(const View& index, const Shape& target_shape, int axis, const char* kernel,
                    Visit visit) {
  AxisSplit along(index.shape, axis);
  int64_t n = along.n, inner = along.inner, target_n = AxisSplit(target_shape, axis).n;
  const int64_t* idx = index.ptr<int64_t>();
  parallel_for(index.numel(), kernel, [=] __device__(int64_t at) {
    int64_t o = at / (n * inner), i = at % inner;
    visit(at, (o * target_n + idx[at]) * inner + i);
  });
}

template <class T>
void gather_typed(const View& x, const View& index, int axis, const View& y) {
  const T* in = x.ptr<T>();
  T* out = y.ptr<T>();
  for_each_index(index, x.shape, axis, "gather",
                 [=] __device__(int64_t at, int64_t target) { out[at] = in[target]; });
}

template <class T>
void gather_backward_typed(const View& dy, const View& index, int axis, const View& dx) {
  const T* grad_out = dy.ptr<T>();
  T* grad_in = dx.ptr<T>();
  for_each_index(index, dx.shape, axis, "gather_backward", [=] __device__(int64_t at, int64_t target) {
    atomicAdd(grad_in + target, grad_out[at]);
  });
}

template <class T>
void scatter_typed(const View& src, const View& index, int axis, const View& out) {
  const T* values = src.ptr<T>();
  T* result = out.ptr<T>();
  for_each_index(index, out.shape, axis, "scatter",
                 [=] __device__(int64_t at, int64_t target) { result[target] = values[at]; });
}

template <class T>
void one_hot_typed(const View& labels, const View& out) {
  int64_t rows = out.shape[0], classes = out.shape[1];
  const int64_t* label = labels.ptr<int64_t>();
  T* p = out.ptr<T>();
  parallel_for(rows, "one_hot", [=] __device__(int64_t r) {
    if (label[r] >= 0 && label[r] < classes) p[r * classes + label[r]] = T(1);
  });
}

void first_out_of_range(const int64_t* index, int64_t count, int64_t lo, int64_t hi,
                        unsigned long long* first) {
  parallel_for(count, "find_out_of_range", [=] __device__(int64_t i) {
    if (index[i] < lo || index[i] >= hi) atomicMin(first, static_cast<unsigned long long>(i));
  });
}

}  // namespace cuda

int64_t CudaBackend::find_out_of_range(const View& index, int64_t lo, int64_t hi) {
  cuda::Context& context = activate();
  if (index.numel() == 0) return -1;
  // The first bad position, by atomicMin over a device word that starts at "none".
  unsigned long long none = ULLONG_MAX, first = ULLONG_MAX;
  void* word = context.pool.allocate(sizeof first);
  try {
    cuda::check_cuda(cudaMemcpy(word, &none, sizeof none, cudaMemcpyHostToDevice),
                     "cudaMemcpy (find_out_of_range)");
    cuda::first_out_of_range(index.ptr<int64_t>(), index.numel(), lo, hi,
                             static_cast<unsigned long long*>(word));
    cuda::check_cuda(cudaMemcpy(&first, word, sizeof first, cudaMemcpyDeviceToHost),
                     "cudaMemcpy (find_out_of_range)");
  } catch (...) {
    context.pool.deallocate(word, sizeof first);
    throw;
  }
  context.pool.deallocate(word, sizeof first);
  return first == none ? -1 : static_cast<int64_t>(first);
}

void CudaBackend::gather(const View& x, const View& index, int axis, const View& y) {
  activate();
  dispatch_floating(x.dtype, "gather",
                          [&](auto t) { cuda::gather_typed<decltype(t)>(x, index, axis, y); });
}

void CudaBackend::gather_backward(const View& dy, const View& index, int axis, const View& dx) {
  fill(dx, 0.0);
  dispatch_floating(dx.dtype, "gather_backward", [&](auto t) {
    cuda::gather_backward_typed<decltype(t)>(dy, index, axis, dx);
  });
}

void CudaBackend::scatter(const View& src, const View& index, int axis, const View& out) {
  activate();
  dispatch_floating(out.dtype, "scatter", [&](auto t) {
    cuda::scatter_typed<decltype(t)>(src, index, axis, out);
  });
}

void CudaBackend::one_hot(const View& labels, const View& out) {
  fill(out, 0.0);
  dispatch_floating(out.dtype, "one_hot",
                          [&](auto t) { cuda::one_hot_typed<decltype(t)>(labels, out); });
}

}  // namespace margin
