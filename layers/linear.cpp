// layers/linear.cpp — the affine layer and the plain activations.
#include "layers/linear.h"

#include "core/ops.h"
#include "layers/init.h"

namespace margin {

Linear::Linear(int64_t in_features, int64_t out_features, Generator& gen, bool with_bias,
               DType dtype) {
  if (in_features <= 0 || out_features <= 0)
    fail("Linear: sizes must be positive, got in=", in_features, " out=", out_features);
  weight = register_parameter(
      "weight", init::default_weight({out_features, in_features}, gen, dtype).to(default_device()));
  if (with_bias)
    bias = register_parameter(
        "bias", init::default_bias(out_features, in_features, gen, dtype).to(default_device()));
}

Tensor Linear::forward(const Tensor& x) {
  if (x.ndim() != 2 || x.size(1) != weight.size(1))
    fail("Linear: expected input [B, ", weight.size(1), "], got ", x.describe());
  Tensor y = matmul(x, weight, false, true);
  return bias.defined() ? y + bias : y;
}

// ONNX Gemm: y = x·Bᵀ + C with transB = 1 takes W [out, in] as it is.
std::string Linear::to_graph(GraphWriter& graph, const std::string& input) const {
  std::vector<std::string> inputs{input, graph.weight("weight", weight)};
  if (bias.defined()) inputs.push_back(graph.weight("bias", bias));
  return graph.node("Gemm", inputs, {{"transB", int64_t{1}}});
}

int64_t Linear::flops(const Shape&, const Shape& output) const {
  return shape_numel(output) * (2 * weight.size(1) + (bias.defined() ? 1 : 0));
}

Tensor ReLU::forward(const Tensor& x) { return relu(x); }
std::string ReLU::to_graph(GraphWriter& graph, const std::string& input) const { return graph.node("Relu", {input}); }
Tensor Tanh::forward(const Tensor& x) { return tanh(x); }
std::string Tanh::to_graph(GraphWriter& graph, const std::string& input) const { return graph.node("Tanh", {input}); }

}  // namespace margin
