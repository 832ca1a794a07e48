// backends/cpu/norm.cpp — batch norm (training and eval forward, the one-pass backward) and
// PReLU, over x seen as [N, C, inner]. Contracts and formulas are in backends/backend.h.
// Channels are independent, so each loop runs over channels in parallel; per-channel sums
// accumulate in double whatever the dtype. Left out: fused BN + activation, NHWC layouts.
#include <cmath>
#include <vector>

#include "backends/channel_split.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/loops.h"

namespace margin {
using namespace cpu;

namespace {

bool present(const View& v) { return v.data != nullptr; }

template <class T>
T value_or(const View& v, int64_t c, T fallback) {
  return present(v) ? v.ptr<T>()[c] : fallback;
}

// y = (x − mean_c)·inv_std_c·weight_c + bias_c, shared by both forward modes.
template <class T>
void normalize_channel(const ChannelSplit& split, int64_t c, const View& x, const View& weight,
                       const View& bias, double mean, double inv_std, const View& y) {
  const T* in = x.ptr<T>();
  T* out = y.ptr<T>();
  double scale = inv_std * value_or<T>(weight, c, T(1));
  double shift = value_or<T>(bias, c, T(0)) - mean * scale;
  split.for_each_in_channel(c, [&](int64_t at) { out[at] = T(in[at] * scale + shift); });
}

}  // namespace

void CpuBackend::batch_norm_forward_train(const BatchNormParams& params, const View& x,
                                          const View& weight, const View& bias, const View& y,
                                          const View& saved_mean, const View& saved_inv_std,
                                          const View& running_mean, const View& running_var) {
  ChannelSplit split(x.shape);
  double count = static_cast<double>(split.per_channel());
  dispatch_floating(x.dtype, "batch_norm", [&](auto t) {
    using T = decltype(t);
    const T* in = x.ptr<T>();
#pragma omp parallel for if (worth_threads(x.numel()))
    for (int64_t c = 0; c < split.channels; ++c) {
      double total = 0;
      split.for_each_in_channel(c, [&](int64_t at) { total += in[at]; });
      double mean = total / count;
      // Two passes (mean, then squared deviations): no cancellation for large means.
      double squares = 0;
      split.for_each_in_channel(c, [&](int64_t at) {
        double deviation = in[at] - mean;
        squares += deviation * deviation;
      });
      double variance = squares / count;
      double inv_std = 1.0 / std::sqrt(variance + params.eps);
      saved_mean.ptr<T>()[c] = T(mean);
      saved_inv_std.ptr<T>()[c] = T(inv_std);
      normalize_channel<T>(split, c, x, weight, bias, mean, inv_std, y);
      if (present(running_mean)) {
        T& running = running_mean.ptr<T>()[c];
        running = T((1 - params.momentum) * running + params.momentum * mean);
      }
      if (present(running_var)) {
        T& running = running_var.ptr<T>()[c];
        double unbiased = squares / (count - 1);
        running = T((1 - params.momentum) * running + params.momentum * unbiased);
      }
    }
  });
}

void CpuBackend::batch_norm_forward_eval(const BatchNormParams& params, const View& x,
                                         const View& weight, const View& bias,
                                         const View& running_mean, const View& running_var,
                                         const View& y, const View& saved_mean,
                                         const View& saved_inv_std) {
  ChannelSplit split(x.shape);
  dispatch_floating(x.dtype, "batch_norm", [&](auto t) {
    using T = decltype(t);
#pragma omp parallel for if (worth_threads(x.numel()))
    for (int64_t c = 0; c < split.channels; ++c) {
      double mean = running_mean.ptr<T>()[c];
      double inv_std = 1.0 / std::sqrt(double(running_var.ptr<T>()[c]) + params.eps);
      saved_mean.ptr<T>()[c] = T(mean);
      saved_inv_std.ptr<T>()[c] = T(inv_std);
      normalize_channel<T>(split, c, x, weight, bias, mean, inv_std, y);
    }
  });
}

void CpuBackend::batch_norm_backward(bool batch_stats, const View& x, const View& dy,
                                     const View& weight, const View& saved_mean,
                                     const View& saved_inv_std, const View& dx,
                                     const View& dweight, const View& dbias) {
  ChannelSplit split(x.shape);
  double count = static_cast<double>(split.per_channel());
  dispatch_floating(x.dtype, "batch_norm_backward", [&](auto t) {
    using T = decltype(t);
    const T *in = x.ptr<T>(), *grad_out = dy.ptr<T>();
#pragma omp parallel for if (worth_threads(x.numel()))
    for (int64_t c = 0; c < split.channels; ++c) {
      double mean = saved_mean.ptr<T>()[c], inv_std = saved_inv_std.ptr<T>()[c];
      double sum_dy = 0, sum_dy_xhat = 0;
      split.for_each_in_channel(c, [&](int64_t at) {
        sum_dy += grad_out[at];
        sum_dy_xhat += grad_out[at] * (in[at] - mean) * inv_std;
      });
      if (present(dbias)) dbias.ptr<T>()[c] = T(sum_dy);
      if (present(dweight)) dweight.ptr<T>()[c] = T(sum_dy_xhat);
      if (!present(dx)) continue;
      T* grad_in = dx.ptr<T>();
      double scale = value_or<T>(weight, c, T(1)) * inv_std;
      if (!batch_stats) {
        split.for_each_in_channel(c, [&](int64_t at) { grad_in[at] = T(scale * grad_out[at]); });
        continue;
      }
      // The mean and variance depend on every x of the channel: subtracting the mean of dy
      // and the projection of dy on x̂ is what those two dependencies contribute.
      split.for_each_in_channel(c, [&](int64_t at) {
        double xhat = (in[at] - mean) * inv_std;
        grad_in[at] = T(scale / count * (count * grad_out[at] - sum_dy - xhat * sum_dy_xhat));
      });
    }
  });
}

void CpuBackend::prelu(const View& x, const View& weight, const View& y) {
  ChannelSplit split(x.shape);
  bool shared = weight.numel() == 1;
  dispatch_floating(x.dtype, "prelu", [&](auto t) {
    using T = decltype(t);
    const T* in = x.ptr<T>();
    T* out = y.ptr<T>();
#pragma omp parallel for if (worth_threads(x.numel()))
    for (int64_t c = 0; c < split.channels; ++c) {
      T slope = weight.ptr<T>()[shared ? 0 : c];
      split.for_each_in_channel(c, [&](int64_t at) {
        out[at] = in[at] > T(0) ? in[at] : slope * in[at];
      });
    }
  });
}

void CpuBackend::prelu_backward(const View& x, const View& weight, const View& dy,
                                const View& dx, const View& dweight) {
  ChannelSplit split(x.shape);
  bool shared = weight.numel() == 1;
  dispatch_floating(x.dtype, "prelu_backward", [&](auto t) {
    using T = decltype(t);
    const T *in = x.ptr<T>(), *grad_out = dy.ptr<T>();
    std::vector<double> slope_grads(split.channels, 0.0);
#pragma omp parallel for if (worth_threads(x.numel()))
    for (int64_t c = 0; c < split.channels; ++c) {
      T slope = weight.ptr<T>()[shared ? 0 : c];
      double slope_grad = 0;
      split.for_each_in_channel(c, [&](int64_t at) {
        bool positive = in[at] > T(0);
        if (present(dx)) dx.ptr<T>()[at] = positive ? grad_out[at] : slope * grad_out[at];
        if (!positive) slope_grad += double(in[at]) * grad_out[at];
      });
      slope_grads[c] = slope_grad;
    }
    if (!present(dweight)) return;
    T* grad_slope = dweight.ptr<T>();
    if (shared) {
      double total = 0;
      for (double g : slope_grads) total += g;
      grad_slope[0] = T(total);
    } else {
      for (int64_t c = 0; c < split.channels; ++c) grad_slope[c] = T(slope_grads[c]);
    }
  });
}

}  // namespace margin
