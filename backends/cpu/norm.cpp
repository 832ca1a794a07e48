// backends/cpu/norm.cpp — batch norm (training and eval forward, the one-pass backward) and
// PReLU, over x seen as [N, C, inner]. Contracts and formulas are in backends/backend.h.
// Channels are independent, so each kernel runs over them in parallel (for_each_channel);
// per-channel sums accumulate in double whatever the dtype. A channel is `batch` runs of
// `inner` contiguous elements: the loops below are vectorized along each run, and branch-free
// (PReLU's sign test is a select: as a branch on random signs it mispredicted half the time,
// and its backward took 25 ms for what is a 2 ms pass).
// Under bf16 autocast the forward kernels write the bfloat16 copy of x that the backward keeps
// in the pass that reads x; PReLU's backward makes dx and its slopes' sums in one pass. (Batch
// norm's backward reads a channel's dy three times and x twice; its two sums in one pass
// measured no faster on W2, whose channels mostly fit in L2: 400 KB of dy at 56 × 56.)
// Batch norm given a PReLU's slopes (batch_norm_prelu) writes that PReLU of its output in its
// last pass, and its backward recomputes the PReLU's input from x as it goes: one pass fewer
// each way than the two kernels, and no copy of the PReLU's input kept. Given a residual
// (batch_norm_add), the same last pass adds it.
// Left out: other activations fused, NHWC layouts.
#include <algorithm>
#include <array>
#include <cmath>
#include <type_traits>
#include <vector>

#include "backends/channel_split.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/loops.h"
#include "backends/elementwise_math.h"
#include "backends/half.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace margin {
using namespace cpu;

namespace {

bool present(const View& v) { return v.data != nullptr; }

// The helpers take the channel's data as pointers and the work as a function of values, so
// that every loop reads plain contiguous runs (a lambda of the index, capturing the pointers,
// compiled to vector gathers) and vectorizes.

// A run of n values as T: the run itself, or for a bfloat16 input (one kept rounded for the
// backward, backend.h) its values widened into this thread's buffer for operand `kOperand`.
// Every loop below then runs the same float code, in the same order, whatever x was kept in:
// a bfloat16 x gives bit for bit what its widened values give.
template <class T, int kOperand, class A>
const T* as_run(const A* run, int64_t n) {
  if constexpr (std::is_same_v<A, T>) {
    return run;
  } else {
    thread_local std::vector<T> widened;
    if (static_cast<int64_t>(widened.size()) < n) widened.resize(n);
    for (int64_t i = 0; i < n; ++i) widened[i] = T(run[i]);
    return widened.data();
  }
}

#if defined(__AVX512F__)
// map_channel for a large float32 output: each run 256 values at a time into an aligned
// buffer (the same loop, so the same values), then streamed out from the run's first 64-byte
// boundary on; the pieces before it and the last values are stored as usual.
template <class A, class B, class F>
void map_channel_streamed(const ChannelSplit& split, int64_t c, float* out, const A* a, const B* b, F f) {
  constexpr int64_t kChunk = 256;
  alignas(64) float chunk[kChunk];
  for (int64_t n = 0; n < split.batch; ++n) {
    const int64_t start = split.run_start(c, n);
    float* o = out + start;
    const float* x = as_run<float, 0>(a + start, split.inner);
    const float* y = as_run<float, 1>(b + start, split.inner);
    // the values before o's first 64-byte boundary, as map_channel writes them
    const int64_t head = std::min<int64_t>(split.inner, (64 - reinterpret_cast<uintptr_t>(o) % 64) % 64 / sizeof(float));
    for (int64_t i = 0; i < head; ++i) o[i] = f(x[i], y[i]);
    for (int64_t s0 = head; s0 < split.inner; s0 += kChunk) {
      const int64_t m = std::min(kChunk, split.inner - s0);
#pragma omp simd
      for (int64_t i = 0; i < m; ++i) chunk[i] = f(x[s0 + i], y[s0 + i]);
      int64_t i = 0;
      for (; i + 16 <= m; i += 16) _mm512_stream_ps(o + s0 + i, _mm512_load_ps(chunk + i));
      for (; i < m; ++i) o[s0 + i] = chunk[i];
    }
  }
  _mm_sfence();  // the streamed lines ordered before whatever this thread does next
}
#endif

// body(c) for every channel c, in parallel where x is worth threads: the channels are handed
// to the threads as they come free (a core slowed by another job takes fewer), and each
// channel's values are the same whichever thread computes them.
template <class Body>
void for_each_channel(const ChannelSplit& split, Body&& body) {
#pragma omp parallel for schedule(guided) if (worth_threads(split.channels * split.per_channel()))
  for (int64_t c = 0; c < split.channels; ++c) body(c);
}

// A float32 output of at least this many bytes is written by streaming stores, whole 64-byte
// lines that are not read first: at this size it stays in no cache for the next op anyway.
// At 103 MB (64 channels of 112 × 112, batch 32) batch norm's forward and backward each took
// about 30% less time so; at 26 MB (56 × 56) they measured the same either way.
constexpr int64_t kStreamedBytes = int64_t(64) << 20;

// out[at] = f(a[at], b[at]) for every element `at` of channel c.
template <class T, class A, class B, class F>
void map_channel(const ChannelSplit& split, int64_t c, T* out, const A* a, const B* b, F f) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    if (split.channels * split.per_channel() * int64_t(sizeof(T)) >= kStreamedBytes)
      return map_channel_streamed(split, c, out, a, b, f);
  }
