// layers/norm.cpp — BatchNorm1d / BatchNorm2d: parameters, buffers, input checks; the math
// is core/ops/norm.cpp's batch_norm.
#include "layers/norm.h"

#include "core/ops.h"
#include "layers/activation.h"

namespace margin {

BatchNorm::BatchNorm(int64_t channels, BatchNormOptions options)
    : channels_(channels), options_(options) {
  if (channels <= 0) fail("BatchNorm: channels must be positive, got ", channels);
  if (!(options.eps > 0)) fail("BatchNorm: eps must be > 0, got ", options.eps);
  if (!(options.momentum >= 0 && options.momentum <= 1))
    fail("BatchNorm: momentum must be in [0, 1], got ", options.momentum);
  Device device = default_device();
  if (options.affine) {
    weight = register_parameter("weight", Tensor::ones({channels}, options.dtype, device));
    bias = register_parameter("bias", Tensor::zeros({channels}, options.dtype, device));
  }
  running_mean = register_buffer("running_mean", Tensor::zeros({channels}, options.dtype, device));
  running_var = register_buffer("running_var", Tensor::ones({channels}, options.dtype, device));
}

std::string BatchNorm::describe() const {
  return type_name() + "(" + std::to_string(channels_) + ")";
}

Tensor BatchNorm::forward(const Tensor& x) {
  check_input(x);
  return batch_norm(x, weight, bias, running_mean, running_var, training(), options_.momentum,
                    options_.eps);
}

Tensor BatchNorm::forward_prelu(const Tensor& x, PReLU& prelu) {
  if (layer_observer_set()) return prelu((*this)(x));
  check_input(x);
  return batch_norm_prelu(x, weight, bias, running_mean, running_var, prelu.weight, training(),
                          options_.momentum, options_.eps);
}

Tensor BatchNorm::forward_add(const Tensor& x, const Tensor& residual) {
  if (layer_observer_set()) return (*this)(x) + residual;
  check_input(x);
  return batch_norm_add(x, weight, bias, running_mean, running_var, residual, training(),
                        options_.momentum, options_.eps);
}

// Eval mode as ONNX BatchNormalization over the running statistics; it takes [N, C] as well as
// [N, C, …] (channels at dim 1). Without affine, weight 1 and bias 0.
std::string BatchNorm::to_graph(GraphWriter& graph, const std::string& input) const {
  Device device = running_mean.device();
  DType dtype = running_mean.dtype();
  std::string scale = graph.weight("weight", weight.defined() ? weight : Tensor::ones({channels_}, dtype, device));
  std::string shift = graph.weight("bias", bias.defined() ? bias : Tensor::zeros({channels_}, dtype, device));
  return graph.node("BatchNormalization",
                    {input, scale, shift, graph.weight("running_mean", running_mean),
                     graph.weight("running_var", running_var)},
                    {{"epsilon", static_cast<float>(options_.eps)}});
}

void BatchNorm1d::check_input(const Tensor& x) const {
  if (!x.defined()) fail(describe(), ": input is an undefined tensor");
  if ((x.ndim() != 2 && x.ndim() != 3) || x.size(1) != channels())
    fail(describe(), ": expected input [N, ", channels(), "] or [N, ", channels(),
         ", L], got ", x.describe());
}

void BatchNorm2d::check_input(const Tensor& x) const {
  if (!x.defined()) fail(describe(), ": input is an undefined tensor");
  if (x.ndim() != 4 || x.size(1) != channels())
    fail(describe(), ": expected input [N, ", channels(), ", H, W], got ", x.describe());
}

}  // namespace margin
