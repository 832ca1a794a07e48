// layers/linear.h — Linear: y = x Wᵀ + b, x [B, in] → y [B, out]; W [out, in], b [out].
// Initialized as PyTorch's nn.Linear (see layers/init.h).
#pragma once
#include "core/random.h"
#include "layers/module.h"

namespace margin {

class Linear final : public Layer {
 public:
  Linear(int64_t in_features, int64_t out_features, Generator& gen, bool bias = true,
         DType dtype = DType::F32);
  std::string type_name() const override { return "Linear"; }
  Tensor forward(const Tensor& x) override;
  int64_t flops(const Shape& input, const Shape& output) const override;
  std::string to_graph(GraphWriter& graph, const std::string& input) const override;
  Tensor weight, bias;  // bias undefined when built without one
};

// Elementwise activations as layers, for Sequential.
class ReLU final : public Layer {
 public:
  std::string type_name() const override { return "ReLU"; }
  Tensor forward(const Tensor& x) override;
  std::string to_graph(GraphWriter& graph, const std::string& input) const override;
};

class Tanh final : public Layer {
 public:
  std::string type_name() const override { return "Tanh"; }
  Tensor forward(const Tensor& x) override;
  std::string to_graph(GraphWriter& graph, const std::string& input) const override;
};

}  // namespace margin