#endif
  for (int64_t n = 0; n < split.batch; ++n) {
    const int64_t start = split.run_start(c, n);
    T* o = out + start;
    const T* x = as_run<T, 0>(a + start, split.inner);
    const T* y = as_run<T, 1>(b + start, split.inner);
#pragma omp simd
    for (int64_t i = 0; i < split.inner; ++i) o[i] = f(x[i], y[i]);
  }
}

// Σ f(a[at], b[at]) over channel c for each term f, each run of `inner` values summed by
// chunked_sum: the runs in turn, each widened once (as_run) for all the terms.
template <class T, class A, class B, class... F>
std::array<double, sizeof...(F)> sums_channel(const ChannelSplit& split, int64_t c, const A* a, const B* b,
                                              F... f) {
  std::array<double, sizeof...(F)> totals{};
  for (int64_t n = 0; n < split.batch; ++n) {
    const int64_t start = split.run_start(c, n);
    const T* x = as_run<T, 0>(a + start, split.inner);
    const T* y = as_run<T, 1>(b + start, split.inner);
    size_t k = 0;
    ((totals[k++] += chunked_sum<T>(split.inner, [=](int64_t i) { return f(x[i], y[i]); })), ...);
  }
  return totals;
}
template <class T, class A, class B, class F>
double sum_channel(const ChannelSplit& split, int64_t c, const A* a, const B* b, F f) {
  return sums_channel<T>(split, c, a, b, f)[0];
}

// The pass of a forward kernel that reads x, writing x rounded to bfloat16 into `kept` as it
// goes where it is given (backend.h: only for float32 x), instead of a copy's second pass.
// Σ x over channel c, as sum_channel sums it (each run rounded first, then summed from the
// cache: a store in the sum's loop would change how it vectorizes, and so the sum):
template <class T>
double sum_keeping(const ChannelSplit& split, int64_t c, const T* x, uint16_t* kept) {
  if constexpr (std::is_same_v<T, float>) {
    if (kept) {
      double total = 0;
      for (int64_t n = 0; n < split.batch; ++n) {
        const int64_t start = split.run_start(c, n);
        const float* run = x + start;
        uint16_t* rounded = kept + start;
#pragma omp simd
        for (int64_t i = 0; i < split.inner; ++i) rounded[i] = bf16_bits(run[i]);
        total += chunked_sum<float>(split.inner, [=](int64_t i) { return run[i]; });
      }
      return total;
    }
  }
  return sum_channel<T>(split, c, x, x, [](T v, T) { return v; });
}
// out = f(x) over channel c, as map_channel maps it:
template <class T, class F>
void map_keeping(const ChannelSplit& split, int64_t c, T* out, const T* x, uint16_t* kept, F f) {
  if constexpr (std::is_same_v<T, float>) {
    if (kept) {
      for (int64_t n = 0; n < split.batch; ++n) {
        const int64_t start = split.run_start(c, n);
        const float* run = x + start;
        float* o = out + start;
        uint16_t* rounded = kept + start;
#pragma omp simd
        for (int64_t i = 0; i < split.inner; ++i) {
          o[i] = f(run[i]);
          rounded[i] = bf16_bits(run[i]);
        }
      }
      return;
    }
  }
  map_channel<T>(split, c, out, x, x, [=](T v, T) { return f(v); });
}

