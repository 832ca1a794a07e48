// core/ops/norm.cpp — batch norm, PReLU and dropout: forward and backward side by side.
//
// Shapes: x [N, C, H, W] or [N, C]; per-channel tensors [C]. With x̂ = (x − μ)·inv_std and
// M = N·H·W values per channel, batch norm's gradients in training are
//   dbias = Σ dy,  dweight = Σ dy·x̂,  dx = weight·inv_std/M · (M·dy − dbias − x̂·dweight)
// (μ and σ² depend on x); in eval the statistics are constants and dx = weight·inv_std·dy.
// Left out: batch norm without tracked running stats in eval (PyTorch's
// track_running_stats=False uses batch statistics there), the cumulative-average momentum.
#include <cmath>

#include "core/ops/common.h"
#include "core/precision.h"
#include "core/random.h"

namespace margin {
using namespace ops;

namespace {

View absent_view() { return View{}; }
View view_or_absent(const Tensor& t) { return t.defined() ? t.view() : absent_view(); }

// The input as the backward keeps it when one is recorded: in bfloat16 under a bf16 autocast
// scope (precision.h; the backward kernels read it widened), written by the forward kernel in
// the pass that reads x (its `kept` view, backend.h); else the input itself.
Tensor kept_for_backward(const Tensor& input, bool recorded) {
  if (!recorded) return Tensor();
  const DType dtype = saved_activation_dtype(input.dtype());
  return dtype == input.dtype() ? input : Tensor::empty(input.shape(), dtype, input.device());
}
// The forward kernel's `kept` view: absent when nothing is kept or the input is kept itself.
View kept_view(const Tensor& kept, const Tensor& input) {
  return kept.defined() && kept.dtype() != input.dtype() ? kept.view() : absent_view();
}

// A per-channel tensor of x: [C], x's dtype and device, contiguous (kernels index it as a
// plain array, and running statistics are updated through it in place).
void check_per_channel(const char* op, const char* role, const Tensor& t, const Tensor& x,
                       int64_t channels) {
  if (!t.defined()) return;
  check_pair(op, x, t);
  if (t.shape() != Shape{channels})
    fail(op, ": ", role, " ", t.describe(), " must be [", channels,
         "], one value per channel (dim 1) of x ", x.describe());
  if (!t.is_contiguous()) fail(op, ": ", role, " ", t.describe(), " must be contiguous");
}

void check_channels_input(const char* op, const Tensor& x) {
  check_floating(op, x);
  if (x.ndim() < 2)
    fail(op, ": expected x [N, C, ...] with channels at dim 1, got ", x.describe());
}

// Batch norm, followed by the PReLU of `slopes` and the add of `residual` where those are
// defined (one kernel each way: backend.h), under the name `op`.
Tensor normalize(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias,
                 const Tensor& slopes, const Tensor& residual, const Tensor& running_mean,
                 const Tensor& running_var, bool training, double momentum, double eps) {
  check_channels_input(op, x);
  int64_t channels = x.size(1);
  check_per_channel(op, "weight", weight, x, channels);
  check_per_channel(op, "bias", bias, x, channels);
  if (slopes.defined()) check_per_channel(op, "slopes", slopes, x, slopes.numel() == 1 ? 1 : channels);
  if (residual.defined()) {
    check_pair(op, x, residual);
    if (residual.shape() != x.shape())
      fail(op, ": residual ", residual.describe(), " must have x's shape, x ", x.describe());
  }
  check_per_channel(op, "running_mean", running_mean, x, channels);
  check_per_channel(op, "running_var", running_var, x, channels);
  if (running_mean.defined() != running_var.defined())
    fail(op, ": running_mean and running_var must both be given or both be undefined");
  if (!(eps > 0)) fail(op, ": eps must be > 0, got ", eps);
  if (!(momentum >= 0 && momentum <= 1)) fail(op, ": momentum must be in [0, 1], got ", momentum);
  int64_t per_channel = x.numel() / std::max<int64_t>(channels, 1);
  if (training && per_channel <= 1)
    fail(op, ": training needs more than one value per channel to estimate a variance, got x ",
         x.describe());
  if (!training && !running_mean.defined())
    fail(op, ": eval mode needs running_mean and running_var");

  Tensor input = contiguous_data(x);
  Tensor added = residual.defined() ? contiguous_data(residual) : Tensor();
  Tensor out = empty_like(input);
  Tensor saved_mean = Tensor::empty({channels}, x.dtype(), x.device());
  Tensor saved_inv_std = Tensor::empty({channels}, x.dtype(), x.device());
  bool need_x = x.requires_grad();
  bool need_weight = weight.defined() && weight.requires_grad();
  bool need_bias = bias.defined() && bias.requires_grad();
  bool need_slopes = slopes.defined() && slopes.requires_grad();
  bool need_residual = residual.defined() && residual.requires_grad();
  const bool recorded =
      grad_enabled() && (need_x || need_weight || need_bias || need_slopes || need_residual);
  Tensor saved_input = kept_for_backward(input, recorded);
  BatchNormParams params{eps, momentum};
  Backend& backend = backend_of(x);
  if (training) {
    backend.batch_norm_forward_train(params, input.view(), view_or_absent(weight),
                                     view_or_absent(bias), view_or_absent(slopes),
                                     view_or_absent(added), out.view(), saved_mean.view(),
                                     saved_inv_std.view(), view_or_absent(running_mean),
                                     view_or_absent(running_var), kept_view(saved_input, input));
  } else {
    backend.batch_norm_forward_eval(params, input.view(), view_or_absent(weight),
                                    view_or_absent(bias), view_or_absent(slopes),
                                    view_or_absent(added), running_mean.view(),
                                    running_var.view(), out.view(), saved_mean.view(),
                                    saved_inv_std.view());
    if (kept_view(saved_input, input).data) backend.copy(input.view(), saved_input.view());
  }
  if (!recorded) return out;
  Tensor saved_weight = weight.defined() ? weight.detach() : Tensor();
  // The bias recomputes the PReLU's input in the backward: only with slopes.
  Tensor saved_bias = slopes.defined() && bias.defined() ? bias.detach() : Tensor();
  Tensor saved_slopes = slopes.defined() ? slopes.detach() : Tensor();
  std::vector<Tensor> inputs{x, weight, bias};
  if (slopes.defined()) inputs.push_back(slopes);
  if (residual.defined()) inputs.push_back(residual);
  const bool with_residual = residual.defined();
  return record(out, op, inputs, [=](const Tensor& grad) {
    Tensor grad_out = contiguous_data(grad);
    Tensor grad_x = need_x ? empty_like(grad_out) : Tensor();
    Tensor grad_weight = need_weight ? empty_like(saved_mean) : Tensor();
    Tensor grad_bias = need_bias ? empty_like(saved_mean) : Tensor();
    Tensor grad_slopes = need_slopes ? empty_like(saved_slopes) : Tensor();
    backend_of(grad_out).batch_norm_backward(
        training, saved_input.view(), grad_out.view(), view_or_absent(saved_weight),
        view_or_absent(saved_bias), view_or_absent(saved_slopes), saved_mean.view(),
        saved_inv_std.view(), view_or_absent(grad_x), view_or_absent(grad_weight),
        view_or_absent(grad_bias), view_or_absent(grad_slopes));
    std::vector<Tensor> grads{grad_x, grad_weight, grad_bias};
    if (saved_slopes.defined()) grads.push_back(grad_slopes);
    if (with_residual) grads.push_back(need_residual ? grad : Tensor());  // d(u + r)/dr = 1
    return grads;
  });
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  double momentum, double eps) {
  return normalize("batch_norm", x, weight, bias, Tensor(), Tensor(), running_mean, running_var,
                   training, momentum, eps);
}

Tensor batch_norm_prelu(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        const Tensor& running_mean, const Tensor& running_var,
                        const Tensor& slopes, bool training, double momentum, double eps) {
  if (!slopes.defined()) fail("batch_norm_prelu: slopes is an undefined tensor");
  return normalize("batch_norm_prelu", x, weight, bias, slopes, Tensor(), running_mean,
                   running_var, training, momentum, eps);
}

Tensor batch_norm_add(const Tensor& x, const Tensor& weight, const Tensor& bias,
                      const Tensor& running_mean, const Tensor& running_var,
                      const Tensor& residual, bool training, double momentum, double eps) {
  if (!residual.defined()) fail("batch_norm_add: residual is an undefined tensor");
  return normalize("batch_norm_add", x, weight, bias, Tensor(), residual, running_mean,
                   running_var, training, momentum, eps);
}

// dx = dy where x > 0, else a·dy; da = Σ x·dy over x ≤ 0 (x = 0 contributes nothing).
Tensor prelu(const Tensor& x, const Tensor& weight) {
  const char* op = "prelu";
  check_channels_input(op, x);
  if (!weight.defined()) fail(op, ": weight is an undefined tensor");
  check_per_channel(op, "weight", weight, x, weight.numel() == 1 ? 1 : x.size(1));
  Tensor input = contiguous_data(x);
  Tensor slopes = contiguous_data(weight);
  Tensor out = empty_like(input);
  bool need_x = x.requires_grad(), need_weight = weight.requires_grad();
  const bool recorded = grad_enabled() && (need_x || need_weight);
  Tensor saved_input = kept_for_backward(input, recorded);
  backend_of(x).prelu(input.view(), slopes.view(), out.view(), kept_view(saved_input, input));
  if (!recorded) return out;
  return record(out, op, {x, weight}, [=](const Tensor& grad) {
    Tensor grad_out = contiguous_data(grad);
    Tensor grad_x = need_x ? empty_like(grad_out) : Tensor();
    Tensor grad_weight = need_weight ? empty_like(slopes) : Tensor();
    backend_of(grad_out).prelu_backward(saved_input.view(), slopes.view(), grad_out.view(),
                                        view_or_absent(grad_x), view_or_absent(grad_weight));
    return std::vector<Tensor>{grad_x, grad_weight};
  });
}

// y = x·mask with mask ∈ {0, 1/(1 − p)}, so E[y] = x; the same mask scales the gradient.
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  check_floating("dropout", x);
  if (!(p >= 0 && p <= 1)) fail("dropout: p must be in [0, 1], got ", p);
  if (!training || p == 0) return x;
  double keep_scale = p == 1 ? 0.0 : 1.0 / (1.0 - p);
  std::vector<double> mask_values(x.numel());
  for (double& m : mask_values) m = gen.uniform() < p ? 0.0 : keep_scale;
  Tensor mask = Tensor::from_vector(mask_values, x.shape(), x.dtype(), x.device());
  Tensor out = empty_like(x);
  backend_of(x).binary(BinaryOp::Mul, contiguous_data(x).view(), mask.view(), out.view());
  return record(out, "dropout", {x}, [mask](const Tensor& grad) {
    return std::vector<Tensor>{grad * mask};
  });
}

}  // namespace margin
