// backends/cpu/pool.cpp — max and average pooling over NCHW planes; the contracts are in
// backends/backend.h. Every (n, c) plane is independent, so OpenMP splits the planes and
// each plane is a plain loop over its windows (windows are small: no GEMM to be had).
// Left out: ceil_mode, dilated pooling, NHWC.
#include <algorithm>
#include <limits>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/loops.h"

namespace margin {
using namespace cpu;

namespace {

// Sizes of one pooling call: planes = N·C, input plane [H, W], output plane [P, Q].
struct PoolGeometry {
  Pool2dParams params;
  int64_t planes, H, W, P, Q;
  PoolGeometry(const Pool2dParams& p, const Shape& input, const Shape& output)
      : params(p), planes(input[0] * input[1]), H(input[2]), W(input[3]), P(output[2]),
        Q(output[3]) {}
};

// The window of output (out_h, out_w) clipped to the image: rows [h0, h1) × cols [w0, w1),
// and its divisor for average pooling.
struct Window {
  int64_t h0, h1, w0, w1;
  int64_t divisor;
};
Window window_at(const PoolGeometry& g, int64_t out_h, int64_t out_w) {
  const Pool2dParams& p = g.params;
  int64_t h0 = out_h * p.stride_h - p.pad_h, w0 = out_w * p.stride_w - p.pad_w;
  int64_t h1 = std::min(h0 + p.kernel_h, g.H), w1 = std::min(w0 + p.kernel_w, g.W);
  h0 = std::max<int64_t>(h0, 0);
  w0 = std::max<int64_t>(w0, 0);
  int64_t divisor = p.count_include_pad ? p.kernel_h * p.kernel_w : (h1 - h0) * (w1 - w0);
  return {h0, h1, w0, w1, divisor};
}

bool worth_pool_threads(const PoolGeometry& g) {
  return worth_threads(g.planes * g.P * g.Q * g.params.kernel_h * g.params.kernel_w);
}

// The first maximum of a window scanned row by row, and where it is: `!(a <= b)` rather
// than `a > b`, so a NaN wins and propagates, as in PyTorch.
template <class T>
struct WindowMax {
  T value;
  int64_t at;
  explicit WindowMax(int64_t first) : value(-std::numeric_limits<T>::infinity()), at(first) {}
  void consider(const T* in, int64_t i) {
    if (!(in[i] <= value)) value = in[i], at = i;
  }
};

// y and argmax for every output, from scan(plane input, out_h, out_w) → WindowMax.
template <class T, class Scan>
void max_pool_each(const PoolGeometry& g, const T* x, T* y, int64_t* argmax, Scan&& scan) {
#pragma omp parallel for schedule(static) if (worth_pool_threads(g))
  for (int64_t plane = 0; plane < g.planes; ++plane) {
    const T* in = x + plane * g.H * g.W;
    for (int64_t out_h = 0; out_h < g.P; ++out_h)
      for (int64_t out_w = 0; out_w < g.Q; ++out_w) {
        WindowMax<T> best = scan(in, out_h, out_w);
        int64_t out = (plane * g.P + out_h) * g.Q + out_w;
        y[out] = best.value;
        argmax[out] = best.at;
      }
  }
}

// The 2×2 stride-2 window without padding (every CNN here): its four reads unrolled and no
// clipping, 4× faster than the general scan; the same order, so the same winner on ties.
bool is_plain_2x2(const PoolGeometry& g) {
  const Pool2dParams& p = g.params;
  return p.kernel_h == 2 && p.kernel_w == 2 && p.stride_h == 2 && p.stride_w == 2 && p.pad_h == 0 &&
         p.pad_w == 0 && g.P * 2 <= g.H && g.Q * 2 <= g.W;
}

template <class T>
void max_pool_forward(const PoolGeometry& g, const T* x, T* y, int64_t* argmax) {
  if (is_plain_2x2(g)) {
    max_pool_each(g, x, y, argmax, [&](const T* in, int64_t out_h, int64_t out_w) {
      const int64_t first = 2 * out_h * g.W + 2 * out_w;
      WindowMax<T> best(first);
      for (int64_t at : {first, first + 1, first + g.W, first + g.W + 1}) best.consider(in, at);
      return best;
    });
    return;
  }
  max_pool_each(g, x, y, argmax, [&](const T* in, int64_t out_h, int64_t out_w) {
    Window window = window_at(g, out_h, out_w);
    WindowMax<T> best(window.h0 * g.W + window.w0);
    for (int64_t h = window.h0; h < window.h1; ++h)
      for (int64_t w = window.w0; w < window.w1; ++w) best.consider(in, h * g.W + w);
    return best;
  });
}

template <class T>
void max_pool_backward(const PoolGeometry& g, const T* dy, const int64_t* argmax, T* dx) {
#pragma omp parallel for schedule(static) if (worth_pool_threads(g))
  for (int64_t plane = 0; plane < g.planes; ++plane) {
    T* grad_in = dx + plane * g.H * g.W;
    std::fill(grad_in, grad_in + g.H * g.W, T(0));
    for (int64_t out = plane * g.P * g.Q; out < (plane + 1) * g.P * g.Q; ++out)
      grad_in[argmax[out]] += dy[out];
  }
}

template <class T>
void avg_pool_forward(const PoolGeometry& g, const T* x, T* y) {
#pragma omp parallel for schedule(static) if (worth_pool_threads(g))
  for (int64_t plane = 0; plane < g.planes; ++plane) {
    const T* in = x + plane * g.H * g.W;
    for (int64_t out_h = 0; out_h < g.P; ++out_h)
      for (int64_t out_w = 0; out_w < g.Q; ++out_w) {
        Window window = window_at(g, out_h, out_w);
        T total = 0;
        for (int64_t h = window.h0; h < window.h1; ++h)
          for (int64_t w = window.w0; w < window.w1; ++w) total += in[h * g.W + w];
        y[(plane * g.P + out_h) * g.Q + out_w] = total / T(window.divisor);
      }
  }
}

template <class T>
void avg_pool_backward(const PoolGeometry& g, const T* dy, T* dx) {
#pragma omp parallel for schedule(static) if (worth_pool_threads(g))
  for (int64_t plane = 0; plane < g.planes; ++plane) {
    T* grad_in = dx + plane * g.H * g.W;
    std::fill(grad_in, grad_in + g.H * g.W, T(0));
    for (int64_t out_h = 0; out_h < g.P; ++out_h)
      for (int64_t out_w = 0; out_w < g.Q; ++out_w) {
        Window window = window_at(g, out_h, out_w);
        T share = dy[(plane * g.P + out_h) * g.Q + out_w] / T(window.divisor);
        for (int64_t h = window.h0; h < window.h1; ++h)
          for (int64_t w = window.w0; w < window.w1; ++w) grad_in[h * g.W + w] += share;
      }
  }
}

}  // namespace

void CpuBackend::max_pool2d(const Pool2dParams& params, const View& x, const View& y,
                            const View& argmax) {
  PoolGeometry g(params, x.shape, y.shape);
  dispatch_floating(x.dtype, "max_pool2d", [&](auto t) {
    using T = decltype(t);
    max_pool_forward<T>(g, x.ptr<T>(), y.ptr<T>(), argmax.ptr<int64_t>());
  });
}

void CpuBackend::max_pool2d_backward(const Pool2dParams& params, const View& dy,
                                     const View& argmax, const View& dx) {
  PoolGeometry g(params, dx.shape, dy.shape);
  dispatch_floating(dy.dtype, "max_pool2d_backward", [&](auto t) {
    using T = decltype(t);
    max_pool_backward<T>(g, dy.ptr<T>(), argmax.ptr<int64_t>(), dx.ptr<T>());
  });
}

void CpuBackend::avg_pool2d(const Pool2dParams& params, const View& x, const View& y) {
  PoolGeometry g(params, x.shape, y.shape);
  dispatch_floating(x.dtype, "avg_pool2d", [&](auto t) {
    using T = decltype(t);
    avg_pool_forward<T>(g, x.ptr<T>(), y.ptr<T>());
  });
}

void CpuBackend::avg_pool2d_backward(const Pool2dParams& params, const View& dy,
                                     const View& dx) {
  PoolGeometry g(params, dx.shape, dy.shape);
  dispatch_floating(dy.dtype, "avg_pool2d_backward", [&](auto t) {
    using T = decltype(t);
    avg_pool_backward<T>(g, dy.ptr<T>(), dx.ptr<T>());
  });
}

}  // namespace margin