// `kept`'s data, checked against x, or null when absent.
uint16_t* kept_copy(const View& kept, const View& x, const char* kernel) {
  if (!present(kept)) return nullptr;
  check_kept_copy(kept.dtype, kept.numel(), x.dtype, x.numel(), kernel);
  return static_cast<uint16_t*>(kept.data);
}

// Runs body(t, x) with x's pointer: float's for a bfloat16 x (an input kept rounded for the
// backward, backend.h) read along float32 data, else x's own floating type.
template <class Body>
void dispatch_saved(const View& x, DType data, const char* kernel, Body&& body) {
  check_kept_input(x.dtype, data, kernel);
  if (x.dtype == DType::BF16) return body(float{}, x.ptr<bfloat16>());
  dispatch_floating(data, kernel, [&](auto t) { body(t, x.ptr<decltype(t)>()); });
}

template <class T>
T value_or(const View& v, int64_t c, T fallback) {
  return present(v) ? v.ptr<T>()[c] : fallback;
}

// Channel c's normalized values as one affine map of x, u = x·scale + shift:
// scale = inv_std·weight_c, shift = bias_c − mean·scale, rounded to T once.
template <class T>
struct Affine {
  T scale, shift;
  Affine(const View& weight, const View& bias, int64_t c, double mean, double inv_std) {
    const double s = inv_std * value_or<T>(weight, c, T(1));
    scale = static_cast<T>(s);
    shift = static_cast<T>(value_or<T>(bias, c, T(0)) - mean * s);
  }
  T operator()(T v) const { return v * scale + shift; }
};

template <class T>
T slope_of(const View& slopes, int64_t c) {
  return slopes.ptr<T>()[slopes.numel() == 1 ? 0 : c];
}

// y = u = (x − mean_c)·inv_std_c·weight_c + bias_c, or with `slopes` that PReLU of u, plus
// `residual` where present; shared by both forward modes. With slopes, u uses the statistics
// as saved (rounded to T): the backward recomputes u from them.
template <class T>
void normalize_channel(const ChannelSplit& split, int64_t c, const View& x, const View& weight,
                       const View& bias, const View& slopes, const View& residual, double mean,
                       double inv_std, const View& y) {
  const T* in = x.ptr<T>();
  T* out = y.ptr<T>();
  const Affine<T> u = present(slopes) ? Affine<T>(weight, bias, c, T(mean), T(inv_std))
                                      : Affine<T>(weight, bias, c, mean, inv_std);
  auto finish = [&](auto f) {  // out = f(x), or f(x) + residual
    if (!present(residual)) return map_channel<T>(split, c, out, in, in, [=](T v, T) { return f(v); });
    map_channel<T>(split, c, out, in, residual.ptr<T>(), [=](T v, T r) { return f(v) + r; });
  };
  if (!present(slopes)) return finish([=](T v) { return u(v); });
  const T slope = slope_of<T>(slopes, c);
  finish([=](T v) { return prelu_value(u(v), slope); });
}

// The per-channel sums of PReLU's slopes into dweight: as they are, or summed to [1] for a
// slope shared by every channel.
template <class T>
void assign_slope_grads(const std::vector<double>& slope_grads, const View& dweight) {
  if (!present(dweight)) return;
  T* grad_slope = dweight.ptr<T>();
  if (dweight.numel() == 1) {
    double total = 0;
    for (double g : slope_grads) total += g;
    grad_slope[0] = T(total);
  } else {
    for (size_t c = 0; c < slope_grads.size(); ++c) grad_slope[c] = T(slope_grads[c]);
  }
}

}  // namespace

