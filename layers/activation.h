// layers/activation.h — PReLU and Dropout as layers, as PyTorch's nn.PReLU / nn.Dropout.
//
// PReLU: y = x if x > 0 else a_c·x, one learned slope a_c per channel (dim 1), or one
// shared slope when built with channels = 1; a starts at `init` (PyTorch: 0.25).
// Dropout: in training y = x·mask/(1 − p), mask_i ~ Bernoulli(1 − p) from the Generator the
// layer was given (kept by reference: it must outlive the layer); in eval y = x.
// Left out: Dropout2d (whole channels), in-place variants.
#pragma once
#include "core/random.h"
#include "layers/module.h"

namespace margin {

class PReLU final : public Layer {
 public:
  explicit PReLU(int64_t channels = 1, double init = 0.25, DType dtype = DType::F32);
  std::string type_name() const override { return "PReLU"; }
  Tensor forward(const Tensor& x) override;
  std::string to_graph(GraphWriter& graph, const std::string& input) const override;
  Tensor weight;  // [channels]
};

class Dropout final : public Layer {
 public:
  Dropout(double p, Generator& gen);
  std::string type_name() const override { return "Dropout"; }
  Tensor forward(const Tensor& x) override;
  std::string to_graph(GraphWriter& graph, const std::string& input) const override;
  double p() const { return p_; }

 private:
  double p_;
  Generator& gen_;
};

}  // namespace margin
