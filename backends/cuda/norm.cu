// backends/cuda/norm.cu — batch norm (training and eval forward, the one-pass backward) and
// PReLU over x seen as [N, C, inner]; the formulas are backends/cpu/norm.cpp's, with the same
// double accumulators (contracts in backends/backend.h). Per-channel statistics: one block
// per channel, its threads striding over the N·inner values and combining with block_reduce.
// Elementwise parts: one thread per element. An absent view (data == nullptr) is skipped.
// Batch norm with a PReLU's slopes or a residual fuses them as the CPU does (backend.h).
// Left out: multi-block reductions of one huge channel, other activations fused, NHWC.
#include "backends/channel_split.h"
#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/launch.cuh"
#include "backends/cuda/rounded.h"
#include "backends/dispatch.h"
#include "backends/elementwise_math.h"

namespace margin {
namespace cuda {

template <class T>
__device__ T value_or(const T* values, int64_t c, T fallback) {
  return values ? values[c] : fallback;
}

// Channel c's normalized values as one affine map of x, u = x·scale + shift: scale =
// inv_std·weight_c, shift = bias_c − mean·scale (in double, u rounded to T).
template <class T>
struct Affine {
  double scale, shift;
  __device__ Affine(const T* weight, const T* bias, int64_t c, double mean, double inv_std)
      : scale(inv_std * value_or<T>(weight, c, T(1))), shift(value_or<T>(bias, c, T(0)) - mean * scale) {}
  __device__ T operator()(T v) const { return T(v * scale + shift); }
};

// A PReLU's slopes ([C], or [1] shared by every channel), or none (values null).
template <class T>
struct Slopes {
  const T* values;
  bool shared;
  explicit Slopes(const View& slopes) : values(slopes.ptr<T>()), shared(slopes.numel() == 1) {}
  __device__ T of(int64_t c) const { return values[shared ? 0 : c]; }
};

// y = u = (x − mean_c)·inv_std_c·weight_c + bias_c, or that PReLU of u with slopes, plus the
// residual where given, done by the block of channel c. With slopes, u uses the statistics as
// saved (rounded to T): the backward recomputes u from them.
template <class T>
__device__ void normalize_channel(const ChannelSplit& split, int64_t c, const T* in,
                                  const T* weight, const T* bias, Slopes<T> slopes,
                                  const T* residual, double mean, double inv_std, T* out) {
  if (slopes.values) mean = T(mean), inv_std = T(inv_std);
  const Affine<T> u(weight, bias, c, mean, inv_std);
  const T slope = slopes.values ? slopes.of(c) : T(1);
  for (int64_t j = threadIdx.x; j < split.per_channel(); j += blockDim.x) {
    int64_t k = split.at(c, j);
    const T activated = prelu_value(u(in[k]), slope);
    out[k] = residual ? activated + residual[k] : activated;
  }
}

template <class T>
void batch_norm_train_typed(const BatchNormParams& params, const View& x, const View& weight,
                            const View& bias, const View& slopes, const View& residual,
                            const View& y, const View& saved_mean,
                            const View& saved_inv_std, const View& running_mean,
                            const View& running_var) {
  ChannelSplit split(x.shape);
  double count = static_cast<double>(split.per_channel()), eps = params.eps,
         momentum = params.momentum;
  const T *in = x.ptr<T>(), *w = weight.ptr<T>(), *b = bias.ptr<T>();
  T *out = y.ptr<T>(), *mean_out = saved_mean.ptr<T>(), *inv_std_out = saved_inv_std.ptr<T>();
  T *run_mean = running_mean.ptr<T>(), *run_var = running_var.ptr<T>();
  const T* add = residual.ptr<T>();
  const Slopes<T> prelu(slopes);
  parallel_slices(split.channels, split.per_channel(), "batch_norm",
                  [=] __device__(int64_t c) {
    double total = 0;
    for (int64_t j = threadIdx.x; j < split.per_channel(); j += blockDim.x)
      total += in[split.at(c, j)];
    total = block_reduce(total, SumOf{});
    double mean = total / count;
    // Two passes (mean, then squared deviations): no cancellation for large means.
    double squares = 0;
    for (int64_t j = threadIdx.x; j < split.per_channel(); j += blockDim.x) {
      double deviation = in[split.at(c, j)] - mean;
      squares += deviation * deviation;
    }
    squares = block_reduce(squares, SumOf{});
    double variance = squares / count;
    double inv_std = 1.0 / ::sqrt(variance + eps);
    if (threadIdx.x == 0) {
      mean_out[c] = T(mean);
      inv_std_out[c] = T(inv_std);
      if (run_mean) run_mean[c] = T((1 - momentum) * run_mean[c] + momentum * mean);
      if (run_var) {
        double unbiased = squares / (count - 1);
        run_var[c] = T((1 - momentum) * run_var[c] + momentum * unbiased);
      }
    }
    normalize_channel<T>(split, c, in, w, b, prelu, add, mean, inv_std, out);
  });
}

template <class T>
void batch_norm_eval_typed(const BatchNormParams& params, const View& x, const View& weight,
                           const View& bias, const View& slopes, const View& residual,
                           const View& running_mean, const View& running_var,
                           const View& y, const View& saved_mean, const View& saved_inv_std) {
  ChannelSplit split(x.shape);
  double eps = params.eps;
  const T *in = x.ptr<T>(), *w = weight.ptr<T>(), *b = bias.ptr<T>();
  const T *run_mean = running_mean.ptr<T>(), *run_var = running_var.ptr<T>();
  T *out = y.ptr<T>(), *mean_out = saved_mean.ptr<T>(), *inv_std_out = saved_inv_std.ptr<T>();
  const T* add = residual.ptr<T>();
  const Slopes<T> prelu(slopes);
  parallel_slices(split.channels, split.per_channel(), "batch_norm",
                  [=] __device__(int64_t c) {
    double mean = run_mean[c];
    double inv_std = 1.0 / ::sqrt(double(run_var[c]) + eps);
    if (threadIdx.x == 0) {
      mean_out[c] = T(mean);
      inv_std_out[c] = T(inv_std);
    }
    normalize_channel<T>(split, c, in, w, b, prelu, add, mean, inv_std, out);
  });
}

// The values a PReLU's slope multiplies: x itself (PReLU alone), or batch norm's u recomputed
// from x (batch norm with a PReLU).
template <class T>
struct PreluInput {
  const T* in;
  __device__ T operator()(int64_t, int64_t k) const { return in[k]; }
};
template <class T>
struct NormalizedInput {
  const T *in, *weight, *bias, *mean, *inv_std;
  __device__ T operator()(int64_t c, int64_t k) const {
    return Affine<T>(weight, bias, c, mean[c], inv_std[c])(in[k]);
  }
};

// dslopes: Σ prelu_slope_factor(u)·dy per channel in double, u = input(c, k), then (shared) over
// channels in the same block, channel by channel as the CPU sums them.
template <class T, class Input>
void slope_sums(const ChannelSplit& split, bool shared, Input input, const T* grad_out, T* grad_slope) {
  int64_t channels = split.channels;
  parallel_slices(shared ? 1 : channels, split.per_channel(), "prelu_backward",
                  [=] __device__(int64_t slice) {
    int64_t first = shared ? 0 : slice, last = shared ? channels : slice + 1;
    double total = 0;
    for (int64_t c = first; c < last; ++c) {
      double slope_grad = 0;
      for (int64_t j = threadIdx.x; j < split.per_channel(); j += blockDim.x) {
        int64_t k = split.at(c, j);
        const T u = input(c, k);
        slope_grad += double(prelu_slope_factor(u)) * grad_out[k];
      }
      total += block_reduce(slope_grad, SumOf{});
    }
    if (threadIdx.x == 0) grad_slope[slice] = T(total);
  });
}

template <class T>
void batch_norm_backward_typed(bool batch_stats, const View& x, const View& dy,
                               const View& weight, const View& bias, const View& slopes,
                               const View& saved_mean, const View& saved_inv_std, const View& dx,
                               const View& dweight, const View& dbias, const View& dslopes) {
  ChannelSplit split(x.shape);
  double count = static_cast<double>(split.per_channel());
  const T *in = x.ptr<T>(), *grad_out = dy.ptr<T>(), *w = weight.ptr<T>(), *b = bias.ptr<T>();
  const T *mean_in = saved_mean.ptr<T>(), *inv_std_in = saved_inv_std.ptr<T>();
  T *grad_in = dx.ptr<T>(), *grad_w = dweight.ptr<T>(), *grad_b = dbias.ptr<T>();
  const Slopes<T> prelu(slopes);
  parallel_slices(split.channels, split.per_channel(), "batch_norm_backward",
                  [=] __device__(int64_t c) {
    double mean = mean_in[c], inv_std = inv_std_in[c];
    // dy of the normalized values: dy itself, or through the PReLU at u recomputed from x
    const Affine<T> u(w, b, c, mean, inv_std);
    const T slope = prelu.values ? prelu.of(c) : T(1);
    auto g = [=](int64_t k) -> T {
      return prelu.values ? prelu_gate(u(in[k]), slope, grad_out[k]) : grad_out[k];
    };
    double sum_dy = 0, sum_dy_xhat = 0;
    for (int64_t j = threadIdx.x; j < split.per_channel(); j += blockDim.x) {
      int64_t k = split.at(c, j);
      const T d = g(k);
      sum_dy += d;
      sum_dy_xhat += d * (in[k] - mean) * inv_std;
    }
    sum_dy = block_reduce(sum_dy, SumOf{});
    sum_dy_xhat = block_reduce(sum_dy_xhat, SumOf{});
    if (threadIdx.x == 0) {
      if (grad_b) grad_b[c] = T(sum_dy);
      if (grad_w) grad_w[c] = T(sum_dy_xhat);
    }
    if (!grad_in) return;  // the same for the whole block: no barrier follows
    double scale = value_or<T>(w, c, T(1)) * inv_std;
    for (int64_t j = threadIdx.x; j < split.per_channel(); j += blockDim.x) {
      int64_t k = split.at(c, j);
      if (!batch_stats) {
        grad_in[k] = T(scale * g(k));
      } else {
        // The mean and variance depend on every x of the channel: subtracting the mean of dy
        // and the projection of dy on x̂ is what those two dependencies contribute.
        double xhat = (in[k] - mean) * inv_std;
        grad_in[k] = T(scale / count * (count * g(k) - sum_dy - xhat * sum_dy_xhat));
      }
    }
  });
  if (dslopes.data)
    slope_sums<T>(split, prelu.shared, NormalizedInput<T>{in, w, b, mean_in, inv_std_in}, grad_out,
                  dslopes.ptr<T>());
}

template <class T>
void prelu_typed(const View& x, const View& weight, const View& y) {
  ChannelSplit split(x.shape);
  bool shared = weight.numel() == 1;
  const T *in = x.ptr<T>(), *slopes = weight.ptr<T>();
  T* out = y.ptr<T>();
  parallel_for(x.numel(), "prelu", [=] __device__(int64_t k) {
    T slope = slopes[shared ? 0 : split.channel_of(k)];
    out[k] = prelu_value(in[k], slope);
  });
}

template <class T>
void prelu_backward_typed(const View& x, const View& weight, const View& dy, const View& dx,
                          const View& dweight) {
  ChannelSplit split(x.shape);
  bool shared = weight.numel() == 1;
  const T *in = x.ptr<T>(), *grad_out = dy.ptr<T>(), *slopes = weight.ptr<T>();
  T *grad_in = dx.ptr<T>(), *grad_slope = dweight.ptr<T>();
  if (grad_in)
    parallel_for(x.numel(), "prelu_backward", [=] __device__(int64_t k) {
      T slope = slopes[shared ? 0 : split.channel_of(k)];
      grad_in[k] = prelu_gate(in[k], slope, grad_out[k]);
    });
  if (grad_slope) slope_sums<T>(split, shared, PreluInput<T>{in}, grad_out, grad_slope);
}

}  // namespace cuda

namespace {

// backend.h's `kept`: on CUDA a second pass over x, `copy`'s conversion.
void keep_copy(Backend& backend, const View& x, const View& kept, const char* kernel) {
  if (!kept.data) return;
  check_kept_copy(kept.dtype, kept.numel(), x.dtype, x.numel(), kernel);
  backend.copy(x, kept);
}

}  // namespace

void CudaBackend::batch_norm_forward_train(const BatchNormParams& params, const View& x,
                                           const View& weight, const View& bias, const View& slopes,
                                           const View& residual, const View& y,
                                           const View& saved_mean, const View& saved_inv_std,
                                           const View& running_mean, const View& running_var,
                                           const View& kept) {
  activate();
  dispatch_floating(x.dtype, "batch_norm", [&](auto t) {
    cuda::batch_norm_train_typed<decltype(t)>(params, x, weight, bias, slopes, residual, y, saved_mean,
                                              saved_inv_std, running_mean, running_var);
  });
  keep_copy(*this, x, kept, "batch_norm");
}

void CudaBackend::batch_norm_forward_eval(const BatchNormParams& params, const View& x,
                                          const View& weight, const View& bias, const View& slopes,
                                          const View& residual, const View& running_mean,
                                          const View& running_var, const View& y,
                                          const View& saved_mean, const View& saved_inv_std) {
  activate();
  dispatch_floating(x.dtype, "batch_norm", [&](auto t) {
    cuda::batch_norm_eval_typed<decltype(t)>(params, x, weight, bias, slopes, residual, running_mean,
                                             running_var, y, saved_mean, saved_inv_std);
  });
}

void CudaBackend::batch_norm_backward(bool batch_stats, const View& x, const View& dy,
                                      const View& weight, const View& bias, const View& slopes,
                                      const View& saved_mean, const View& saved_inv_std,
                                      const View& dx, const View& dweight, const View& dbias,
                                      const View& dslopes) {
  cuda::Context& context = activate();
  const cuda::WidenedInput input(context, x, dy.dtype, "batch_norm_backward");
  dispatch_floating(dy.dtype, "batch_norm_backward", [&](auto t) {
    cuda::batch_norm_backward_typed<decltype(t)>(batch_stats, input.view, dy, weight, bias, slopes,
                                                 saved_mean, saved_inv_std, dx, dweight, dbias,
                                                 dslopes);
  });
}

void CudaBackend::prelu(const View& x, const View& weight, const View& y, const View& kept) {
  activate();
  dispatch_floating(x.dtype, "prelu",
                          [&](auto t) { cuda::prelu_typed<decltype(t)>(x, weight, y); });
  keep_copy(*this, x, kept, "prelu");
}

void CudaBackend::prelu_backward(const View& x, const View& weight, const View& dy,
                                 const View& dx, const View& dweight) {
  cuda::Context& context = activate();
  const cuda::WidenedInput input(context, x, dy.dtype, "prelu_backward");
  dispatch_floating(dy.dtype, "prelu_backward", [&](auto t) {
    cuda::prelu_backward_typed<decltype(t)>(input.view, weight, dy, dx, dweight);
  });
}

}  // namespace margin