void CpuBackend::batch_norm_forward_train(const BatchNormParams& params, const View& x,
                                          const View& weight, const View& bias, const View& slopes,
                                          const View& residual, const View& y, const View& saved_mean,
                                          const View& saved_inv_std, const View& running_mean,
                                          const View& running_var, const View& kept) {
  ChannelSplit split(x.shape);
  double count = static_cast<double>(split.per_channel());
  uint16_t* rounded = kept_copy(kept, x, "batch_norm");
  dispatch_floating(x.dtype, "batch_norm", [&](auto t) {
    using T = decltype(t);
    const T* in = x.ptr<T>();
    for_each_channel(split, [&](int64_t c) {
      double mean = sum_keeping<T>(split, c, in, rounded) / count;
      // Two passes (mean, then squared deviations): no cancellation for large means.
      const T m = static_cast<T>(mean);
      double squares = sum_channel<T>(split, c, in, in, [=](T v, T) { return (v - m) * (v - m); });
      double variance = squares / count;
      double inv_std = 1.0 / std::sqrt(variance + params.eps);
      saved_mean.ptr<T>()[c] = T(mean);
      saved_inv_std.ptr<T>()[c] = T(inv_std);
      normalize_channel<T>(split, c, x, weight, bias, slopes, residual, mean, inv_std, y);
      if (present(running_mean)) {
        T& running = running_mean.ptr<T>()[c];
        running = T((1 - params.momentum) * running + params.momentum * mean);
      }
      if (present(running_var)) {
        T& running = running_var.ptr<T>()[c];
        double unbiased = squares / (count - 1);
        running = T((1 - params.momentum) * running + params.momentum * unbiased);
      }
    });
  });
}

void CpuBackend::batch_norm_forward_eval(const BatchNormParams& params, const View& x,
                                         const View& weight, const View& bias, const View& slopes,
                                         const View& residual, const View& running_mean,
                                         const View& running_var, const View& y,
                                         const View& saved_mean, const View& saved_inv_std) {
  ChannelSplit split(x.shape);
  dispatch_floating(x.dtype, "batch_norm", [&](auto t) {
    using T = decltype(t);
    for_each_channel(split, [&](int64_t c) {
      double mean = running_mean.ptr<T>()[c];
      double inv_std = 1.0 / std::sqrt(double(running_var.ptr<T>()[c]) + params.eps);
      saved_mean.ptr<T>()[c] = T(mean);
      saved_inv_std.ptr<T>()[c] = T(inv_std);
      normalize_channel<T>(split, c, x, weight, bias, slopes, residual, mean, inv_std, y);
    });
  });
}

