// backends/cuda/pool.cu — max and average pooling over NCHW planes, the same windows and the
// same comparisons as backends/cpu/pool.cpp (contracts in backends/backend.h). Forward: one
// thread per output element, looping over its window. Backward: dx is zeroed, then one thread
// per output element adds its share with atomicAdd (windows may overlap).
// Left out: ceil_mode, dilated pooling, NHWC, a deterministic (gather-style) backward.
#include <cuda/std/limits>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/launch.cuh"

namespace margin {
namespace cuda {

// Sizes of one pooling call: planes = N·C, input plane [H, W], output plane [P, Q].
struct PoolGeometry {
  int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
  bool count_include_pad;
  int64_t planes, H, W, P, Q;
  PoolGeometry(const Pool2dParams& p, const Shape& input, const Shape& output)
      : kernel_h(p.kernel_h), kernel_w(p.kernel_w), stride_h(p.stride_h), stride_w(p.stride_w),
        pad_h(p.pad_h), pad_w(p.pad_w), count_include_pad(p.count_include_pad),
        planes(input[0] * input[1]), H(input[2]), W(input[3]), P(output[2]), Q(output[3]) {}
};

// The window of output (out_h, out_w) clipped to the image: rows [h0, h1) × cols [w0, w1).
struct Window {
  int64_t h0, h1, w0, w1, divisor;
};
__device__ Window window_at(const PoolGeometry& g, int64_t out_h, int64_t out_w) {
  int64_t h0 = out_h * g.stride_h - g.pad_h, w0 = out_w * g.stride_w - g.pad_w;
  int64_t h1 = min(h0 + g.kernel_h, g.H), w1 = min(w0 + g.kernel_w, g.W);
  h0 = max(h0, int64_t(0));
  w0 = max(w0, int64_t(0));
  int64_t divisor = g.count_include_pad ? g.kernel_h * g.kernel_w : (h1 - h0) * (w1 - w0);
  return {h0, h1, w0, w1, divisor};
}

template <class T>
void max_pool_forward(const PoolGeometry& g, const T* x, T* y, int64_t* argmax) {
  parallel_for(g.planes * g.P * g.Q, "max_pool2d", [=] __device__(int64_t out) {
    int64_t plane = out / (g.P * g.Q), at = out % (g.P * g.Q);
    Window window = window_at(g, at / g.Q, at % g.Q);
    const T* in = x + plane * g.H * g.W;
    T best = -::cuda::std::numeric_limits<T>::infinity();
    int64_t best_at = window.h0 * g.W + window.w0;
    for (int64_t h = window.h0; h < window.h1; ++h)
      for (int64_t w = window.w0; w < window.w1; ++w)
        // `!(a <= b)` rather than `a > b`, so a NaN wins and propagates, as on the CPU.
        if (!(in[h * g.W + w] <= best)) {
          best = in[h * g.W + w];
          best_at = h * g.W + w;
        }
    y[out] = best;
    argmax[out] = best_at;
  });
}

template <class T>
void max_pool_backward(const PoolGeometry& g, const T* dy, const int64_t* argmax, T* dx) {
  int64_t plane_out = g.P * g.Q, plane_in = g.H * g.W;
  parallel_for(g.planes * plane_out, "max_pool2d_backward", [=] __device__(int64_t out) {
    atomicAdd(dx + (out / plane_out) * plane_in + argmax[out], dy[out]);
  });
}

template <class T>
void avg_pool_forward(const PoolGeometry& g, const T* x, T* y) {
  parallel_for(g.planes * g.P * g.Q, "avg_pool2d", [=] __device__(int64_t out) {
    int64_t plane = out / (g.P * g.Q), at = out % (g.P * g.Q);
    Window window = window_at(g, at / g.Q, at % g.Q);
    const T* in = x + plane * g.H * g.W;
    T total = 0;
    for (int64_t h = window.h0; h < window.h1; ++h)
      for (int64_t w = window.w0; w < window.w1; ++w) total += in[h * g.W + w];
    y[out] = total / T(window.divisor);
  });
}

template <class T>
void avg_pool_backward(const PoolGeometry& g, const T* dy, T* dx) {
  parallel_for(g.planes * g.P * g.Q, "avg_pool2d_backward", [=] __device__(int64_t out) {
    int64_t plane = out / (g.P * g.Q), at = out % (g.P * g.Q);
    Window window = window_at(g, at / g.Q, at % g.Q);
    T* grad_in = dx + plane * g.H * g.W;
    T share = dy[out] / T(window.divisor);
    for (int64_t h = window.h0; h < window.h1; ++h)
      for (int64_t w = window.w0; w < window.w1; ++w) atomicAdd(grad_in + h * g.W + w, share);
  });
}

}  // namespace cuda

void CudaBackend::max_pool2d(const Pool2dParams& params, const View& x, const View& y,
                             const View& argmax) {
  activate();
  cuda::PoolGeometry g(params, x.shape, y.shape);
  dispatch_floating(x.dtype, "max_pool2d", [&](auto t) {
    using T = decltype(t);
    cuda::max_pool_forward<T>(g, x.ptr<T>(), y.ptr<T>(), argmax.ptr<int64_t>());
  });
}

void CudaBackend::max_pool2d_backward(const Pool2dParams& params, const View& dy,
                                      const View& argmax, const View& dx) {
  activate();
  cuda::PoolGeometry g(params, dx.shape, dy.shape);
  fill(dx, 0.0);
  dispatch_floating(dy.dtype, "max_pool2d_backward", [&](auto t) {
    using T = decltype(t);
    cuda::max_pool_backward<T>(g, dy.ptr<T>(), argmax.ptr<int64_t>(), dx.ptr<T>());
  });
}

void CudaBackend::avg_pool2d(const Pool2dParams& params, const View& x, const View& y) {
  activate();
  cuda::PoolGeometry g(params, x.shape, y.shape);
  dispatch_floating(x.dtype, "avg_pool2d", [&](auto t) {
    using T = decltype(t);
    cuda::avg_pool_forward<T>(g, x.ptr<T>(), y.ptr<T>());
  });
}

void CudaBackend::avg_pool2d_backward(const Pool2dParams& params, const View& dy,
                                      const View& dx) {
  activate();
  cuda::PoolGeometry g(params, dx.shape, dy.shape);
  fill(dx, 0.0);
  dispatch_floating(dy.dtype, "avg_pool2d_backward", [&](auto t) {
    using T = decltype(t);
    cuda::avg_pool_backward<T>(g, dy.ptr<T>(), dx.ptr<T>());
  });
}

}  // namespace margin