void CpuBackend::batch_norm_backward(bool batch_stats, const View& x, const View& dy,
                                     const View& weight, const View& bias, const View& slopes,
                                     const View& saved_mean, const View& saved_inv_std,
                                     const View& dx, const View& dweight, const View& dbias,
                                     const View& dslopes) {
  ChannelSplit split(x.shape);
  double count = static_cast<double>(split.per_channel());
  dispatch_saved(x, dy.dtype, "batch_norm_backward", [&](auto t, const auto* in) {
    using T = decltype(t);
    const T* grad_out = dy.ptr<T>();
    std::vector<double> slope_grads(present(slopes) ? split.channels : 0);
    // The channel's backward, given g(dy, x): the dy of the normalized values at each element
    // (`gated` is x where g reads it, else dy, so that eval's dx reads dy alone), and `more`,
    // sums to take along with Σ g and Σ g·(x − mean) (the slopes').
    auto channel = [&](int64_t c, const auto* gated, auto g, auto... more) {
      double mean = saved_mean.ptr<T>()[c], inv_std = saved_inv_std.ptr<T>()[c];
      const T m = static_cast<T>(mean);
      const auto sums = sums_channel<T>(split, c, grad_out, in, g, [=](T d, T v) { return g(d, v) * (v - m); }, more...);
      const double sum_dy = sums[0], sum_dy_xhat = sums[1] * inv_std;
      if constexpr (sizeof...(more) == 1) slope_grads[c] = sums[2];
      if (present(dbias)) dbias.ptr<T>()[c] = T(sum_dy);
      if (present(dweight)) dweight.ptr<T>()[c] = T(sum_dy_xhat);
      if (!present(dx)) return;
      T* grad_in = dx.ptr<T>();
      double scale = value_or<T>(weight, c, T(1)) * inv_std;
      if (!batch_stats) {
        const T a = static_cast<T>(scale);
        return map_channel<T>(split, c, grad_in, grad_out, gated, [=](T d, T v) { return a * g(d, v); });
      }
      // The mean and variance depend on every x of the channel: subtracting the mean of dy
      // and the projection of dy on x̂ is what those two dependencies contribute.
      // dx = scale·(dy − mean(dy) − x̂·mean(dy·x̂)), x̂ = (x − mean)·inv_std.
      const double mean_dy = sum_dy / count, mean_dy_xhat = sum_dy_xhat / count;
      const T a = static_cast<T>(scale), b = static_cast<T>(-scale * mean_dy_xhat * inv_std);
      const T shift = static_cast<T>(-scale * mean_dy);
      map_channel<T>(split, c, grad_in, grad_out, in,
                     [=](T d, T v) { return a * g(d, v) + b * (v - m) + shift; });
    };
    for_each_channel(split, [&](int64_t c) {
      if (!present(slopes)) {
        channel(c, grad_out, [](T d, T) { return d; });
        return;
      }
      // The PReLU's backward at u, recomputed from x as the forward computed it.
      const Affine<T> u(weight, bias, c, saved_mean.ptr<T>()[c], saved_inv_std.ptr<T>()[c]);
      const T slope = slope_of<T>(slopes, c);
      channel(c, in, [=](T d, T v) { return prelu_gate(u(v), slope, d); },
              [=](T d, T v) { return prelu_slope_factor(u(v)) * d; });
    });
    assign_slope_grads<T>(slope_grads, dslopes);
  });
}

void CpuBackend::prelu(const View& x, const View& weight, const View& y, const View& kept) {
  ChannelSplit split(x.shape);
  uint16_t* rounded = kept_copy(kept, x, "prelu");
  dispatch_floating(x.dtype, "prelu", [&](auto t) {
    using T = decltype(t);
    const T* in = x.ptr<T>();
    T* out = y.ptr<T>();
    for_each_channel(split, [&](int64_t c) {
      const T slope = slope_of<T>(weight, c);
      map_keeping<T>(split, c, out, in, rounded, [=](T v) { return prelu_value(v, slope); });
    });
  });
}

void CpuBackend::prelu_backward(const View& x, const View& weight, const View& dy,
                                const View& dx, const View& dweight) {
  ChannelSplit split(x.shape);
  dispatch_saved(x, dy.dtype, "prelu_backward", [&](auto t, const auto* in) {
    using T = decltype(t);
    const T* grad_out = dy.ptr<T>();
    std::vector<double> slope_grads(split.channels, 0.0);
    for_each_channel(split, [&](int64_t c) {
      const T slope = slope_of<T>(weight, c);
      // dx and the slope's sum in one pass over x and dy.
      auto slope_term = [](T v, T g) { return prelu_slope_factor(v) * g; };
      if (!present(dx)) {
        slope_grads[c] = sum_channel<T>(split, c, in, grad_out, slope_term);
        return;
      }
      double total = 0;
      for (int64_t n = 0; n < split.batch; ++n) {
        const int64_t start = split.run_start(c, n);
        const T* v = as_run<T, 0>(in + start, split.inner);
        const T* g = grad_out + start;
        T* grad_in = dx.ptr<T>() + start;
        total += chunked_sum<T>(split.inner, [=](int64_t i) {
          grad_in[i] = prelu_gate(v[i], slope, g[i]);
          return slope_term(v[i], g[i]);
        });
      }
      slope_grads[c] = total;
    });
    assign_slope_grads<T>(slope_grads, dweight);
  });
}

}  // namespace margin
